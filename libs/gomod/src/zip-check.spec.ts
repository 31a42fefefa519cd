// checkModuleZip against the real x/mod: valid zips are made by
// zip.CreateFromDir (test/support/gotool) and must give dirhash.HashZip's h1;
// invalid ones are written byte by byte and must be refused, by us and, where
// x/mod has the rule, by gotool check-zip.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { gotool } from '../../../test/support/gotool';
import { GoModError } from './errors';
import { hashGoMod } from './h1-hash';
import { checkModuleZip, isCleanPath } from './zip-check';

let tmp: string;
let seq = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'zip-check-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tmpPath(suffix: string): string {
  return join(tmp, `${seq++}${suffix}`);
}

/** Writes a module tree; a string is a file, null a symlink to "go.mod". */
function writeTree(files: Record<string, string | Buffer | null>): string {
  const dir = tmpPath('-mod');
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    if (content === null) symlinkSync('go.mod', p);
    else writeFileSync(p, content);
  }
  return dir;
}

interface GoVerdict {
  valid: boolean;
  hash?: string;
  checkErr?: string;
  unzipErr?: string;
  hashErr?: string;
}

function goCheck(path: string, version: string, zip: string): GoVerdict {
  return JSON.parse(gotool(['check-zip', path, version, zip])) as GoVerdict;
}

async function rejection(p: Promise<unknown>): Promise<GoModError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof GoModError)) throw new Error(`expected a GoModError, got ${String(err)}`);
  return err;
}

// ---- a zip writer with every field under the test's control ----

interface RawEntry {
  name: string | Buffer;
  data?: Buffer;
  /** 0 store, 8 deflate (default), anything else is written as is. */
  method?: number;
  /** Uncompressed size written in both headers; defaults to the truth. */
  declaredSize?: number;
  /** CRC-32 written in both headers; defaults to the truth. */
  crc?: number;
  versionMadeBy?: number;
  externalAttrs?: number;
  flags?: number;
  /** The bytes stored, instead of data compressed by `method`. */
  body?: Buffer;
  /** Writes a data descriptor (and sets flag 0x8) carrying this CRC. */
  descriptorCrc?: number;
}

function rawZip(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 8;
    const body = e.body ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = e.crc ?? crc32(data);
    const size = e.declaredSize ?? data.length;
    const flags = (e.flags ?? 0x800) | (e.descriptorCrc !== undefined ? 0x8 : 0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const desc = Buffer.alloc(e.descriptorCrc !== undefined ? 16 : 0);
    if (desc.length) {
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(e.descriptorCrc! >>> 0, 4);
      desc.writeUInt32LE(body.length, 8);
      desc.writeUInt32LE(size, 12);
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(e.versionMadeBy ?? 20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(flags, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc >>> 0, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE((e.externalAttrs ?? 0) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    parts.push(local, name, body, desc);
    offset += local.length + name.length + body.length + desc.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}

function writeZip(entries: RawEntry[]): string {
  const file = tmpPath('.zip');
  writeFileSync(file, rawZip(entries));
  return file;
}

const M = 'example.com/m';
const V = 'v1.0.0';
const P = `${M}@${V}/`;
const goMod = Buffer.from(`module ${M}\n`);

// ---- valid zips made by zip.CreateFromDir ----

describe('zips made by the go command', () => {
  const random = createHash('sha512').update('seed').digest();
  const big = Buffer.concat(Array.from({ length: 20000 }, (_, i) => createHash('sha256').update(random).update(String(i)).digest()));
  const cases: Array<[string, string, string, Record<string, string | Buffer | null>]> = [
    [
      'a typical module with dropped files',
      M,
      V,
      {
        'go.mod': goMod,
        'LICENSE': 'MIT\n',
        'a.go': 'package m\n',
        'empty.txt': '',
        'sub/pkg/deep/x.go': 'package deep\n',
        'ünïcödé/日本語.go': 'package x\n',
        'a b/c!#$%&()+,-.=@[]^_{}~.txt': 'punctuation',
        'vendor/modules.txt': '# kept: not in a vendored package\n',
        'vendor/example.org/dep/dep.go': 'package dep // dropped\n',
        '.git/config': 'dropped',
        '.hg_archival.txt': 'dropped',
        'nested/go.mod': 'module example.com/m/nested\n',
        'nested/n.go': 'package nested // dropped with its module\n',
        'link.go': null,
        'big.bin': big,
        'zeros.bin': Buffer.alloc(3 << 20),
      },
    ],
    ['a module without go.mod', 'example.com/old', 'v2.1.0+incompatible', { 'old.go': 'package old\n' }],
    ['capitals in path and version', 'github.com/Azure/Thing', 'v1.2.3-RC.1', { 'go.mod': 'module github.com/Azure/Thing\n', 'X.go': 'package thing\n' }],
    ['only a go.mod', 'example.com/m/v2', 'v2.0.0', { 'go.mod': 'module example.com/m/v2\n' }],
  ];

  it.each(cases)('%s: same h1 as dirhash.HashZip', async (_label, path, version, tree) => {
    const dir = writeTree(tree);
    const zip = tmpPath('.zip');
    gotool(['create-zip', dir, path, version, zip]);
    const listed = JSON.parse(gotool(['check-dir', dir])) as { valid: string[] };

    const got = await checkModuleZip(zip, path, version);

    expect(got.h1).toBe(gotool(['hash-zip', zip]).trim());
    expect(got.files).toBe(listed.valid.length);
    expect(got.zipSize).toBe(readFileSync(zip).length);
    const modFile = tree['go.mod'];
    if (modFile === undefined || modFile === null) {
      expect(got.goMod).toBeNull();
    } else {
      expect(got.goMod).toEqual(Buffer.from(modFile));
      expect(hashGoMod(got.goMod!)).toBe(gotool(['hash-mod', join(dir, 'go.mod')]).trim());
    }
    const sizes = listed.valid.map((f) => readFileSync(join(dir, f)).length);
    expect(got.uncompressedSize).toBe(sizes.reduce((a, b) => a + b, 0));
  });
});

// ---- zips Go accepts that the go command does not write ----

describe('other valid zips', () => {
  const tolerated: Array<[string, RawEntry[]]> = [
    ['stored entries, no descriptor', [{ name: `${P}go.mod`, data: goMod, method: 0 }, { name: `${P}a.go`, data: Buffer.from('package m\n'), method: 0 }]],
    ['directory entries, the root one included', [{ name: P, method: 0 }, { name: `${P}sub/`, method: 0 }, { name: `${P}sub/a.go`, data: Buffer.from('package sub\n') }]],
    ['a descriptor with the right CRC', [{ name: `${P}a.go`, data: Buffer.from('package m\n'), descriptorCrc: crc32('package m\n') }]],
    ['CRC 0 and no descriptor: archive/zip does not check', [{ name: `${P}a.go`, data: Buffer.from('package m\n'), crc: 0 }]],
    ['a name without the UTF-8 flag', [{ name: `${P}ü.go`, data: Buffer.from('package m\n'), flags: 0 }]],
    ['no entries at all', []],
  ];

  it.each(tolerated)('%s', async (_label, entries) => {
    const zip = writeZip(entries);
    const go = goCheck(M, V, zip);
    expect(go).toMatchObject({ valid: true });
    await expect(checkModuleZip(zip, M, V)).resolves.toMatchObject({ h1: go.hash });
  });
});

// ---- invalid zips ----

const file = (name: string | Buffer, data = 'x', extra: Partial<RawEntry> = {}): RawEntry => ({ name, data: Buffer.from(data), ...extra });
const unixMode = (mode: number): Partial<RawEntry> => ({ versionMadeBy: (3 << 8) | 20, externalAttrs: mode << 16 });

describe('invalid zips', () => {
  // [label, entries, message pattern, does x/mod (CheckZip, Unzip, HashZip) refuse it too?]
  const invalid: Array<[string, RawEntry[], RegExp, boolean]> = [
    ['path traversal', [file(`${P}../x`)], /not clean|invalid path element/, true],
    ['traversal below a directory', [file(`${P}a/../../x`)], /not clean/, true],
    ['an absolute path', [file('/etc/passwd')], /outside the module prefix/, true],
    ['an absolute path after the prefix', [file(`${P}/etc/passwd`)], /malformed file path "\/etc\/passwd": empty path element/, true],
    ['a dot element', [file(`${P}./a.go`)], /not clean/, true],
    ['a backslash', [file(`${P}a\\..\\x`)], /malformed file path/, true],
    ['a Windows reserved name', [file(`${P}con.txt`)], /malformed file path/, true],
    ['invalid UTF-8', [file(Buffer.concat([Buffer.from(P), Buffer.from([0xff, 0x2e, 0x67, 0x6f])]))], /invalid UTF-8/, true],
    ['names equal under case folding', [file(`${P}README`), file(`${P}readme`)], /case-insensitive file name collision: "README" and "readme"/, true],
    ['directories equal under case folding', [file(`${P}Dir/a.go`), file(`${P}dir/b.go`)], /case-insensitive file name collision: "Dir" and "dir"/, true],
    ['a duplicate file', [file(`${P}a.go`), file(`${P}a.go`)], /multiple entries for file "a.go"/, true],
    ['a file that is also a directory', [file(`${P}a`), file(`${P}a/b.go`)], /both a file and a directory/, true],
    ['a file outside the prefix', [file(`${P}go.mod`), file(`example.com/other@${V}/x.go`)], /outside the module prefix/, true],
    ['another version', [file(`${M}@v1.0.1/go.mod`)], /outside the module prefix/, true],
    ['the prefix without its slash', [file(`${M}@${V}`)], /outside the module prefix/, true],
    ['a go.mod in a subdirectory', [file(`${P}go.mod`), file(`${P}sub/go.mod`)], /go.mod file not in module root directory/, true],
    ['GO.MOD at the root', [file(`${P}GO.MOD`)], /lowercase/, true],
    ['a declared size that is too small (zip bomb)', [file(`${P}bomb`, 'A'.repeat(1 << 20), { declaredSize: 1000 })], /declared size 1000 but inflates to more/, true],
    ['a stored entry longer than declared', [file(`${P}a`, 'hello', { method: 0, declaredSize: 3 })], /size mismatch for stored file/, true],
    ['a declared size that is too large', [file(`${P}a`, 'hello', { declaredSize: 10 })], /declared size 10 but inflates to only 5 bytes/, true],
    ['a wrong CRC-32', [file(`${P}a.go`, 'package m\n', { crc: 0x12345678 })], /"a.go": CRC-32 mismatch/, true],
    ['a wrong CRC-32 in header and descriptor', [file(`${P}a.go`, 'package m\n', { crc: 0x1234, descriptorCrc: 0x1234 })], /CRC-32 mismatch/, true],
    ['a descriptor CRC that disagrees', [file(`${P}a.go`, 'package m\n', { descriptorCrc: 0x1234 })], /data descriptor CRC-32/, true],
    ['corrupt deflate data', [file(`${P}a.go`, 'package m\n', { body: Buffer.from('not deflate') })], /"a.go": invalid/, true],
    ['truncated deflate data', [file(`${P}a.go`, 'package m\n', { body: deflateRawSync('package m\n').subarray(0, 4) })], /"a.go": unexpected end of file/, true],
    ['an unsupported compression method', [file(`${P}a.go`, 'x', { method: 12 })], /unsupported compression method 12/, true],
    // Go 1.19 hashes a directory's content; Go 1.20+ archive/zip refuses to
    // open a directory that declares any, so HashZip fails there.
    ['a directory entry with content', [file(`${P}d/`, 'data', { method: 0 })], /"d\/": directory entry has 4 bytes/, false],
    // x/mod documents "no symlinks or irregular files" but CheckZip/Unzip
    // never look at the mode; we refuse them.
    ['a symlink', [file(`${P}link`, 'go.mod', unixMode(0o120777))], /symbolic links are not allowed/, false],
    ['a FIFO', [file(`${P}fifo`, '', unixMode(0o010644))], /not a regular file/, false],
    // archive/zip ignores the flag (real encrypted data then fails its CRC);
    // yauzl will not read such entries.
    ['an encrypted entry', [file(`${P}a.go`, 'x', { flags: 0x801 })], /encrypted/, false],
  ];

  it.each(invalid)('%s', async (_label, entries, message, goRefuses) => {
    const zip = writeZip(entries);
    const err = await rejection(checkModuleZip(zip, M, V));
    expect(err.code).toBe('invalid-zip');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
    // Where we are stricter than x/mod, Go's acceptance is asserted too, so
    // the divergence stays deliberate and visible.
    expect(goCheck(M, V, zip).valid).toBe(!goRefuses);
  });

  it('refuses a case-encoded prefix', async () => {
    const path = 'github.com/Azure/Thing';
    const zip = writeZip([file(`github.com/!azure/!thing@${V}/go.mod`, `module ${path}\n`)]);
    const err = await rejection(checkModuleZip(zip, path, V));
    expect(err.message).toBe(`zip entry "github.com/!azure/!thing@v1.0.0/go.mod" is outside the module prefix "github.com/Azure/Thing@v1.0.0/"`);
    expect(goCheck(path, V, zip).valid).toBe(false);
  });

  it('refuses a truncated zip and a file that is no zip', async () => {
    const dir = writeTree({ 'go.mod': goMod, 'a.go': 'package m\n' });
    const good = tmpPath('.zip');
    gotool(['create-zip', dir, M, V, good]);
    const bytes = readFileSync(good);
    for (const cut of [bytes.subarray(0, bytes.length - 10), bytes.subarray(0, 100), Buffer.from('not a zip')]) {
      const zip = tmpPath('.zip');
      writeFileSync(zip, cut);
      expect((await rejection(checkModuleZip(zip, M, V))).code).toBe('invalid-zip');
      expect(goCheck(M, V, zip).valid).toBe(false);
    }
  });

  it('refuses a zip from zip.CreateFromDir with one CRC-32 patched', async () => {
    const dir = writeTree({ 'go.mod': goMod, 'a.go': 'package m\n' });
    const good = tmpPath('.zip');
    gotool(['create-zip', dir, M, V, good]);
    const bytes = readFileSync(good);
    // The last copy of the name is the central directory's; its CRC sits 30
    // bytes before the name. Go zips also carry the CRC in a data descriptor.
    const crcAt = bytes.lastIndexOf(Buffer.from(`${P}a.go`)) - 30;
    bytes.writeUInt32LE(bytes.readUInt32LE(crcAt) ^ 1, crcAt);
    const zip = tmpPath('.zip');
    writeFileSync(zip, bytes);
    const err = await rejection(checkModuleZip(zip, M, V));
    expect(err.message).toBe('zip entry "a.go": data descriptor CRC-32 does not match the central directory');
    expect(goCheck(M, V, zip).valid).toBe(false);
  });

  it('refuses a corrupt central directory', async () => {
    const zip = writeZip([file(`${P}go.mod`, goMod.toString()), file(`${P}a.go`)]);
    const bytes = readFileSync(zip);
    bytes.writeUInt32LE(0x02014b51, bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    writeFileSync(zip, bytes);
    expect((await rejection(checkModuleZip(zip, M, V))).message).toMatch(/^not a valid zip file: invalid central directory file header signature/);
    expect(goCheck(M, V, zip).valid).toBe(false);
  });

  it('refuses a go.mod over 16 MiB before inflating it', async () => {
    const zip = writeZip([file(`${P}go.mod`, `module ${M}\n`.padEnd((16 << 20) + 1, '\n'))]);
    const err = await rejection(checkModuleZip(zip, M, V));
    expect(err.code).toBe('too-large');
    expect(err.message).toMatch(/^go.mod file too large \(16777217 bytes/);
    expect(goCheck(M, V, zip).valid).toBe(false);
  });

  it('applies the size limits it is given', async () => {
    const zip = writeZip([file(`${P}go.mod`, goMod.toString()), file(`${P}LICENSE`, 'L'.repeat(100)), file(`${P}a`, 'a'.repeat(100))]);
    const limited = (opts: Parameters<typeof checkModuleZip>[3]): Promise<GoModError> => rejection(checkModuleZip(zip, M, V, opts));
    expect((await limited({ maxGoMod: 5 })).message).toMatch(/^go.mod file too large/);
    expect((await limited({ maxLicense: 99 })).message).toMatch(/^LICENSE file too large/);
    expect((await limited({ maxUncompressed: 150 })).message).toMatch(/^total uncompressed size/);
    expect((await limited({ maxZipSize: 100 })).message).toMatch(/^module zip file is too large/);
    for (const opts of [{ maxGoMod: 5 }, { maxUncompressed: 150 }, { maxZipSize: 100 }]) expect((await limited(opts)).code).toBe('too-large');
    await expect(checkModuleZip(zip, M, V, { maxLicense: 100, maxUncompressed: 100 + 100 + goMod.length })).resolves.toMatchObject({ files: 3 });
  });

  it('refuses a malformed module path or version before opening the file', async () => {
    await expect(checkModuleZip('/nonexistent.zip', M, 'v1.0')).rejects.toThrow(GoModError);
    await expect(checkModuleZip('/nonexistent.zip', 'example.com/m/v2', 'v1.0.0')).rejects.toThrow(GoModError);
  });

  it('closes the file whatever happens', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const bomb = writeZip([file(`${P}bomb`, 'A'.repeat(4 << 20), { declaredSize: 10 })]);
    const bad = writeZip([file(`${P}a`), file(`${P}A`)]);
    const garbage = tmpPath('.zip');
    writeFileSync(garbage, 'not a zip');
    const ok = writeZip([file(`${P}go.mod`, goMod.toString())]);
    const badDir = writeZip([file(`${P}go.mod`, goMod.toString())]);
    const b = readFileSync(badDir);
    b.writeUInt32LE(0, b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    writeFileSync(badDir, b);
    for (const zip of [bomb, bad, garbage, badDir]) await rejection(checkModuleZip(zip, M, V));
    await checkModuleZip(ok, M, V);
    expect(fds()).toBe(before);
  });
});

describe('isCleanPath (path.Clean(p) == p)', () => {
  it.each([
    ['a', true],
    ['a/b', true],
    ['../a', true],
    ['/', true],
    ['.', true],
    ['', false],
    ['a/', false],
    ['a//b', false],
    ['./a', false],
    ['a/./b', false],
    ['a/../b', false],
    ['/../a', false],
  ])('%j -> %s', (p, want) => expect(isCleanPath(p)).toBe(want));
});
