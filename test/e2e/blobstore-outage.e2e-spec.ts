// The blob store (S3 protocol, s3rver behind a TCP relay the test cuts)
// goes away: cached .info and .mod keep being answered from memory and
// PostgreSQL, zips answer 503 with Retry-After and a one-line reason, a fill
// stores nothing, /readyz names the storage check; when the store is back,
// everything works again without a restart.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { escapePath } from '@modgate/gomod';
import { httpCall } from '../support/http';
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { startUpstream, type Upstream } from '../support/upstream-server';

let tree: ModuleTree;
let upstream: Upstream;
let s3: S3TestServer;
let backends: SharedBackends;
let modgate: Modgate;
let relay: { port: number; cut(): Promise<void>; restore(): Promise<void>; stop(): Promise<void> };

/** A TCP relay on a fixed port that can be cut (refusing connections) and restored. */
async function startRelay(targetPort: number): Promise<typeof relay> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const target = connect(targetPort, '127.0.0.1');
        for (const s of [client, target]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(target).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = null;
    });
  await listen();
  return { port, cut: close, restore: listen, stop: close };
}

const url = (path: string, version: string, ext: string) => `${modgate.url}/${escapePath(path)}/@v/${version}.${ext}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  s3 = await startS3Server('modgate-outage');
  relay = await startRelay(Number(new URL(s3.endpoint).port));
  backends = await createBackends('blobstore_outage');
  modgate = await startModgate(backends, {
    MODGATE_UPSTREAMS: upstream.url,
    MODGATE_STORAGE: `s3://${s3.bucket}/mg`,
    S3_ENDPOINT: `http://127.0.0.1:${relay.port}`,
    S3_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  });
}, 120000);

afterAll(async () => {
  await modgate?.stop();
  await relay?.stop();
  await s3?.stop();
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

it('serves what it can, refuses zips with 503 and caches nothing while the store is away, and recovers', async () => {
  const cached = findVersion(tree, STD.lib, 'v1.2.0');
  const fresh = findVersion(tree, STD.lib, 'v1.1.0');
  // As the go command does: .info, .mod, then the zip.
  for (const ext of ['info', 'mod', 'zip']) expect((await httpCall(url(STD.lib, 'v1.2.0', ext))).status).toBe(200);

  await relay.cut();
  try {
    expect((await httpCall(url(STD.lib, 'v1.2.0', 'info'))).status).toBe(200);
    expect((await httpCall(url(STD.lib, 'v1.2.0', 'mod'))).text).toBe(readFileSync(cached.modFile, 'utf8'));
    for (const version of ['v1.2.0', 'v1.1.0']) {
      const zip = await httpCall(url(STD.lib, version, 'zip'));
      expect(zip.status).toBe(503);
      expect(zip.headers['retry-after']).toBeDefined();
      expect(zip.text).toMatch(/^unavailable: the blob store cannot be reached; retry shortly\n$/);
    }
    // The failed fill left no version behind.
    const [{ n }] = await (await backends.dataSource()).query(`SELECT count(*)::int AS n FROM module_versions WHERE version = 'v1.1.0'`);
    expect(n).toBe(0);
    const ready = await httpCall(`${modgate.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text).checks).toMatchObject({ database: 'ok' });
    expect(JSON.parse(ready.text).checks.storage).not.toBe('ok');
  } finally {
    await relay.restore();
  }

  const again = await httpCall(url(STD.lib, 'v1.2.0', 'zip'));
  expect(again.status).toBe(200);
  expect(sha(again.body)).toBe(sha(readFileSync(cached.zipFile)));
  const filled = await httpCall(url(STD.lib, 'v1.1.0', 'zip'));
  expect(filled.status).toBe(200);
  expect(sha(filled.body)).toBe(sha(readFileSync(fresh.zipFile)));
  expect((await httpCall(`${modgate.url}/readyz`)).status).toBe(200);
}, 120000);
