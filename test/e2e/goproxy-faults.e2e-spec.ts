// Upstream faults during a cache fill. One ModGate (strict mode, a short
// upstream timeout, one retry) in front of a local upstream; each case breaks
// one file of a version that is not cached yet, asks for it with fetch (and,
// for several faults, with the real go command), and checks that the client
// gets one printable line naming module@version and the reason, that nothing
// of the version is left behind (row, blobs, spool files), and that the same
// version is served byte for byte once the upstream recovers.
import { createHash } from 'node:crypto';
import { readFileSync, statSync, createReadStream } from 'node:fs';
import { escapePath, escapeVersion } from '@modgate/gomod';
import { makeGoEnv, type GoEnv } from '../support/go-env';
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { corruptBody, failWith, hang, startUpstream, truncateBody, type Fault, type Upstream } from '../support/upstream-server';

const TIMEOUT_MS = 1500;

let tree: ModuleTree;
let upstream: Upstream;
let backends: SharedBackends;
let modgate: Modgate;
const goEnvs: GoEnv[] = [];

type Ext = 'info' | 'mod' | 'zip';

/** The decoded upstream path of a file, as the Fault context and upstream.requests show it. */
const filePath = (path: string, version: string, ext: Ext): string => `/${escapePath(path)}/@v/${escapeVersion(version)}.${ext}`;
const modgateUrl = (path: string, version: string, ext: Ext): string => `${modgate.url}${filePath(path, version, ext)}`;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Serves `body` (with an honest length) instead of the requested file. */
function serveInstead(file: string, body: () => Buffer, contentType = 'application/octet-stream'): Fault {
  return (_req, res, ctx) => {
    if (ctx.path !== file) return false;
    const data = body();
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': data.length });
    res.end(data);
    return true;
  };
}

/** Serves another file of the tree (e.g. another module's zip) for the requested one. */
function serveOtherFile(file: string, other: string): Fault {
  return (_req, res, ctx) => {
    if (ctx.path !== file) return false;
    res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': statSync(other).size });
    createReadStream(other).pipe(res);
    return true;
  };
}

async function storedRows(path: string, version: string): Promise<number> {
  const ds = await backends.dataSource();
  const [{ n }] = await ds.query(
    'SELECT count(*)::int AS n FROM module_versions v JOIN modules m ON m.id = v.module_id WHERE m.path = $1 AND v.version = $2',
    [path, version],
  );
  return n;
}

async function blobKeysOf(path: string, version: string): Promise<string[]> {
  const prefix = `modules/${escapePath(path)}/@v/${escapeVersion(version)}/`;
  return (await backends.moduleBlobKeys()).filter((k) => k.startsWith(prefix));
}

/** A 502/504 with one text/plain line naming module@version and the reason; returns the line. */
async function expectCleanError(res: Response, status: number, path: string, version: string, reason: RegExp): Promise<string> {
  const body = await res.text();
  expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status, type: 'text/plain; charset=utf-8' });
  expect(body).toMatch(/^[^\n]+\n$/);
  expect(body.trimEnd()).not.toMatch(/[\u0000-\u001f\u007f]/);
  expect(body).toContain(`${path}@${version}`);
  expect(body).toMatch(reason);
  return body.trimEnd();
}

async function expectNothingLeft(path: string, version: string): Promise<void> {
  expect(await storedRows(path, version)).toBe(0);
  expect(await blobKeysOf(path, version)).toEqual([]);
  expect(backends.spoolFiles()).toEqual([]);
}

/** With the fault cleared, the version is filled and its zip (and the faulted file) served unchanged. */
async function expectServedAfterRecovery(path: string, version: string, ext: Ext): Promise<void> {
  upstream.setFault(null);
  const built = findVersion(tree, path, version);
  const zip = await fetch(modgateUrl(path, version, 'zip'));
  expect(zip.status).toBe(200);
  expect(sha256(Buffer.from(await zip.arrayBuffer()))).toBe(sha256(readFileSync(built.zipFile)));
  if (ext === 'mod') {
    const mod = await fetch(modgateUrl(path, version, 'mod'));
    expect(mod.status).toBe(200);
    expect(Buffer.from(await mod.arrayBuffer()).equals(readFileSync(built.modFile))).toBe(true);
  }
  if (ext === 'info') {
    const info = await fetch(modgateUrl(path, version, 'info'));
    expect(info.status).toBe(200);
    expect(JSON.parse(await info.text())).toMatchObject({ Version: version });
  }
  expect(await storedRows(path, version)).toBe(1);
  expect((await blobKeysOf(path, version)).map((k) => k.slice(k.lastIndexOf('.')))).toEqual(['.mod', '.zip']);
  expect(backends.spoolFiles()).toEqual([]);
}

beforeAll(async () => {
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  backends = await createBackends('faults');
  modgate = await startModgate(backends, {
    MODGATE_UPSTREAMS: upstream.url,
    MODGATE_NETWORK_MODE: 'strict',
    MODGATE_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
    MODGATE_UPSTREAM_RETRIES: '1',
  });
}, 180_000);

afterEach(() => upstream?.setFault(null));

afterAll(async () => {
  for (const e of goEnvs) e.cleanup();
  await modgate?.stop();
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

interface FaultCase {
  name: string;
  path: string;
  version: string;
  /** The file the fault breaks; the plain fetch asks for this file. */
  ext: Ext;
  fault: (file: string) => Fault;
  status: 502 | 504;
  reason: RegExp;
  /** Also run `go mod download` and check its `server response:` line. */
  viaGo: boolean;
  /** Upstream requests for the broken file per client request (retries included). */
  upstreamTries?: number;
}

const cases: FaultCase[] = [
  {
    name: 'a corrupt zip (one byte flipped, honest length)',
    path: STD.lib,
    version: 'v1.0.0',
    ext: 'zip',
    fault: (f) => corruptBody((p) => p === f),
    status: 502,
    reason: /upstream sent a bad module .*(CRC-32 mismatch|invalid|not a valid zip).*nothing was cached/,
    viaGo: true,
    upstreamTries: 1,
  },
  {
    name: "another module's zip",
    path: STD.lib,
    version: 'v1.1.0',
    ext: 'zip',
    fault: (f) => serveOtherFile(f, findVersion(tree, STD.thing, 'v1.0.0').zipFile),
    status: 502,
    reason: /github\.com\/Corp\/Thing@v1\.0\.0\/go\.mod" is outside the module prefix "example\.org\/lib@v1\.1\.0\/".*nothing was cached/,
    viaGo: true,
    upstreamTries: 1,
  },
  {
    name: 'upstream 500 (retried once, then given up)',
    path: STD.libV2,
    version: 'v2.0.0',
    ext: 'zip',
    fault: (f) => failWith((p) => p === f, 500, 'disk on fire\n'),
    status: 502,
    reason: /answered 500: disk on fire/,
    viaGo: true,
    upstreamTries: 2,
  },
  {
    name: 'an upstream that never answers (past the timeout)',
    path: STD.libV2,
    version: 'v2.1.0',
    ext: 'zip',
    fault: (f) => hang((p) => p === f),
    status: 504,
    reason: new RegExp(`did not answer within ${TIMEOUT_MS} ms`),
    viaGo: true,
    upstreamTries: 1,
  },
  {
    name: 'a connection closed mid-zip',
    path: STD.thing,
    version: 'v0.9.0',
    ext: 'zip',
    fault: (f) => truncateBody((p) => p === f),
    status: 502,
    reason: /connection to upstream .* broke mid-body.*nothing was cached/,
    viaGo: false,
  },
  {
    name: 'a .mod whose module line names another module',
    path: STD.old,
    version: 'v1.0.0',
    ext: 'mod',
    fault: (f) => serveInstead(f, () => Buffer.from('module example.com/impostor\n\ngo 1.19\n'), 'text/plain; charset=utf-8'),
    status: 502,
    reason: /declares module "example\.com\/impostor"/,
    viaGo: false,
    upstreamTries: 1,
  },
  {
    name: 'a .info naming another version',
    path: STD.greet,
    version: 'v1.0.0',
    ext: 'info',
    fault: (f) => serveInstead(f, () => Buffer.from('{"Version":"v1.1.0","Time":"2023-06-02T10:00:00Z"}'), 'application/json'),
    status: 502,
    reason: /names version v1\.1\.0/,
    viaGo: false,
    upstreamTries: 1,
  },
];

describe.each(cases)('$name', ({ path, version, ext, fault, status, reason, viaGo, upstreamTries }) => {
  const file = filePath(path, version, ext);
  const upstreamHits = (): number => upstream.requests.filter((r) => r.path === file).length;

  it(`answers ${status} with the reason, stores nothing, and recovers when the upstream does`, async () => {
    expect(await storedRows(path, version)).toBe(0);
    upstream.setFault(fault(file));

    const before = upstreamHits();
    const res = await fetch(modgateUrl(path, version, ext));
    const line = await expectCleanError(res, status, path, version, reason);
    if (upstreamTries !== undefined) expect(upstreamHits() - before).toBe(upstreamTries);
    await expectNothingLeft(path, version);

    if (viaGo) {
      const go = makeGoEnv({ goproxy: modgate.url });
      goEnvs.push(go);
      const r = await go.run(['mod', 'download', `${path}@${version}`], { allowFail: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${status} ${status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}`);
      expect(r.stderr).toContain(`server response: ${line}`);
      await expectNothingLeft(path, version);
    }

    await expectServedAfterRecovery(path, version, ext);
  });
});

describe('a transient upstream 503', () => {
  it('is retried once and the fill succeeds with exactly two upstream requests', async () => {
    const path = STD.legacy;
    const version = 'v1.0.0';
    const file = filePath(path, version, 'zip');
    let failed = false;
    upstream.setFault((_req, res, ctx) => {
      if (ctx.path !== file || failed) return false;
      failed = true;
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('busy, try again\n');
      return true;
    });
    const res = await fetch(modgateUrl(path, version, 'zip'));
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(sha256(body)).toBe(sha256(readFileSync(findVersion(tree, path, version).zipFile)));
    expect(upstream.requests.filter((r) => r.path === file).map((r) => r.status)).toEqual([503, 200]);
    expect(await storedRows(path, version)).toBe(1);
    expect(backends.spoolFiles()).toEqual([]);
  });
});
