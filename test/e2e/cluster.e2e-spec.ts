// MODGATE_WORKERS=2: a primary forks two workers sharing one port; both
// answer, a cached version fetched through one is served by the other, and
// SIGTERM stops the whole group cleanly.
import { execFileSync } from 'node:child_process';
import { createBackends, startModgate, adminBasicAuth, type SharedBackends } from '../support/modgate';
import { buildModuleTree, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { httpCall } from '../support/http';

let backends: SharedBackends;
let tree: ModuleTree;
let upstream: Upstream;

beforeAll(async () => {
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  backends = await createBackends('cluster');
});

afterAll(async () => {
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

function workerPids(primary: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary)]).toString();
  return out.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
}

it('serves from two workers and stops cleanly', async () => {
  const server = await startModgate(backends, { MODGATE_WORKERS: '2', MODGATE_UPSTREAMS: upstream.url });
  try {
    expect(workerPids(server.child.pid!)).toHaveLength(2);
    const url = `${server.url}/${STD.lib.replace(/^/, '')}/@v/v1.2.0.info`;
    // Many requests over fresh connections land on both workers; all agree.
    const bodies = await Promise.all(Array.from({ length: 20 }, () => httpCall(url, { headers: { authorization: adminBasicAuth(), connection: 'close' } })));
    expect(new Set(bodies.map((b) => `${b.status} ${b.text}`)).size).toBe(1);
    expect(bodies[0].status).toBe(200);
    // One fill across both workers, and only .info/.mod: the zip is not needed yet.
    expect(upstream.requests.filter((r) => r.path.endsWith('v1.2.0.info'))).toHaveLength(1);
    expect(upstream.requests.filter((r) => r.path.endsWith('v1.2.0.zip'))).toHaveLength(0);
  } finally {
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }
  expect(server.output()).toContain('"msg":"stopped"');
});
