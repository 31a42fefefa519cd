// h1 vectors come from the real dirhash (test/support/gotool), computed at
// test time over files written to a temporary directory.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gotool } from '../../../test/support/gotool';
import { GoModError } from './errors';
import { H1Builder, h1FromEntries, hashGoMod } from './h1-hash';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'h1-hash-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('hashGoMod', () => {
  const mods: Array<[string, Buffer]> = [
    ['minimal', Buffer.from('module example.com/m\n')],
    ['empty', Buffer.alloc(0)],
    ['no trailing newline', Buffer.from('module example.com/m\n\ngo 1.19')],
    ['CRLF and unicode comment', Buffer.from('// módulo\r\nmodule example.com/m\r\n\r\nrequire golang.org/x/mod v0.7.0\r\n')],
    ['not UTF-8', Buffer.from([0x6d, 0xff, 0xfe, 0x0a])],
  ];

  it.each(mods)('matches dirhash for a go.mod that is %s', (_label, mod) => {
    const file = join(tmp, `go.mod.${sha(mod)}`);
    writeFileSync(file, mod);
    const want = gotool(['hash-mod', file]).trim();
    expect(hashGoMod(mod)).toBe(want);
  });

  it('hashes a string as its UTF-8 bytes', () => {
    const mod = 'module example.com/π\n';
    expect(hashGoMod(mod)).toBe(hashGoMod(Buffer.from(mod, 'utf8')));
  });
});

describe('h1FromEntries', () => {
  it('matches dirhash.HashZip over a zip made by zip.Create, names sorted bytewise', () => {
    // U+FF71 sorts after U+1D400 in UTF-16 code units (0xFF71 > 0xD835) but
    // before it in UTF-8 bytes (EF < F0): Go sorts bytes.
    const files: Array<[string, string]> = [
      ['go.mod', 'module example.com/m\n'],
      ['ｱ.txt', 'halfwidth katakana'],
      ['𝐀.txt', 'mathematical bold A'],
      ['a/b.go', 'package a'],
      ['a.go', 'package m'],
      ['empty', ''],
    ];
    const args = files.map(([name, content], i) => {
      const src = join(tmp, `src${i}`);
      writeFileSync(src, content);
      return `${name}=${src}`;
    });
    const zip = join(tmp, 'sorted.zip');
    gotool(['create-zip-files', 'example.com/m', 'v1.0.0', zip, ...args]);
    const want = gotool(['hash-zip', zip]).trim();

    const entries = files.map(([name, content]) => ({ name: `example.com/m@v1.0.0/${name}`, sha256hex: sha(content) }));
    expect(h1FromEntries(entries)).toBe(want);
    expect(h1FromEntries([...entries].reverse())).toBe(want);
    const b = new H1Builder();
    for (const e of entries) b.add(e.name, e.sha256hex);
    expect(b.digest()).toBe(want);
  });

  it('hashes no entries as the SHA-256 of nothing', () => {
    expect(h1FromEntries([])).toBe(`h1:${createHash('sha256').digest('base64')}`);
  });

  it('rejects names with a newline, as dirhash does', () => {
    expect(() => h1FromEntries([{ name: 'a\nb', sha256hex: sha('') }])).toThrow(GoModError);
  });

  it('rejects names without a UTF-8 form', () => {
    expect(() => h1FromEntries([{ name: 'a\ud800', sha256hex: sha('') }])).toThrow(/not valid UTF-8/);
  });

  it('rejects a digest that is not lower-case hex SHA-256', () => {
    expect(() => h1FromEntries([{ name: 'a', sha256hex: sha('').toUpperCase() }])).toThrow(TypeError);
    expect(() => h1FromEntries([{ name: 'a', sha256hex: 'abc' }])).toThrow(TypeError);
  });
});
