// Identity on the GOPROXY routes with the real go command over real TLS:
// a throwaway CA, ModGate serving https, personal access tokens in .netrc
// and in the GOPROXY URL, per-team access rules, revocation that bites at
// once, and no token ever written to the log.
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { makeGoEnv, type GoEnv } from '../support/go-env';
import { makeTestCA, type TestCA } from '../support/tls';
import { seedVersions } from '../support/seed';
import { apiClient } from '../support/api';

const ADMIN_TOKEN = 'mg_bootstrapadmin_' + 'Q'.repeat(40);
const LEDGER = 'corp.example.com/payments/ledger';
const SITE = 'corp.example.com/web/site';

let ca: TestCA;
let tree: ModuleTree;
let privateTree: ModuleTree;
let upstream: Upstream;
let backends: SharedBackends;
let modgate: Modgate;
const goEnvs: GoEnv[] = [];
const secrets: string[] = [ADMIN_TOKEN];

const client = apiClient(() => modgate.url, ADMIN_TOKEN, () => ca.caFile);
const ok = client.ok;

function hostPort(): string {
  return new URL(modgate.url).host;
}

function goEnv(opts: { netrcToken?: string; login?: string; proxy?: string } = {}): GoEnv {
  const host = new URL(modgate.url).hostname;
  const env = makeGoEnv({
    goproxy: opts.proxy ?? modgate.url,
    gosumdb: 'off',
    gonosumdb: 'corp.example.com',
    sslCertFile: ca.caFile,
    netrc: opts.netrcToken ? `machine ${host} login ${opts.login ?? 'alice'} password ${opts.netrcToken}\n` : undefined,
  });
  goEnvs.push(env);
  return env;
}

let aliceToken = '';
let aliceTokenId = '';

beforeAll(async () => {
  ca = makeTestCA(['127.0.0.1', 'localhost']);
  tree = await buildModuleTree(standardUpstreamSpecs());
  privateTree = await buildModuleTree([
    { path: LEDGER, version: 'v1.0.0', files: { 'ledger.go': 'package ledger\n\n// Balance is zero.\nfunc Balance() int { return 0 }\n', 'entries/entries.go': 'package entries\n\n// N is the entry count.\nconst N = 3\n' } },
    { path: LEDGER, version: 'v1.1.0', files: { 'ledger.go': 'package ledger\n\n// Balance is one.\nfunc Balance() int { return 1 }\n', 'entries/entries.go': 'package entries\n\n// N is the entry count.\nconst N = 4\n' } },
    { path: SITE, version: 'v1.0.0', files: { 'site.go': 'package site\n' } },
  ]);
  upstream = await startUpstream(tree.dir);
  backends = await createBackends('goauth');
  await seedVersions(backends, privateTree.versions);
  modgate = await startModgate(backends, {
    MODGATE_TLS_CERT: ca.certFile,
    MODGATE_TLS_KEY: ca.keyFile,
    MODGATE_UPSTREAMS: upstream.url,
    MODGATE_PRIVATE: 'corp.example.com',
    MODGATE_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
    MODGATE_AUTH_CACHE_SECONDS: '30', // revocation must still bite at once
  });
  expect(modgate.url.startsWith('https://')).toBe(true);

  const payments = await ok<{ id: string }>('POST', '/teams', { name: 'payments' });
  const web = await ok<{ id: string }>('POST', '/teams', { name: 'web' });
  const alice = await ok<{ id: string }>('POST', '/users', { login: 'alice' });
  await ok('PUT', `/teams/${payments.id}/members/${alice.id}`, { role: 'reader' });
  await ok('POST', '/access-rules', { pattern: 'corp.example.com/payments', teamId: payments.id, permission: 'read' });
  await ok('POST', '/access-rules', { pattern: 'corp.example.com/web', teamId: web.id, permission: 'read' });
  const created = await ok<{ token: string; id: string }>('POST', '/tokens', { name: 'laptop', scopes: ['read'], ownerId: alice.id });
  aliceToken = created.token;
  aliceTokenId = created.id;
  secrets.push(aliceToken);
}, 180000);

afterAll(async () => {
  for (const e of goEnvs) e.cleanup();
  await modgate?.stop();
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
  privateTree?.cleanup();
  ca?.cleanup();
});

it('a team member downloads an allowed private module with a .netrc token over https', async () => {
  const go = goEnv({ netrcToken: aliceToken });
  const r = await go.run(['mod', 'download', '-json', `${LEDGER}@v1.0.0`]);
  expect(JSON.parse(r.stdout).Error).toBeUndefined();
});

it('go get of a package inside an allowed private module works (prefix probes get 404, not 403)', async () => {
  const go = goEnv({ netrcToken: aliceToken });
  const dir = go.writeModule('app', 'example.net/app', { 'main.go': `package main\n\nimport (\n\t"fmt"\n\n\t"${LEDGER}/entries"\n\t"${STD.lib}"\n)\n\nfunc main() { fmt.Println(entries.N, lib.Hello()) }\n` });
  const r = await go.run(['get', `${LEDGER}/entries`, STD.lib], { cwd: dir, allowFail: true });
  expect(r.stderr).not.toMatch(/403|401/);
  expect(r.code).toBe(0);
  expect((await go.run(['build', './...'], { cwd: dir })).code).toBe(0);
});

it("another team's module is refused with the 403 line in the go command's output", async () => {
  const go = goEnv({ netrcToken: aliceToken });
  const r = await go.run(['mod', 'download', `${SITE}@v1.0.0`], { allowFail: true });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/403 Forbidden\s+server response: forbidden: alice may not read corp\.example\.com\/web\/site/);
});

it('without credentials the go command shows the 401 line', async () => {
  const go = goEnv();
  const r = await go.run(['mod', 'download', `${LEDGER}@v1.0.0`], { allowFail: true });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/401 Unauthorized\s+server response: unauthorized: no credentials for .*\.netrc/);
});

it('a token in the GOPROXY URL works like .netrc', async () => {
  const go = goEnv({ proxy: `https://alice:${aliceToken}@${hostPort()}` });
  const r = await go.run(['mod', 'download', '-json', `${LEDGER}@v1.1.0`]);
  expect(JSON.parse(r.stdout).Version).toBe('v1.1.0');
});

it('a revoked token is refused at once', async () => {
  const go = goEnv({ netrcToken: aliceToken });
  expect((await go.run(['mod', 'download', `${LEDGER}@v1.0.0`])).code).toBe(0); // warm: cached principal
  await ok('DELETE', `/tokens/${aliceTokenId}`);
  const again = goEnv({ netrcToken: aliceToken });
  const r = await again.run(['mod', 'download', `${LEDGER}@v1.1.0`], { allowFail: true });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/401 Unauthorized\s+server response: unauthorized: /);
});

it('no token appears in the log of the whole run', () => {
  const log = modgate.output();
  expect(log.length).toBeGreaterThan(1000);
  for (const s of secrets) expect(log).not.toContain(s);
  // nor the secret half alone
  for (const s of secrets) expect(log).not.toContain(s.slice(-32));
});
