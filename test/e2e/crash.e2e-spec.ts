// kill -9 in the middle of storing a version, and what the next process
// does with what was left. A cache fill of a ~40 MiB zip the upstream sends
// slowly, killed while it spools: no row, the spool file stays; aged past an
// hour (with a fake fs blob-store temp part beside it) the next process's
// start-up sweep removes both, says so in the log and in
// modgate_leftovers_removed_total, leaves young files alone, and the same
// zip then fills correctly. A publish killed mid-upload: nothing visible,
// the spool file swept, the same version publishes afterwards (201). On S3
// (s3rver behind a shim that lists and aborts multipart uploads, which
// s3rver cannot): a process killed in the middle of its multipart put of
// the zip leaves an incomplete upload that the next start aborts once it is
// an hour old, while a young one and one outside the ModGate prefix stay.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, ListObjectsV2Command, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { escapePath, escapeVersion } from '@modgate/gomod';
import { httpCall } from '../support/http';
import { adminBasicAuth, createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, type BuiltVersion, type ModuleTree } from '../support/module-tree';
import { putZip } from '../support/publish';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { startMultipartShim, type MultipartShim } from '../support/s3-multipart-shim';
import { startUpstream, type Fault, type Upstream } from '../support/upstream-server';

const BIG = 'example.com/crash/big';
const UPLOAD = 'corp.example.com/crash/upload';
const V = 'v1.0.0';
const MiB = 1 << 20;
const TWO_HOURS_AGO = new Date(Date.now() - 2 * 3600_000);

let tree: ModuleTree;
let big: BuiltVersion;
let upload: BuiltVersion;
let upstream: Upstream;
const servers: Modgate[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

/** Base64 of random bytes: text the zip's deflate can shrink only to ~3/4 (40 MiB of entropy stays ~40 MiB). */
const noise = (bytes: number): string => randomBytes(bytes).toString('base64');

beforeAll(async () => {
  tree = await buildModuleTree([
    { path: BIG, version: V, files: { 'big.go': 'package big\n\n// Size is what this module is about.\nconst Size = "large"\n', 'data/noise.txt': noise(40 * MiB) } },
    { path: UPLOAD, version: V, files: { 'upload.go': 'package upload\n\n// Name of the package.\nconst Name = "upload"\n', 'data/noise.txt': noise(16 * MiB) } },
  ]);
  big = findVersion(tree, BIG, V);
  upload = findVersion(tree, UPLOAD, V);
  upstream = await startUpstream(tree.dir);
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.stop('SIGKILL');
  await upstream?.stop();
  for (const c of cleanups.reverse()) await c();
  tree?.cleanup();
});

afterEach(() => upstream.setFault(null));

/** What a request whose server died answers: the error's code or message, never a status. */
const cutOff = (p: Promise<{ status: number }>): Promise<{ status: number } | string> => p.catch((err: NodeJS.ErrnoException) => err.code ?? err.message);

async function modgate(backends: SharedBackends, env: Record<string, string> = {}): Promise<Modgate> {
  const s = await startModgate(backends, { MODGATE_UPSTREAMS: upstream.url, MODGATE_PRIVATE: 'corp.example.com', MODGATE_NEGATIVE_CACHE_SECONDS: '0', ...env });
  servers.push(s);
  return s;
}

async function kill9(s: Modgate): Promise<void> {
  const { signal } = await s.stop('SIGKILL');
  expect(signal).toBe('SIGKILL');
}

async function waitFor<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Serves matching requests' file in 1 MiB chunks, one every delayMs; stops writing when the connection goes. */
function slowBody(match: RegExp, delayMs: number, sent: { bytes: number; done: boolean }): Fault {
  return (_req, res, ctx) => {
    if (!match.test(ctx.path) || ctx.file === null) return false;
    const data = readFileSync(ctx.file);
    res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': data.length });
    let closed = false;
    res.on('close', () => (closed = true));
    const next = (): void => {
      if (closed) return;
      const chunk = data.subarray(sent.bytes, sent.bytes + MiB);
      sent.bytes += chunk.length;
      if (sent.bytes >= data.length) {
        sent.done = true;
        res.end(chunk);
      } else res.write(chunk, () => setTimeout(next, delayMs));
    };
    next();
    return true;
  };
}

/** A stream of data in chunks, one every delayMs, until destroyed. */
function dripping(data: Buffer, chunk: number, delayMs: number): Readable & { sent(): number } {
  let offset = 0;
  let timer: NodeJS.Timeout | undefined;
  const r = new Readable({
    read() {
      timer = setTimeout(() => {
        const part = data.subarray(offset, offset + chunk);
        offset += part.length;
        this.push(part.length ? part : null);
      }, delayMs);
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
  return Object.assign(r, { sent: () => offset });
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const spoolPath = (b: SharedBackends, name: string): string => join(b.dataDir, 'tmp', name);
const age = (file: string): void => utimesSync(file, TWO_HOURS_AGO, TWO_HOURS_AGO);

async function rowsOf(b: SharedBackends, path: string): Promise<number> {
  const [{ n }] = await (await b.dataSource()).query('SELECT count(*)::int AS n FROM module_versions v JOIN modules m ON m.id = v.module_id WHERE m.path = $1', [path]);
  return n;
}

async function removedMetric(s: Modgate): Promise<Record<string, number>> {
  const text = (await httpCall(`${s.url}/metrics`)).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^modgate_leftovers_removed_total\{kind="([^"]+)"\} (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** The sweep's log line ("sweep: removed crash leftovers") as parsed JSON, once it is there. */
function sweepLog(s: Modgate): { removed: number; items: string[] } | null {
  const line = s.output().split('\n').find((l) => l.includes('"sweep: removed crash leftovers"'));
  return line ? (JSON.parse(line) as { removed: number; items: string[] }) : null;
}

/** GET of the zip as the go command would; 200 and the upstream's bytes. */
async function expectZipServed(s: Modgate, v: BuiltVersion, headers: Record<string, string> = {}): Promise<void> {
  const r = await httpCall(`${s.url}/${escapePath(v.path)}/@v/${escapeVersion(v.version)}.zip`, { headers });
  expect(r.status).toBe(200);
  const want = readFileSync(v.zipFile);
  expect(r.body.length).toBe(want.length);
  expect(sha256(r.body)).toBe(sha256(want));
  expect(String(r.headers.etag)).toContain(v.zipH1.slice(3)); // the stored h1: of exactly these bytes
}

describe('kill -9 on the fs store', () => {
  let backends: SharedBackends;

  beforeAll(async () => {
    backends = await createBackends('crash');
    cleanups.push(() => backends.cleanup());
  });

  it('during a large zip fill: no row, the spool file is left; the next start sweeps it (and an old blob temp part) once aged, and the zip fills correctly', async () => {
    const zipSize = statSync(big.zipFile).size;
    expect(zipSize).toBeGreaterThan(40 * MiB);
    const sent = { bytes: 0, done: false };
    upstream.setFault(slowBody(/\/@v\/v1\.0\.0\.zip$/, 100, sent)); // ~41 chunks: 4 s and more
    const first = await modgate(backends);
    const asked = cutOff(httpCall(`${first.url}/${escapePath(BIG)}/@v/${V}.zip`));

    // Mid-fill: the spool file exists and holds part of the zip.
    const [name] = await waitFor('the spool file to fill past 8 MiB', () => {
      const files = backends.spoolFiles();
      return files.length === 1 && statSync(spoolPath(backends, files[0])).size > 8 * MiB && files;
    });
    await kill9(first);
    expect(sent.done).toBe(false);
    expect(await asked).toMatch(/ECONNRESET|socket hang up/); // the connection went with the process

    expect(await backends.versionCount()).toBe(0);
    expect(await backends.moduleBlobKeys()).toEqual([]);
    expect(backends.spoolFiles()).toEqual([name]);
    const left = statSync(spoolPath(backends, name)).size;
    expect(left).toBeGreaterThan(8 * MiB);
    expect(left).toBeLessThan(zipSize);

    // Age it; beside it an old temp part of the fs blob store, and young files of both kinds.
    age(spoolPath(backends, name));
    const tmpParts = join(backends.blobDir, '.tmp');
    mkdirSync(tmpParts, { recursive: true });
    const oldPart = join(tmpParts, '7f0c6a1e-0000-4000-8000-00000000dead.part');
    writeFileSync(oldPart, randomBytes(4096));
    age(oldPart);
    const youngPart = join(tmpParts, '7f0c6a1e-0000-4000-8000-00000000beef.part');
    writeFileSync(youngPart, randomBytes(4096));
    const youngSpool = 'young-0000-4000-8000-000000000001.zip';
    writeFileSync(spoolPath(backends, youngSpool), randomBytes(4096));

    upstream.setFault(null);
    const second = await modgate(backends);
    const logged = await waitFor('the sweep log line', () => sweepLog(second), 10_000);
    expect(logged.removed).toBe(2);
    expect([...logged.items].sort()).toEqual([`.tmp/${oldPart.split('/').pop()}`, `spool ${name}`]);
    expect(backends.spoolFiles()).toEqual([youngSpool]);
    expect(() => statSync(oldPart)).toThrow(/ENOENT/);
    expect(statSync(youngPart).isFile()).toBe(true);
    expect(await removedMetric(second)).toEqual({ spool: 1, 'blob-tmp': 1 });

    await expectZipServed(second, big);
    expect(await rowsOf(backends, BIG)).toBe(1);
    expect((await backends.moduleBlobKeys()).length).toBe(2); // .mod and .zip of the one row
    expect(backends.spoolFiles()).toEqual([youngSpool]); // the fill removed its own spool file
  });

  it('during a publish: nothing visible after the restart, the spool file is swept once aged, and the same version publishes (201)', async () => {
    const server = await modgate(backends);
    const before = new Set(backends.spoolFiles());
    const data = readFileSync(upload.zipFile);
    const body = dripping(data, 256 << 10, 50); // ~64 chunks: 3 s and more
    const answer = cutOff(putZip(server.url, UPLOAD, V, body, { token: TEST_ADMIN_TOKEN, length: data.length }));

    const [name] = await waitFor('the upload spool file to pass 2 MiB', () => {
      const files = backends.spoolFiles().filter((f) => !before.has(f));
      return files.length === 1 && statSync(spoolPath(backends, files[0])).size > 2 * MiB && files;
    });
    await kill9(server);
    expect(body.sent()).toBeLessThan(data.length);
    body.destroy();
    expect(await answer).toMatch(/ECONNRESET|EPIPE|socket hang up|cut off/); // no answer: the server died mid-upload

    expect(await rowsOf(backends, UPLOAD)).toBe(0);
    expect((await backends.moduleBlobKeys()).filter((k) => k.startsWith(`modules/${escapePath(UPLOAD)}/`))).toEqual([]);
    age(spoolPath(backends, name));

    const next = await modgate(backends);
    const logged = await waitFor('the sweep log line', () => sweepLog(next), 10_000);
    expect(logged.items).toEqual([`spool ${name}`]);
    expect(backends.spoolFiles()).not.toContain(name);
    expect((await removedMetric(next)).spool).toBe(1);
    const info = `${next.url}/${escapePath(UPLOAD)}/@v/${V}.info`;
    const missing = await httpCall(info, { headers: { authorization: adminBasicAuth() } });
    expect(missing.status).toBe(404);

    const again = await putZip(next.url, UPLOAD, V, upload.zipFile, { token: TEST_ADMIN_TOKEN });
    expect(again.status).toBe(201);
    expect(again.json.zipHash).toBe(upload.zipH1);
    expect((await httpCall(info, { headers: { authorization: adminBasicAuth() } })).status).toBe(200);
    await expectZipServed(next, upload, { authorization: adminBasicAuth() });
    expect(await rowsOf(backends, UPLOAD)).toBe(1);
  });
});

describe('kill -9 on the S3 store', () => {
  const PREFIX = 'mg';
  let s3: S3TestServer;
  let shim: MultipartShim;
  let backends: SharedBackends;
  let client: S3Client;
  let env: Record<string, string>;

  beforeAll(async () => {
    s3 = await startS3Server('modgate-crash');
    cleanups.push(() => s3.stop());
    shim = await startMultipartShim(s3.endpoint);
    cleanups.push(() => shim.stop());
    backends = await createBackends('crash_s3');
    cleanups.push(() => backends.cleanup());
    client = new S3Client({ region: 'us-east-1', endpoint: shim.url, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    env = {
      MODGATE_STORAGE: `s3://${s3.bucket}/${PREFIX}`,
      S3_ENDPOINT: shim.url,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    };
  });

  async function objectKeys(): Promise<string[]> {
    const r = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${PREFIX}/modules/` }));
    return (r.Contents ?? []).map((o) => o.Key!).sort();
  }

  /** An incomplete multipart upload with one part, made directly (not by ModGate). */
  async function incompleteUpload(key: string): Promise<string> {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(64 << 10) }));
    return UploadId!;
  }

  it('during the multipart put of a zip: the incomplete upload is aborted by the next start once an hour old; young ones and ones outside the prefix stay', async () => {
    shim.holdParts(true);
    const first = await modgate(backends, env);
    const asked = cutOff(httpCall(`${first.url}/${escapePath(BIG)}/@v/${V}.zip`));
    await waitFor('ModGate to send a part of the zip', () => shim.heldParts() > 0);
    await kill9(first);
    shim.holdParts(false);
    expect(await asked).toMatch(/ECONNRESET|socket hang up/);

    expect(await backends.versionCount()).toBe(0);
    const crashed = shim.uploads();
    expect(crashed).toHaveLength(1);
    expect(crashed[0].key).toMatch(new RegExp(`^${PREFIX}/modules/${escapePath(BIG)}/@v/${V}/[0-9a-f-]+\\.zip$`));
    // The zip was spooled whole before the put began; that file is left too.
    const spool = backends.spoolFiles();
    expect(spool).toHaveLength(1);
    expect(statSync(spoolPath(backends, spool[0])).size).toBe(statSync(big.zipFile).size);

    shim.age(crashed[0].uploadId, TWO_HOURS_AGO);
    age(spoolPath(backends, spool[0]));
    const young = await incompleteUpload(`${PREFIX}/modules/example.com/young/@v/v1.0.0/x.zip`);
    const outside = await incompleteUpload('elsewhere/modules/example.com/other/@v/v1.0.0/x.zip');
    shim.age(outside, TWO_HOURS_AGO);
    const oldToo = await incompleteUpload(`${PREFIX}/modules/example.com/old/@v/v1.0.0/y.zip`);
    shim.age(oldToo, TWO_HOURS_AGO);

    const second = await modgate(backends, env);
    await waitFor('the sweep log line', () => sweepLog(second), 10_000);
    expect(shim.aborted.map((u) => u.uploadId).sort()).toEqual([crashed[0].uploadId, oldToo].sort());
    expect(shim.uploads().map((u) => u.uploadId).sort()).toEqual([young, outside].sort());
    expect(shim.listQueries.every((q) => q.includes(`prefix=${PREFIX}%2F`))).toBe(true);
    expect(shim.listQueries.length).toBeGreaterThan(1); // the listing was paged (SHIM_PAGE_SIZE) and every page read
    expect(await removedMetric(second)).toEqual({ spool: 1, multipart: 2 });
    expect(sweepLog(second)!.removed).toBe(3);
    expect(backends.spoolFiles()).toEqual([]);

    await expectZipServed(second, big);
    expect(await rowsOf(backends, BIG)).toBe(1);
    expect(shim.uploads().map((u) => u.uploadId).sort()).toEqual([young, outside].sort()); // ModGate's own put completed
    // The killed process had put the .mod blob (a whole object) before the zip.
    expect((await objectKeys()).filter((k) => k.endsWith('.mod'))).toHaveLength(2);
  });

  it('leaves no whole blob without a row: the .mod the killed process stored is removed too, once old enough', async () => {
    const [{ mod_key: modKey, zip_key: zipKey }] = await (await backends.dataSource()).query('SELECT mod_key, zip_key FROM module_versions');
    const before = (await objectKeys()).filter((k) => k !== `${PREFIX}/${modKey}` && k !== `${PREFIX}/${zipKey}`);
    expect(before.length).toBeGreaterThan(0); // the killed process's .mod: younger than the sweep's minimum age so far
    // S3 objects cannot be aged: let this start treat a few seconds as old.
    await new Promise((r) => setTimeout(r, 2000));
    const s = await modgate(backends, { ...env, MODGATE_SWEEP_MIN_AGE_SECONDS: '1' });
    await waitFor('the sweep log line', () => sweepLog(s), 10_000);
    expect(sweepLog(s)!.items.some((i) => i.includes('no version refers to it'))).toBe(true);
    const orphans = (await objectKeys()).filter((k) => k !== `${PREFIX}/${modKey}` && k !== `${PREFIX}/${zipKey}`);
    expect(orphans).toEqual([]);
  });

  it('on a bucket without a prefix, aborts only its own uploads, not another application\'s', async () => {
    const shared = await createBackends('crash_s3_root');
    cleanups.push(() => shared.cleanup());
    const ours = await incompleteUpload('modules/example.com/root/@v/v1.0.0/0b9e8c2a-0000-4000-8000-000000000001.zip');
    const theirs = await incompleteUpload('nightly-backups/db-2026-12-01.tar');
    shim.age(ours, TWO_HOURS_AGO);
    shim.age(theirs, TWO_HOURS_AGO);
    const abortedBefore = shim.aborted.length;
    const s = await modgate(shared, { ...env, MODGATE_STORAGE: `s3://${s3.bucket}` });
    await waitFor('the sweep log line', () => sweepLog(s), 10_000);
    expect(shim.aborted.slice(abortedBefore).map((u) => u.key)).toEqual(['modules/example.com/root/@v/v1.0.0/0b9e8c2a-0000-4000-8000-000000000001.zip']);
    expect(shim.uploads().map((u) => u.uploadId)).toContain(theirs);
  });
});
