// Abuse of the read path: a burst of requests for versions that do not
// exist (negative cache: one upstream request per version), a flood of
// uncached fills from one address (bounded, answered 429 with Retry-After,
// others still served), oversized request heads (431), and "not found"
// that must end the moment a version is published on another instance.
import { request } from 'node:http';
import { escapePath } from '@modgate/gomod';
import { httpCall } from '../support/http';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { putZip } from '../support/publish';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { moduleFiles, tempDir, writeZip } from '../support/zips';

let tree: ModuleTree;
let upstream: Upstream;
let backends: SharedBackends;
let a: Modgate;
let b: Modgate;

beforeAll(async () => {
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  backends = await createBackends('hardening');
  const env = { MODGATE_UPSTREAMS: upstream.url, MODGATE_PRIVATE: 'corp.example.com', MODGATE_FILLS_PER_CLIENT: '2', MODGATE_FILL_QUEUE_PER_CLIENT: '3', MODGATE_LOG_LEVEL: 'warn' };
  [a, b] = await Promise.all([startModgate(backends, env), startModgate(backends, env)]);
}, 120000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

/** A GET from a chosen loopback source address (127.0.0.x all reach a server on 127.0.0.1). */
function getFrom(url: string, localAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('negative cache', () => {
  it('2,000 requests for 500 unknown versions make at most one upstream request per version', async () => {
    const versions = Array.from({ length: 500 }, (_, i) => `v1.${100 + i}.0`);
    const before = upstream.requests.length;
    // From 200 client addresses (one address may start only a few fills at once).
    const answers = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => {
        const v = versions[i % versions.length];
        const server = i % 2 ? a : b;
        return getFrom(`${server.url}/${escapePath(STD.lib)}/@v/${v}.info`, `127.0.1.${1 + (i % 200)}`).then((r) => ({ v, ...r }));
      }),
    );
    expect(new Set(answers.map((r) => r.status))).toEqual(new Set([404]));
    expect(answers[0].text).toMatch(/^not found: /);
    const asked = upstream.requests.slice(before).filter((r) => r.path.endsWith('.info'));
    const perVersion = new Map<string, number>();
    for (const r of asked) perVersion.set(r.path, (perVersion.get(r.path) ?? 0) + 1);
    // Each version went to one of the two instances (500 is even): one request each.
    expect(Math.max(...perVersion.values())).toBe(1);
    expect(asked.length).toBeLessThanOrEqual(versions.length);

    // Asked again within the cache time: no upstream request and no database lookup at all.
    const again = upstream.requests.length;
    const r = await Promise.all(versions.map((v, i) => getFrom(`${(i % 2 ? a : b).url}/${escapePath(STD.lib)}/@v/${v}.info`, `127.0.2.${1 + (i % 200)}`)));
    expect(r.every((x) => x.status === 404)).toBe(true);
    expect(upstream.requests.length).toBe(again);
    let negative = 0;
    for (const s of [a, b]) negative += Number(/modgate_cache_lookups_total\{result="negative"\} (\d+)/.exec((await httpCall(`${s.url}/metrics`)).text)?.[1]);
    expect(negative).toBeGreaterThanOrEqual(500);
  }, 60000);

  it('an unknown module list is cached too; @latest and revision queries are not', async () => {
    const path = 'example.org/nosuchmodule';
    for (let i = 0; i < 3; i++) expect((await httpCall(`${a.url}/${path}/@v/list`)).status).toBe(404);
    const lists = upstream.requests.filter((r) => r.path === `/${path}/@v/list`);
    expect(lists).toHaveLength(1);
    for (let i = 0; i < 2; i++) await httpCall(`${a.url}/${path}/@latest`);
    expect(upstream.requests.filter((r) => r.path === `/${path}/@latest`)).toHaveLength(2);
    for (let i = 0; i < 2; i++) await httpCall(`${a.url}/${escapePath(STD.lib)}/@v/master.info`);
    expect(upstream.requests.filter((r) => r.path === `/${escapePath(STD.lib)}/@v/master.info`)).toHaveLength(2);
  });

  it('a version published on one instance is found at once on the other', async () => {
    const path = 'corp.example.com/team/fresh';
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    expect((await httpCall(`${a.url}/${path}/@v/v1.0.0.info`, { headers: auth })).status).toBe(404);
    expect((await httpCall(`${a.url}/${path}/@v/list`, { headers: auth })).status).toBe(404);
    const zip = await writeZip(`${tempDir('fresh')}/f.zip`, moduleFiles(path, 'v1.0.0'));
    expect((await putZip(b.url, path, 'v1.0.0', zip, { token: TEST_ADMIN_TOKEN })).status).toBe(201);
    const deadline = Date.now() + 3000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await httpCall(`${a.url}/${path}/@v/v1.0.0.info`, { headers: auth })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    expect((await httpCall(`${a.url}/${path}/@v/list`, { headers: auth })).text).toBe('v1.0.0\n');
  });
});

describe('request limits', () => {
  it('a flood of uncached fills from one address is bounded (429 + Retry-After); another address is still served', async () => {
    // Every fill of the flooding address hangs at the upstream for a while.
    upstream.setFault((req, res, ctx) => {
      if (!ctx.path.includes('-f100d0000000.')) return false;
      setTimeout(() => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }, 1500);
      return true;
    });
    try {
      const flood = Promise.all(
        Array.from({ length: 20 }, (_, i) => getFrom(`${a.url}/${escapePath(STD.lib)}/@v/v0.0.0-20240101${String(i).padStart(6, '0')}-f100d0000000.info`, '127.0.0.1')),
      );
      await new Promise((r) => setTimeout(r, 200));
      // Meanwhile: cached data and another client's fill are answered.
      const t0 = Date.now();
      expect((await getFrom(`${a.url}/healthz`, '127.0.0.2')).status).toBe(200);
      const other = await getFrom(`${a.url}/${escapePath(STD.lib)}/@v/v1.1.0.info`, '127.0.0.2');
      expect(other.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(1400);
      const answers = await flood;
      const refused = answers.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(20 - 2 - 3);
      expect(refused[0].headers['retry-after']).toBe('2');
      expect(refused[0].text).toMatch(/^too many uncached modules requested at once from 127\.0\.0\.1; retry shortly\n$/);
      expect(answers.filter((r) => r.status !== 429).every((r) => r.status === 404)).toBe(true);
    } finally {
      upstream.setFault(null);
    }
  });

  it('an oversized request head gets 431 and the server stays up', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const req = request(`${a.url}/${escapePath(STD.lib)}/@v/list`, { headers: { 'x-big': 'x'.repeat(32 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(r).toBe(431);
    const long = await httpCall(`${a.url}/${'a'.repeat(20000)}/@v/list`).catch(() => ({ status: 0 }));
    expect([0, 414, 431]).toContain(long.status);
    expect((await httpCall(`${a.url}/healthz`)).status).toBe(200);
  });
});
