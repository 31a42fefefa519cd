// A PostgreSQL outage under live builds. ModGate runs on an embedded
// PostgreSQL the test stops and starts, with anonymous reads and a local
// upstream. A real go build warms the cache; with PostgreSQL stopped, fresh
// go clients (each its own module cache) keep building the same program
// from memory, a version never fetched answers 503 with Retry-After and a
// one-line reason naming the database (which the go command prints), and
// /readyz says the database check fails. PostgreSQL back on the same port,
// the same ModGate process (no restart) fills misses again, is ready, its
// admin API answers and writes, and its version change feed listens again
// (a version stored by another instance ends a cached "not found" here).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { escapePath } from '@modgate/gomod';
import { freeLoopbackPort } from '../../apps/registry/src/database/embedded-postgres';
import { apiClient } from '../support/api';
import { backendsOnDatabase, startControlledPostgres, type ControlledPostgres } from '../support/embedded-pg';
import { makeGoEnv, readGoSum, type GoEnv } from '../support/go-env';
import { httpCall, type HttpReply } from '../support/http';
import { startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { tempDir } from '../support/zips';

const APP = 'example.com/outage/app';
const MAIN_GO = `package main\n\nimport (\n\t"fmt"\n\n\t"${STD.greet}"\n)\n\nfunc main() { fmt.Println(greet.Greeting("outage")) }\n`;
const GREETING = 'hello from example.org/lib v1.2.0, outage';
/** Fresh clients build while PostgreSQL is away, two at a time, at least this many and for at least OUTAGE_MS. */
const CLIENTS = 6;
/** Longer than the change feed's reconnect backoff cap (5 s) and the credential cache (2 s). */
const OUTAGE_MS = 15_000;

const pgDir = tempDir('outage-pg');
const dataDir = tempDir('outage');
const goCache = tempDir('outage-gocache');
let port: number;
let pg: ControlledPostgres | null = null;
let tree: ModuleTree;
let upstream: Upstream;
let backends: SharedBackends;
let modgate: Modgate;
const servers: Modgate[] = [];
const goEnvs: GoEnv[] = [];
/** go.mod and go.sum of the program after the warm-up build, as a checkout would have them. */
let checkout: { goMod: string; goSum: string };
let stopping = false;
let died: string | null = null;

beforeAll(async () => {
  port = await freeLoopbackPort();
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  pg = await startControlledPostgres(pgDir, port);
  backends = backendsOnDatabase(pg.url, dataDir);
  await backends.dataSource(); // migrations
  // A long negative cache: only the change feed can end a cached "not found" quickly.
  modgate = await startModgate(backends, { MODGATE_UPSTREAMS: upstream.url, MODGATE_NEGATIVE_CACHE_SECONDS: '600' });
  servers.push(modgate);
  modgate.child.once('exit', (code, signal) => {
    if (!stopping) died = `ModGate exited during the test (code ${code}, signal ${signal}); its last output:\n${modgate.output().split('\n').slice(-40).join('\n')}`;
  });
}, 120_000);

// The server must live through the outage; if it does not, say how it ended.
afterEach(() => {
  if (died) throw new Error(died);
});

afterAll(async () => {
  stopping = true;
  for (const s of servers) await s.stop('SIGKILL');
  await upstream?.stop();
  await backends?.cleanup();
  await pg?.stop();
  for (const e of goEnvs) e.cleanup();
  await rm(pgDir, { recursive: true, force: true });
  await rm(goCache, { recursive: true, force: true });
  tree?.cleanup();
});

/**
 * A go client with its own HOME, GOPATH and module cache. The build cache
 * is shared: it holds compiled packages only, so every client still
 * downloads each module through GOPROXY; sharing keeps compiling fast.
 */
function client(): GoEnv {
  const e = makeGoEnv({ goproxy: modgate.url, extra: { GOCACHE: goCache } });
  goEnvs.push(e);
  return e;
}

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const get = (path: string, headers: Record<string, string> = {}): Promise<HttpReply> => httpCall(`${modgate.url}${path}`, { headers });
const api = apiClient(() => modgate.url, TEST_ADMIN_TOKEN);

/** Connections of ModGate's version change feed (its LISTEN) to the database now. */
async function versionListeners(): Promise<number> {
  const [{ n }] = await (await backends.dataSource()).query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'modgate-versions'");
  return n;
}

/** Builds and runs the program in a fresh client from the checkout; returns the client. */
async function buildFresh(): Promise<GoEnv> {
  const e = client();
  const dir = e.writeModule('app', APP, { 'go.mod': checkout.goMod, 'go.sum': checkout.goSum, 'main.go': MAIN_GO });
  await e.run(['build', '-o', 'app', '.'], { cwd: dir });
  const { stdout } = await promisify(execFile)(join(dir, 'app'));
  expect(stdout.trim()).toBe(GREETING);
  expect(readGoSum(dir)).toEqual(checkout.goSum.split('\n').filter(Boolean));
  return e;
}

/** A 503 for PostgreSQL: Retry-After, one text/plain line that names the database. */
function expectDatabaseUnavailable(r: HttpReply): void {
  expect(r.status).toBe(503);
  expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
  expect(String(r.headers['content-type'])).toMatch(/^text\/plain/);
  expect(r.text.trimEnd().split('\n')).toHaveLength(1);
  expect(r.text).toMatch(/database/);
}

it('warm-up: a real go build through ModGate fills the cache', async () => {
  const e = client();
  const dir = e.writeModule('app', APP, { 'go.mod': `module ${APP}\n\ngo 1.19\n\nrequire ${STD.greet} v1.1.0\n`, 'main.go': MAIN_GO });
  await e.run(['build', '-o', 'app', '.'], { cwd: dir });
  checkout = { goMod: readFileSync(join(dir, 'go.mod'), 'utf8'), goSum: readFileSync(join(dir, 'go.sum'), 'utf8') };
  expect(readGoSum(dir)).toEqual(
    expect.arrayContaining([
      `${STD.greet} v1.1.0 ${findVersion(tree, STD.greet, 'v1.1.0').zipH1}`,
      `${STD.lib} v1.2.0 ${findVersion(tree, STD.lib, 'v1.2.0').zipH1}`,
    ]),
  );
  expect(await backends.versionCount()).toBe(2); // greet and lib, zips and all
});

describe('PostgreSQL stopped', () => {
  let upstreamBefore: number;

  beforeAll(async () => {
    const p = pg!;
    pg = null;
    await p.stop();
    upstreamBefore = upstream.requests.length;
  }, 60_000);

  it(`fresh go clients keep building the program from the cache for ${OUTAGE_MS / 1000} s`, async () => {
    const t0 = Date.now();
    let built = 0;
    while (built < CLIENTS || Date.now() - t0 < OUTAGE_MS) {
      const pair = await Promise.all([buildFresh(), buildFresh()]);
      for (const e of pair) expect(existsSync(join(e.modCache, 'cache', 'download', STD.greet, '@v', 'v1.1.0.zip'))).toBe(true);
      built += pair.length;
      for (const e of pair) e.cleanup(); // the disk, not the store, is what a long loop would fill
    }
    expect(upstream.requests.length).toBe(upstreamBefore); // all from ModGate's own store
  });

  it('a version never fetched answers 503 with Retry-After and a one-line reason naming the database', async () => {
    for (const ext of ['info', 'mod', 'zip']) expectDatabaseUnavailable(await get(`/${escapePath(STD.lib)}/@v/v1.0.0.${ext}`));
    // What the go command makes of it.
    const r = await client().run(['mod', 'download', `${STD.lib}@v1.0.0`], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/503 Service Unavailable/);
    expect(r.stderr).toMatch(/server response: unavailable: the registry database cannot be reached/);
  });

  // @v/list takes the stored versions from the in-memory index while the
  // database is away, so `go get <module>` without a version still works.
  it('`go get` of a cached module without a version (it reads @v/list) works from the cache', async () => {
    const e = client();
    const dir = e.writeModule('getter', 'example.com/outage/getter', { 'main.go': MAIN_GO });
    const r = await e.run(['get', STD.greet], { cwd: dir, allowFail: true });
    expect(r.stderr).not.toMatch(/503/);
    expect(r.code).toBe(0);
  });

  it('/readyz answers 503 naming the database check; the storage check passes', async () => {
    const r = await get('/readyz');
    expect(r.status).toBe(503);
    const { checks } = JSON.parse(r.text) as { checks: { database: string; storage: string } };
    expect(checks.storage).toBe('ok');
    expect(checks.database).not.toBe('ok');
    expect(checks.database.length).toBeGreaterThan(0);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('the admin API answers 503 with Retry-After instead of failing or hanging', async () => {
    const t0 = Date.now();
    const r = await httpCall(`${modgate.url}/api/v1/teams`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.status).toBe(503);
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('PostgreSQL back, same ModGate process', () => {
  beforeAll(async () => {
    pg = await startControlledPostgres(pgDir, port);
  }, 120_000);

  it('is ready again, fills misses and serves them to a fresh go client', async () => {
    await waitUntil('/readyz 200', async () => (await get('/readyz')).status === 200, 30_000);
    const info = await get(`/${escapePath(STD.lib)}/@v/v1.0.0.info`);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.text).Version).toBe('v1.0.0');
    const zip = await get(`/${escapePath(STD.lib)}/@v/v1.0.0.zip`);
    expect(zip.status).toBe(200);
    expect(zip.body.equals(readFileSync(findVersion(tree, STD.lib, 'v1.0.0').zipFile))).toBe(true);
    const r = await client().run(['mod', 'download', '-json', `${STD.thing}@v1.0.0`]);
    expect(JSON.parse(r.stdout).Sum).toBe(findVersion(tree, STD.thing, 'v1.0.0').zipH1);
    expect(await backends.versionCount()).toBe(4);
    await buildFresh();
  });

  it('the admin API reads and writes again (the pool recovered)', async () => {
    const created = await api.call('POST', '/teams', { name: 'after-outage' });
    expect(created.status).toBe(201);
    const teams = await api.ok<{ items: Array<{ name: string }> }>('GET', '/teams');
    expect(teams.items.map((t) => t.name)).toContain('after-outage');
  });

  it('listens for version changes again: a version stored by another instance ends a cached "not found" here', async () => {
    // The LISTEN comes back within the feed's reconnect backoff (at most 5 s).
    // A version stored before that is announced to nobody here: its "not
    // found" stays for the negative cache's lifetime (see the report).
    await waitUntil('the version change feed to listen again', async () => (await versionListeners()) === 1, 15_000);
    const lib = `/${escapePath(STD.lib)}/@v/v1.5.0.info`;
    expect((await get(lib)).status).toBe(404); // not upstream yet; remembered for 600 s
    expect((await get(lib)).status).toBe(404);
    await buildModuleTree([{ path: STD.lib, version: 'v1.5.0', files: { 'lib.go': 'package lib\n\nconst Version = "v1.5.0"\n' } }], tree.dir);
    const other = await startModgate(backends, { MODGATE_UPSTREAMS: upstream.url });
    servers.push(other);
    expect((await httpCall(`${other.url}${lib.replace('.info', '.zip')}`)).status).toBe(200);
    await waitUntil('the cached "not found" to end', async () => (await get(lib)).status === 200, 10_000);
  });
});
