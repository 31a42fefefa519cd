// The dependency-confusion guard, in every network mode: the upstream holds
// malicious copies of a module under MODGATE_PRIVATE (v1.0.0 with other
// content, and a tempting higher v1.99.9, also its @latest; its list names
// v9.9.9 as well, which no v1 path can have). ModGate must never ask the
// upstream about an owned path, must answer 404 until the version is
// published, and afterwards serve only what was published: the bytes over
// HTTPS and the h1: hash the real go command records, with none of the
// upstream's versions in sight. A public module through the same upstream
// shows the upstream is really reachable (strict, fallback) or really not
// asked (offline).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminNetrc, createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { gotool } from '../support/gotool';
import { makeGoEnv, type GoEnv } from '../support/go-env';
import { httpCall, type HttpReply } from '../support/http';
import { buildModuleTree, findVersion, STD, type ModuleTree } from '../support/module-tree';
import { putZip } from '../support/publish';
import { makeTestCA, type TestCA } from '../support/tls';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { moduleFiles, tempDir, writeZip } from '../support/zips';

const LEDGER = 'corp.example.com/payments/ledger';
const PUBLISHED_TIME = '2024-05-06T07:08:09Z';
/** The upstream's tempting higher version (v9.9.9 is not valid for a v1 path). */
const EVIL_HIGH = 'v1.99.9';
const EVIL = 'package ledger\n\n// Steal sends your secrets elsewhere.\nfunc Steal() string { return "pwned" }\n';

let ca: TestCA;
let tree: ModuleTree;
let dir: string;
let zipFile: string;
let zipH1: string;
let modH1: string;

beforeAll(async () => {
  ca = makeTestCA(['127.0.0.1', 'localhost']);
  tree = await buildModuleTree([
    { path: LEDGER, version: 'v1.0.0', time: '2023-01-01T00:00:00Z', files: { 'go.mod': `module ${LEDGER}\n\ngo 1.19\n// upstream copy\n`, 'ledger.go': EVIL } },
    { path: LEDGER, version: EVIL_HIGH, time: '2023-02-01T00:00:00Z', files: { 'go.mod': `module ${LEDGER}\n\ngo 1.19\n// upstream copy\n`, 'ledger.go': EVIL } },
    { path: STD.lib, version: 'v1.0.0', files: { 'lib.go': 'package lib\n' } },
  ]);
  // The upstream's own @latest points at the malicious version, too, and its
  // list adds a v9.9.9 (a module path without /v9 cannot have one).
  writeFileSync(join(tree.dir, LEDGER, '@latest'), JSON.stringify({ Version: EVIL_HIGH, Time: '2023-02-01T00:00:00Z' }));
  writeFileSync(join(tree.dir, LEDGER, '@v', 'list'), `v1.0.0\n${EVIL_HIGH}\nv9.9.9\n`);

  dir = tempDir('pubguard');
  const gomod = `module ${LEDGER}\n\ngo 1.19\n// published by the payments team\n`;
  zipFile = await writeZip(join(dir, 'ledger.zip'), moduleFiles(LEDGER, 'v1.0.0', { 'go.mod': gomod, 'entries/entries.go': 'package entries\n\n// N is the entry count.\nconst N = 3\n' }));
  zipH1 = gotool(['hash-zip', zipFile]).trim();
  writeFileSync(join(dir, 'go.mod'), gomod);
  modH1 = gotool(['hash-mod', join(dir, 'go.mod')]).trim();
  // The malicious copies really are different: otherwise the test proves nothing.
  expect(findVersion(tree, LEDGER, 'v1.0.0').zipH1).not.toBe(zipH1);
  expect(findVersion(tree, LEDGER, 'v1.0.0').modH1).not.toBe(modH1);
}, 120_000);

afterAll(() => {
  tree?.cleanup();
  ca?.cleanup();
});

describe.each(['strict', 'offline', 'fallback'] as const)('MODGATE_NETWORK_MODE=%s', (mode) => {
  let upstream: Upstream;
  let backends: SharedBackends;
  let modgate: Modgate;
  const goEnvs: GoEnv[] = [];

  beforeAll(async () => {
    upstream = await startUpstream(tree.dir);
    backends = await createBackends(`pubguard-${mode}`);
    modgate = await startModgate(backends, {
      MODGATE_TLS_CERT: ca.certFile,
      MODGATE_TLS_KEY: ca.keyFile,
      MODGATE_PRIVATE: 'corp.example.com',
      MODGATE_UPSTREAMS: upstream.url,
      MODGATE_NETWORK_MODE: mode,
    });
    expect(modgate.url.startsWith('https://')).toBe(true);
  }, 120_000);

  afterAll(async () => {
    for (const e of goEnvs) e.cleanup();
    await modgate?.stop();
    await upstream?.stop();
    await backends?.cleanup();
  });

  const get = (path: string): Promise<HttpReply> =>
    httpCall(`${modgate.url}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, caFile: ca.caFile });

  /** Every request the upstream saw for an owned path: must stay empty. */
  const ownedRequests = (): string[] => upstream.requests.filter((r) => /corp\.example\.com/i.test(`${r.path} ${r.rawPath}`)).map((r) => r.rawPath);

  const goEnv = (): GoEnv => {
    const env = makeGoEnv({ goproxy: modgate.url, gosumdb: 'off', gonosumdb: 'corp.example.com', sslCertFile: ca.caFile, netrc: adminNetrc(modgate.url) });
    goEnvs.push(env);
    return env;
  };

  it('before publishing: every read of the owned path is 404, and the upstream is never asked', async () => {
    const paths = [
      `/${LEDGER}/@v/list`,
      `/${LEDGER}/@latest`,
      ...['v1.0.0', EVIL_HIGH, 'v9.9.9'].flatMap((v) => ['info', 'mod', 'zip'].map((ext) => `/${LEDGER}/@v/${v}.${ext}`)),
      `/${LEDGER}/@v/master.info`,
    ];
    for (const p of paths) {
      const r = await get(p);
      expect({ path: p, status: r.status }).toEqual({ path: p, status: 404 });
      expect(r.text).toMatch(/^not found: corp\.example\.com\/payments\/ledger\S* (has not been published to this registry|.*unknown revision)|^not found: \S+@v9\.9\.9: invalid version: should be v0 or v1/);
      expect(r.text).not.toMatch(/pwned|upstream copy|"Version"/);
    }

    const go = goEnv();
    const r = await go.run(['mod', 'download', '-json', `${LEDGER}@v1.0.0`], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout).Error).toMatch(/404 Not Found\s+server response: not found: corp\.example\.com\/payments\/ledger@v1\.0\.0 has not been published to this registry/);

    expect(ownedRequests()).toEqual([]);
  });

  it('a public module through the same upstream shows it is really there (or, offline, really not asked)', async () => {
    const r = await get(`/${STD.lib}/@v/v1.0.0.zip`);
    if (mode === 'offline') {
      expect(r.status).toBe(404);
      expect(upstream.requests).toEqual([]);
    } else {
      expect(r.status).toBe(200);
      expect(r.body.equals(readFileSync(findVersion(tree, STD.lib, 'v1.0.0').zipFile))).toBe(true);
      expect(upstream.requests.some((q) => q.path === `/${STD.lib}/@v/v1.0.0.zip`)).toBe(true);
    }
  });

  it('after publishing v1.0.0: only the published bytes, no upstream version, no upstream request', async () => {
    const pub = await putZip(modgate.url, LEDGER, 'v1.0.0', zipFile, { token: TEST_ADMIN_TOKEN, caFile: ca.caFile, query: `time=${PUBLISHED_TIME}` });
    expect(pub.status).toBe(201);
    expect(pub.json).toMatchObject({ module: LEDGER, version: 'v1.0.0', zipHash: zipH1, modHash: modH1, origin: 'published', created: true });

    const info = await get(`/${LEDGER}/@v/v1.0.0.info`);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.text)).toEqual({ Version: 'v1.0.0', Time: PUBLISHED_TIME });

    const mod = await get(`/${LEDGER}/@v/v1.0.0.mod`);
    expect(mod.status).toBe(200);
    expect(mod.text).toBe(readFileSync(join(dir, 'go.mod'), 'utf8'));

    const zip = await get(`/${LEDGER}/@v/v1.0.0.zip`);
    expect(zip.status).toBe(200);
    expect(zip.body.equals(readFileSync(zipFile))).toBe(true);
    const served = join(dir, `served-${mode}.zip`);
    writeFileSync(served, zip.body);
    expect(gotool(['hash-zip', served]).trim()).toBe(zipH1);
    expect(zip.headers.etag).toBe(`"${zipH1}"`);

    const list = await get(`/${LEDGER}/@v/list`);
    expect({ status: list.status, text: list.text }).toEqual({ status: 200, text: 'v1.0.0\n' });

    const latest = await get(`/${LEDGER}/@latest`);
    expect(latest.status).toBe(200);
    expect(JSON.parse(latest.text)).toEqual({ Version: 'v1.0.0', Time: PUBLISHED_TIME });

    for (const v of [EVIL_HIGH, 'v9.9.9']) {
      for (const ext of ['info', 'mod', 'zip']) expect((await get(`/${LEDGER}/@v/${v}.${ext}`)).status).toBe(404);
    }

    expect(ownedRequests()).toEqual([]);
  });

  it('the go command downloads the published version, by version and as @latest, with its h1: hashes', async () => {
    const go = goEnv();
    const exact = JSON.parse((await go.run(['mod', 'download', '-json', `${LEDGER}@v1.0.0`])).stdout);
    expect({ Version: exact.Version, Sum: exact.Sum, GoModSum: exact.GoModSum, Error: exact.Error }).toEqual({ Version: 'v1.0.0', Sum: zipH1, GoModSum: modH1, Error: undefined });
    expect(readFileSync(join(exact.Dir, 'ledger.go'), 'utf8')).not.toContain('pwned');

    const latest = JSON.parse((await goEnv().run(['mod', 'download', '-json', `${LEDGER}@latest`])).stdout);
    expect({ Version: latest.Version, Sum: latest.Sum }).toEqual({ Version: 'v1.0.0', Sum: zipH1 });

    const high = await goEnv().run(['mod', 'download', '-json', `${LEDGER}@${EVIL_HIGH}`], { allowFail: true });
    expect(high.code).not.toBe(0);
    expect(JSON.parse(high.stdout).Error).toMatch(/404 Not Found\s+server response: not found: .* has not been published to this registry/);

    expect(ownedRequests()).toEqual([]);
  });
});
