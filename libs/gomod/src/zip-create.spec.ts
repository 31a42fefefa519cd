// createModuleZipFromDir against zip.CreateFromDir / zip.CheckDir run by
// test/support/gotool on the same trees, written to a temporary directory.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import { gotool, gotoolTry } from '../../../test/support/gotool';
import { GoModError } from './errors';
import { checkModuleZip } from './zip-check';
import { checkModuleFiles, createModuleZip, createModuleZipFromDir, listModuleDir } from './zip-create';
import { isVendoredPackage } from './zip-check';

let tmp: string;
let seq = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'zip-create-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tmpPath = (suffix: string): string => join(tmp, `${seq++}${suffix}`);

/** A string is a file; `{ link }` a symlink. */
function writeTree(files: Record<string, string | { link: string }>): string {
  const dir = tmpPath('-mod');
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof content === 'string') writeFileSync(p, content);
    else symlinkSync(content.link, p);
  }
  return dir;
}

async function zipNames(zip: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of (await yauzl.openPromise(zip)).eachEntry()) names.push(e.fileName);
  return names;
}

const M = 'example.com/m';
const V = 'v1.0.0';

const tree = {
  'go.mod': `module ${M}\n`,
  'LICENSE': 'MIT\n',
  'a.go': 'package m\n',
  'a/b.go': 'package a\n', // walked before "a.go"'s successors: names sort bytewise per directory
  'a-z.go': '',
  'ünï/日本.go': 'package x\n',
  'vendor/modules.txt': 'kept\n',
  'vendor/example.org/dep/d.go': 'omitted\n',
  'a/vendor/b.go': 'omitted by the kept isVendoredPackage bug\n',
  'abcdefghij/vendor/k.go': 'omitted as well\n',
  'sub/vendor': 'a file named vendor: kept\n',
  '.git/HEAD': 'omitted\n',
  'sub/.svn/x': 'omitted\n',
  '.hg_archival.txt': 'omitted at the root\n',
  'sub/.hg_archival.txt': 'kept below it\n',
  'nested/go.mod': 'module example.com/m/nested\n',
  'nested/n.go': 'omitted\n',
  'upper/GO.MOD': 'a nested module for checkFiles (EqualFold), not for the walk\n',
  'upper/u.go': 'omitted\n',
  'linked/go.mod': { link: '../go.mod' },
  'linked/l.go': 'omitted: a symlinked go.mod still marks a module\n',
  'link.go': { link: 'a.go' },
};

describe('createModuleZipFromDir', () => {
  it('keeps, omits and orders files as zip.CreateFromDir does, with the same h1', async () => {
    const dir = writeTree(tree);
    const goZip = tmpPath('.zip');
    gotool(['create-zip', dir, M, V, goZip]);
    const goDir = JSON.parse(gotool(['check-dir', dir])) as { valid: string[]; omitted: Array<{ path: string; err: string }> };

    const ours = tmpPath('.zip');
    const res = await createModuleZipFromDir(dir, M, V, ours);

    expect(await zipNames(ours)).toEqual(await zipNames(goZip));
    expect(res.omitted.map((o) => [o.path, o.reason])).toEqual(goDir.omitted.map((o) => [o.path, o.err]));
    const goHash = gotool(['hash-zip', goZip]).trim();
    expect(res.h1).toBe(goHash);
    expect(gotool(['hash-zip', ours]).trim()).toBe(goHash);
    expect(JSON.parse(gotool(['check-zip', M, V, ours]))).toMatchObject({ valid: true });
    await expect(checkModuleZip(ours, M, V)).resolves.toMatchObject({ h1: goHash, files: res.files, uncompressedSize: res.uncompressedSize });
  });

  it('lists the same valid files as zip.CheckDir', async () => {
    const dir = writeTree(tree);
    const { files } = await listModuleDir(dir);
    const checked = await checkModuleFiles(files);
    expect(checked.valid).toEqual((JSON.parse(gotool(['check-dir', dir])) as { valid: string[] }).valid);
    expect(checked.invalid).toEqual([]);
  });

  it.each([
    ['a Windows reserved name', { 'go.mod': `module ${M}\n`, 'sub/aux.go': '' }, /"aux" disallowed/],
    ['names equal under case folding', { 'a.go': '', 'A.go': '' }, /case-insensitive file name collision/],
    ['a go.mod with capitals at the root', { 'Go.Mod': '' }, /lowercase/],
    ['a bad character', { 'a:b.go': '' }, /malformed file path/],
  ])('refuses a tree with %s, as Go does, and writes nothing', async (_label, files, message) => {
    const dir = writeTree(files);
    const out = tmpPath('.zip');
    await expect(createModuleZipFromDir(dir, M, V, out)).rejects.toThrow(message);
    expect(existsSync(out)).toBe(false);
    expect(gotoolTry(['create-zip', dir, M, V, tmpPath('.zip')]).ok).toBe(false);
  });

  it('refuses a bad module path or version', async () => {
    const dir = writeTree({ 'a.go': '' });
    await expect(createModuleZipFromDir(dir, M, 'v1.0', tmpPath('.zip'))).rejects.toThrow(GoModError);
    await expect(createModuleZipFromDir(dir, 'example.com/m/v2', V, tmpPath('.zip'))).rejects.toThrow(GoModError);
  });
});

describe('createModuleZip', () => {
  const file = (path: string, content: string, size = Buffer.byteLength(content)) => ({
    path,
    lstat: () => Promise.resolve({ type: 'file' as const, size }),
    open: () => Readable.from([Buffer.from(content)]),
  });

  it('writes to a stream and skips what Create skips', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const res = await createModuleZip(
      [file('go.mod', `module ${M}\n`), file('vendor/x/y.go', ''), { ...file('l', ''), lstat: () => Promise.resolve({ type: 'symlink' as const, size: 0 }) }],
      M,
      V,
      sink,
    );
    expect(res.files).toBe(1);
    expect(res.omitted.map((o) => o.path)).toEqual(['vendor/x/y.go', 'l']);
    const zip = tmpPath('.zip');
    writeFileSync(zip, Buffer.concat(chunks));
    expect(gotool(['hash-zip', zip]).trim()).toBe(res.h1);
  });

  it('fails, removing the output, when a file is larger than its Lstat size', async () => {
    const out = tmpPath('.zip');
    await expect(createModuleZip([file('go.mod', `module ${M}\n`), file('grew.go', 'package m\n', 3)], M, V, out)).rejects.toThrow(
      'file "grew.go" is larger than declared size',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a tree over the total size limit before reading it', async () => {
    const huge = { ...file('big', ''), lstat: () => Promise.resolve({ type: 'file' as const, size: (500 << 20) + 1 }) };
    await expect(createModuleZip([huge], M, V, tmpPath('.zip'))).rejects.toMatchObject({ code: 'too-large' });
  });
});

describe('isVendoredPackage (with x/mod bug 31562 kept)', () => {
  it.each([
    ['vendor/modules.txt', false],
    ['vendor/a/b.go', true],
    ['vendor/a.go', false],
    ['x/vendor/y.go', true], // correct logic would say false
    ['x/vendor/y/z.go', true],
    ['xvendor/a/b', false],
    ['sub/vendor', false],
  ])('%s -> %s', (p, want) => expect(isVendoredPackage(p)).toBe(want));
});
