// One cache fill per module@version across processes: two ModGate processes
// share one database and one blob store, in front of an upstream whose zips
// arrive a second late (so every request lands while the fill is running).
// Fifty simultaneous requests for one uncached zip, alternating between the
// two servers, must cause one upstream fetch per file, store the version
// once, and all get the same bytes.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { startUpstream, type Fault, type Upstream } from '../support/upstream-server';

const ZIP_DELAY_MS = 1000;
const CLIENTS = 50;

let tree: ModuleTree;
let upstream: Upstream;
let backends: SharedBackends;
const servers: Modgate[] = [];

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every .zip is served normally, but only after a delay. */
const slowZips: Fault = (_req, res, ctx) => {
  if (!ctx.path.endsWith('.zip') || ctx.file === null) return false;
  const file = ctx.file;
  setTimeout(() => {
    res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  }, ZIP_DELAY_MS);
  return true;
};

beforeAll(async () => {
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  upstream.setFault(slowZips);
  backends = await createBackends('concurrency');
  const env = { MODGATE_UPSTREAMS: upstream.url, MODGATE_NETWORK_MODE: 'strict' };
  servers.push(await startModgate(backends, env));
  servers.push(await startModgate(backends, env));
}, 180_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

describe('two ModGate processes on one database and blob store', () => {
  it(`fill an uncached zip once for ${CLIENTS} simultaneous requests`, async () => {
    const path = STD.lib;
    const version = 'v1.2.0';
    const built = findVersion(tree, path, version);
    const want = sha256(readFileSync(built.zipFile));
    const file = (ext: string): string => `/example.org/lib/@v/${version}.${ext}`;
    expect(await backends.versionCount()).toBe(0);

    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const res = await fetch(`${servers[i % 2].url}${file('zip')}`);
        const body = Buffer.from(await res.arrayBuffer());
        return { server: i % 2, status: res.status, sha: sha256(body), text: res.status === 200 ? '' : body.toString('utf8') };
      }),
    );

    // Both servers answered, every answer is the upstream's zip, byte for byte.
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.sha))).toEqual(new Set([want]));
    expect(answers.filter((a) => a.server === 1)).toHaveLength(CLIENTS / 2);

    // One fetch per file across both processes.
    const fetched = (ext: string): number => upstream.requests.filter((r) => r.path === file(ext)).length;
    expect({ info: fetched('info'), mod: fetched('mod'), zip: fetched('zip') }).toEqual({ info: 1, mod: 1, zip: 1 });

    // Stored once: one row, one .mod and one .zip blob, no spool left.
    expect(await backends.versionCount()).toBe(1);
    const keys = await backends.moduleBlobKeys();
    expect(keys).toHaveLength(2);
    expect(keys.map((k) => k.slice(k.lastIndexOf('.'))).sort()).toEqual(['.mod', '.zip']);
    expect(backends.spoolFiles()).toEqual([]);
  });

  it('then both serve it from the store without asking the upstream again', async () => {
    const before = upstream.requests.length;
    const want = sha256(readFileSync(findVersion(tree, STD.lib, 'v1.2.0').zipFile));
    for (const s of servers) {
      const res = await fetch(`${s.url}/example.org/lib/@v/v1.2.0.zip`);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(want);
    }
    expect(upstream.requests.length).toBe(before);
  });
});
