// The upload API refuses every bad upload completely: each case crafts a
// zip (or a request) that breaks one rule, PUTs it to a real ModGate
// process and checks the status, that the one-line message names the rule
// or the first offending file, and that nothing was stored: no blob, no
// version or module row, no spool file. Then the good cases: hashes equal
// to what golang.org/x/mod computes, idempotent re-upload, 409 for other
// bytes, delete with tombstone (410 on read, 409 on publish).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { gotool } from '../support/gotool';
import { httpCall } from '../support/http';
import { putZip, type PublishAnswer } from '../support/publish';
import { moduleFiles, tempDir, writeZip, writeZipPatched } from '../support/zips';

const MOD = 'corp.example.com/payments/ledger';
let backends: SharedBackends;
let modgate: Modgate;
let dir: string;
let n = 0;

beforeAll(async () => {
  backends = await createBackends('pubval');
  modgate = await startModgate(backends, { MODGATE_PRIVATE: 'corp.example.com,gopkg.in/corp' });
  dir = tempDir('pubval');
}, 120000);

afterAll(async () => {
  await modgate?.stop();
  await backends?.cleanup();
});

const file = (): string => join(dir, `z${n++}.zip`);
const put = (path: string, version: string, body: string | Buffer | Readable, query?: string, extra: Partial<Parameters<typeof putZip>[4]> = {}): Promise<PublishAnswer> =>
  putZip(modgate.url, path, version, body, { token: TEST_ADMIN_TOKEN, query, ...extra });

async function moduleRows(): Promise<number> {
  const [{ n: rows }] = await (await backends.dataSource()).query('SELECT count(*)::int AS n FROM modules');
  return rows;
}

/** Status, message (matched) and nothing stored anywhere. */
async function expectRefused(r: PublishAnswer, status: number, message: RegExp): Promise<void> {
  expect({ status: r.status, message: r.json.message }).toEqual({ status, message: expect.stringMatching(message) });
  expect(String(r.json.message)).not.toMatch(/\n/);
  expect(await backends.versionCount()).toBe(0);
  expect(await backends.moduleBlobKeys()).toEqual([]);
  expect(backends.spoolFiles()).toEqual([]);
  expect(await moduleRows()).toBe(0);
}

/** A zip with explicit control over entries: directories, modes. */
async function rawZip(entries: Array<{ name: string; data?: string | Buffer; dir?: boolean; mode?: number; store?: boolean }>): Promise<string> {
  const out = file();
  const zip = new ZipFile();
  for (const e of entries) {
    if (e.dir) zip.addEmptyDirectory(e.name, { mtime: new Date(0) });
    else zip.addBuffer(Buffer.from(e.data ?? ''), e.name, { mtime: new Date(0), mode: e.mode, compress: !e.store });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  writeFileSync(out, Buffer.concat(chunks));
  return out;
}

const p = (name: string, version = 'v1.0.0', path = MOD): string => `${path}@${version}/${name}`;

describe('refused before anything is stored', () => {
  it('a path that is not owned: 400 naming MODGATE_PRIVATE', async () => {
    const z = await writeZip(file(), moduleFiles('example.com/public/lib', 'v1.0.0'));
    await expectRefused(await put('example.com/public/lib', 'v1.0.0', z), 400, /not a private module path .*MODGATE_PRIVATE is corp\.example\.com,gopkg\.in\/corp/);
  });

  it('a non-canonical version', async () => {
    const z = await writeZip(file(), moduleFiles(MOD, 'v1.0.0'));
    await expectRefused(await put(MOD, 'v1.0', z), 400, /not a canonical version \(want "v1\.0\.0"\)/);
  });

  it('a build-metadata version', async () => {
    const z = await writeZip(file(), moduleFiles(MOD, 'v1.0.0'));
    await expectRefused(await put(MOD, 'v1.0.0+meta', z), 400, /not a canonical version/);
  });

  it('a pseudo-version without ?allowPseudo=true', async () => {
    const v = 'v0.0.0-20240101120000-abcdefabcdef';
    const z = await writeZip(file(), moduleFiles(MOD, v));
    await expectRefused(await put(MOD, v, z), 400, /is a pseudo-version; .*allowPseudo=true/);
  });

  it('v1 on a /v2 path, and v2 on a path without /v2', async () => {
    const z1 = await writeZip(file(), moduleFiles(`${MOD}/v2`, 'v1.0.0'));
    await expectRefused(await put(`${MOD}/v2`, 'v1.0.0', z1), 400, /should be v2, not v1/);
    const z2 = await writeZip(file(), moduleFiles(MOD, 'v2.0.0'));
    await expectRefused(await put(MOD, 'v2.0.0', z2), 400, /should be v0 or v1, not v2/);
  });

  it('gopkg.in major versions follow the .vN suffix', async () => {
    const z = await writeZip(file(), moduleFiles('gopkg.in/corp/yaml.v2', 'v3.0.0'));
    await expectRefused(await put('gopkg.in/corp/yaml.v2', 'v3.0.0', z), 400, /should be v2, not v3/);
  });

  it('+incompatible on a /vN path, below v2, and with a go.mod in the zip', async () => {
    const z1 = await writeZip(file(), { [p('a.go', 'v2.0.0+incompatible', `${MOD}/v2`)]: 'package a\n' });
    await expectRefused(await put(`${MOD}/v2`, 'v2.0.0+incompatible', z1), 400, /incompatible/);
    const z2 = await writeZip(file(), { [p('a.go', 'v1.0.0+incompatible')]: 'package a\n' });
    await expectRefused(await put(MOD, 'v1.0.0+incompatible', z2), 400, /incompatible/);
    const z3 = await writeZip(file(), moduleFiles(MOD, 'v2.0.0+incompatible'));
    await expectRefused(await put(MOD, 'v2.0.0+incompatible', z3), 400, /\+incompatible is only for versions without a go\.mod/);
  });

  it('a declared Content-Length over 500 MiB: 413 before reading the body', async () => {
    const body = new Readable({ read() {} }); // never sends a byte
    const r = await put(MOD, 'v1.0.0', body, undefined, { length: 600 << 20 });
    body.destroy();
    await expectRefused(r, 413, /limit is 524288000 bytes/);
  });

  it('a chunked upload that grows past 500 MiB: 413 while streaming, spool removed', async () => {
    const chunk = Buffer.alloc(1 << 20, 7);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent > 520) return this.push(null);
        sent++;
        this.push(chunk);
      },
    });
    const r = await put(MOD, 'v1.0.0', body, undefined, { length: null });
    await expectRefused(r, 413, /larger than 500 MiB/);
  });
});

describe('zip rules (golang.org/x/mod/zip), 422 naming the first offending file', () => {
  const cases: Array<[string, () => Promise<string>, RegExp, number?]> = [
    [
      'not a zip at all',
      async () => {
        const f = file();
        writeFileSync(f, 'hello, this is not a zip');
        return f;
      },
      /not a valid zip file/,
    ],
    ['a file outside the module@version/ prefix', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), 'stray.go': 'package x\n' }), /"stray\.go" is outside the module prefix/],
    ['the prefix of another version', () => writeZip(file(), moduleFiles(MOD, 'v1.0.1')), /outside the module prefix "corp\.example\.com\/payments\/ledger@v1\.0\.0\/"/],
    ['a case-encoded prefix (zips use the real path)', () => writeZip(file(), moduleFiles('corp.example.com/payments/!ledger', 'v1.0.0')), /outside the module prefix/],
    ['a path-traversal entry', () => writeZipPatched(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('@@/x.go')]: 'package x\n' }, '/@@/', '/../'), /not clean|malformed file path/],
    ['a file name with a forbidden character', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('a:b.go')]: 'package x\n' }), /malformed file path "a:b\.go"/],
    ['a Windows reserved name', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('aux.go')]: 'package x\n' }), /"aux\.go".*on Windows/],
    ['a case-fold collision', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('Readme.md')]: 'a', [p('README.md')]: 'b' }), /case-insensitive file name collision: "Readme\.md" and "README\.md"/],
    ['a duplicate entry', () => writeZipPatched(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('x1.go')]: 'package x\n', [p('x2.go')]: 'package x\n' }, 'x2.go', 'x1.go'), /multiple entries for file "x1\.go"/],
    ['a directory entry', () => rawZip([{ name: p('go.mod'), data: `module ${MOD}\n` }, { name: p('sub'), dir: true }]), /"sub\/": directory entries are not allowed/],
    ['a vendored package file', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('vendor/example.com/dep/dep.go')]: 'package dep\n' }), /"vendor\/example\.com\/dep\/dep\.go": file is in a vendor directory/],
    ['a nested go.mod (another module)', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('tools/go.mod')]: 'module x/tools\n' }), /"tools\/go\.mod": go\.mod file not in module root directory/],
    ['an upper-case GO.MOD', () => writeZip(file(), { [p('GO.MOD')]: `module ${MOD}\n` }), /"GO\.MOD": go\.mod files must have lowercase names/],
    ['a symbolic link', () => rawZip([{ name: p('go.mod'), data: `module ${MOD}\n` }, { name: p('link.go'), data: 'ledger.go', mode: 0o120777 }]), /"link\.go": symbolic links are not allowed/],
    ['a go.mod over 16 MiB', () => writeZip(file(), { [p('go.mod')]: `module ${MOD}\n//${'x'.repeat(16 << 20)}\n` }), /go\.mod file too large/, 413],
    ['a LICENSE over 16 MiB', () => writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('LICENSE')]: 'x'.repeat((16 << 20) + 1) }), /LICENSE file too large/, 413],
    [
      'more than 500 MiB of content (declared sizes)',
      async () => {
        const big = Buffer.alloc(260 << 20);
        return writeZip(file(), { ...moduleFiles(MOD, 'v1.0.0'), [p('a.bin')]: big, [p('b.bin')]: big });
      },
      /total uncompressed size of module contents too large/,
      413,
    ],
    [
      'a CRC-32 that does not match the content',
      async () => {
        // A stored (uncompressed) entry, one byte changed after the CRC was written.
        const z = await rawZip([{ name: p('go.mod'), data: `module ${MOD}\n` }, { name: p('data.txt'), data: 'original content here\n', store: true }]);
        const bytes = readFileSync(z);
        bytes[bytes.indexOf(Buffer.from('original content'))] = 'O'.charCodeAt(0);
        writeFileSync(z, bytes);
        return z;
      },
      /"data\.txt": CRC-32 mismatch/,
    ],
    ['a go.mod that does not parse', () => writeZip(file(), { [p('go.mod')]: `module ${MOD}\nrequire (\n` }), /go\.mod|syntax|unexpected/],
    ['a go.mod for another module', () => writeZip(file(), { [p('go.mod')]: 'module corp.example.com/payments/other\n' }), /declares module "corp\.example\.com\/payments\/other", expected "corp\.example\.com\/payments\/ledger"/],
  ];
  it.each(cases)('%s', async (_name, make, message, status = 422) => {
    await expectRefused(await put(MOD, 'v1.0.0', await make()), status, message);
  });
});

describe('accepted uploads', () => {
  afterEach(async () => {
    const ds = await backends.dataSource();
    await ds.query('TRUNCATE module_versions, version_tombstones, modules CASCADE');
    for (const k of await backends.moduleBlobKeys()) await backends.blobs().delete(k);
  });

  it('stores the version with the hashes golang.org/x/mod computes; same bytes again is 200, other bytes 409 naming both', async () => {
    const z = await writeZip(file(), moduleFiles(MOD, 'v1.0.0', { 'entries/entries.go': 'package entries\n' }));
    const h1 = gotool(['hash-zip', z]).trim();
    const first = await put(MOD, 'v1.0.0', z, 'time=2024-05-06T07:08:09Z');
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ module: MOD, version: 'v1.0.0', zipHash: h1, origin: 'published', source: 'admin', created: true, time: '2024-05-06T07:08:09.000Z' });
    const modFile = join(dir, 'ledger.mod');
    writeFileSync(modFile, `module ${MOD}\n\ngo 1.19\n`);
    expect(first.json.modHash).toBe(gotool(['hash-mod', modFile]).trim());

    const again = await put(MOD, 'v1.0.0', z);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ zipHash: h1, modHash: first.json.modHash, created: false });

    const other = await writeZip(file(), moduleFiles(MOD, 'v1.0.0', { 'extra.go': 'package ledger\n' }));
    const otherH1 = gotool(['hash-zip', other]).trim();
    const conflict = await put(MOD, 'v1.0.0', other);
    expect(conflict.status).toBe(409);
    expect(conflict.json.message).toContain(h1);
    expect(conflict.json.message).toContain(otherH1);
    expect(await backends.versionCount()).toBe(1);
    expect(await backends.moduleBlobKeys()).toHaveLength(2);
    expect(backends.spoolFiles()).toEqual([]);

    const info = await httpCall(`${modgate.url}/${MOD}/@v/v1.0.0.info`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(JSON.parse(info.text)).toEqual({ Version: 'v1.0.0', Time: '2024-05-06T07:08:09Z' });
  });

  it('plain and case-encoded module paths and versions name the same version; curl -T sends no content type', async () => {
    const path = 'corp.example.com/payments/Ledger';
    const z = await writeZip(file(), moduleFiles(path, 'v1.0.0-RC1'));
    const r = await putZip(modgate.url, path, 'v1.0.0-RC1', z, { token: TEST_ADMIN_TOKEN, contentType: null });
    expect(r.status).toBe(201);
    const plain = await httpCall(`${modgate.url}/api/v1/modules/${path}/@v/v1.0.0-RC1`, { method: 'PUT', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: readFileSync(z) });
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.text).created).toBe(false);
  });

  it('a zip without go.mod gets the go.mod the go command synthesises', async () => {
    const z = await writeZip(file(), { [p('old.go', 'v2.0.0+incompatible')]: 'package ledger\n' });
    expect((await put(MOD, 'v2.0.0+incompatible', z)).status).toBe(201);
    const mod = await httpCall(`${modgate.url}/${MOD}/@v/v2.0.0+incompatible.mod`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(mod.text).toBe(`module ${MOD}\n`);
  });

  it('a go.mod with newer directives (toolchain, godebug, tool, ignore, go 1.22.3) is accepted', async () => {
    const gomod = `module ${MOD}\n\ngo 1.22.3\n\ntoolchain go1.23.1\n\ngodebug default=go1.21\n\ntool example.com/tool\n\nignore ./node_modules\n`;
    const z = await writeZip(file(), { [p('go.mod')]: gomod, [p('l.go')]: 'package ledger\n' });
    expect((await put(MOD, 'v1.0.0', z)).status).toBe(201);
  });

  it('a pseudo-version with ?allowPseudo=true', async () => {
    const v = 'v0.0.0-20240101120000-abcdefabcdef';
    expect((await put(MOD, v, await writeZip(file(), moduleFiles(MOD, v)), 'allowPseudo=true')).status).toBe(201);
  });

  it('bad query parameters are 400', async () => {
    const z = await writeZip(file(), moduleFiles(MOD, 'v1.0.0'));
    expect((await put(MOD, 'v1.0.0', z, 'time=yesterday')).json.message).toMatch(/RFC 3339/);
    expect((await put(MOD, 'v1.0.0', z, 'bogus=1')).status).toBe(400);
    expect(await backends.versionCount()).toBe(0);
  });

  it('delete (admin): 410 with the reason on read, 409 on publish again, forever', async () => {
    const z = await writeZip(file(), moduleFiles(MOD, 'v1.0.0'));
    expect((await put(MOD, 'v1.0.0', z)).status).toBe(201);
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const del = await httpCall(`${modgate.url}/api/v1/modules/${MOD}/@v/v1.0.0?reason=${encodeURIComponent('shipped a secret')}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(200);
    expect(await backends.versionCount()).toBe(0);
    expect(await backends.moduleBlobKeys()).toEqual([]);
    for (const ext of ['info', 'mod', 'zip']) {
      const r = await httpCall(`${modgate.url}/${MOD}/@v/v1.0.0.${ext}`, { headers: auth });
      expect(r.status).toBe(410);
      expect(r.text).toMatch(/^gone: corp\.example\.com\/payments\/ledger@v1\.0\.0 was deleted from this registry on \d{4}-\d\d-\d\d by admin: shipped a secret\n$/);
    }
    const again = await put(MOD, 'v1.0.0', z);
    expect(again.status).toBe(409);
    expect(again.json.message).toMatch(/was deleted .* by admin \(shipped a secret\) and can never be published again/);
    expect(await backends.versionCount()).toBe(0);
    const twice = await httpCall(`${modgate.url}/api/v1/modules/${MOD}/@v/v1.0.0`, { method: 'DELETE', headers: auth });
    expect(twice.status).toBe(410);
  });
});
