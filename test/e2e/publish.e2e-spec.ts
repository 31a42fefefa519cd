// Publishing end to end, as teams do it: `modgate publish` (the real CLI
// process) uploads from a git working tree over TLS with the token from
// ~/.netrc; a consumer in another team builds against the versions with the
// plain go command; the h1: the CLI printed is what go.sum gets; a release
// that retracts an earlier one changes what `go get @latest` and
// `go list -m -u -retracted` say; a member of a team without rights on the
// path is refused on publish and on read with a reason the tool prints.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeGoEnv, readGoSum, type GoEnv } from '../support/go-env';
import { gotool } from '../support/gotool';
import { apiClient } from '../support/api';
import { httpCall } from '../support/http';
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { REPO_ROOT } from '../support/registry-process';
import { makeTestCA, type TestCA } from '../support/tls';
import { tempDir } from '../support/zips';

const ADMIN_TOKEN = 'mg_bootstrapadmin_' + 'P'.repeat(40);
const LEDGER = 'corp.example.com/payments/ledger';
const LEDGER2 = `${LEDGER}/v2`;
const CLI = join(REPO_ROOT, 'dist', 'apps', 'cli', 'src', 'main.js');

let ca: TestCA;
let backends: SharedBackends;
let modgate: Modgate;
let repo: string;
const goEnvs: GoEnv[] = [];
const tokens: Record<'alice' | 'carol' | 'bob', string> = { alice: '', carol: '', bob: '' };
/** h1: per version, as printed by the CLI. */
const printed: Record<string, string> = {};

const client = apiClient(() => modgate.url, ADMIN_TOKEN, () => ca.caFile);
const api = client.call;
const ok = client.ok;

function netrcFor(who: keyof typeof tokens): string {
  return `machine 127.0.0.1 login ${who} password ${tokens[who]}\n`;
}

function goEnv(who: keyof typeof tokens): GoEnv {
  const env = makeGoEnv({ goproxy: modgate.url, gosumdb: 'sum.golang.org', gonosumdb: 'corp.example.com', sslCertFile: ca.caFile, netrc: netrcFor(who) });
  goEnvs.push(env);
  return env;
}

/** Runs the real CLI process with HOME holding the user's .netrc and the test CA in NODE_EXTRA_CA_CERTS. */
function cli(args: string[], who: keyof typeof tokens, cwd = repo): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = tempDir(`home-${who}`);
  writeFileSync(join(home, '.netrc'), netrcFor(who), { mode: 0o600 });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: home, NODE_EXTRA_CA_CERTS: ca.caFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function write(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=ci@corp.example.com', '-c', 'user.name=CI', ...args], { cwd: repo, env: { ...process.env, GIT_COMMITTER_DATE: '2025-03-04T05:06:07Z', GIT_AUTHOR_DATE: '2025-03-04T05:06:07Z' } }).toString();
}

async function publishOk(args: string[], version: string): Promise<string> {
  const r = await cli(['publish', ...args, '--registry', modgate.url], 'alice');
  if (r.code !== 0) throw new Error(`modgate publish ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  const h1 = /^\s+(h1:\S+)$/m.exec(r.stdout)?.[1];
  expect(h1).toBeDefined();
  expect(r.stdout).toContain(`go get `);
  printed[version] = h1!;
  return r.stdout;
}

beforeAll(async () => {
  ca = makeTestCA(['127.0.0.1', 'localhost']);
  backends = await createBackends('publish');
  modgate = await startModgate(backends, {
    MODGATE_TLS_CERT: ca.certFile,
    MODGATE_TLS_KEY: ca.keyFile,
    MODGATE_PRIVATE: 'corp.example.com',
    MODGATE_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
    MODGATE_ANONYMOUS_READ: 'false',
  });
  const payments = await ok<{ id: string }>('POST', '/teams', { name: 'payments' });
  const checkout = await ok<{ id: string }>('POST', '/teams', { name: 'checkout' });
  const web = await ok<{ id: string }>('POST', '/teams', { name: 'web' });
  const users: Record<string, { id: string }> = {};
  for (const login of ['alice', 'carol', 'bob']) users[login] = await ok<{ id: string }>('POST', '/users', { login });
  await ok('PUT', `/teams/${payments.id}/members/${users.alice.id}`, { role: 'publisher' });
  await ok('PUT', `/teams/${checkout.id}/members/${users.carol.id}`, { role: 'reader' });
  await ok('PUT', `/teams/${web.id}/members/${users.bob.id}`, { role: 'publisher' });
  await ok('POST', '/access-rules', { pattern: 'corp.example.com/payments', teamId: payments.id, permission: 'publish' });
  await ok('POST', '/access-rules', { pattern: 'corp.example.com/payments', teamId: checkout.id, permission: 'read' });
  await ok('POST', '/access-rules', { pattern: 'corp.example.com/web', teamId: web.id, permission: 'publish' });
  for (const login of ['alice', 'carol', 'bob'] as const) {
    const scopes = login === 'carol' ? ['read'] : ['read', 'publish'];
    tokens[login] = (await ok<{ token: string }>('POST', '/tokens', { name: 'laptop', scopes, ownerId: users[login].id })).token;
  }

  // The ledger repository: a root module with packages, LICENSE, testdata,
  // vendor/ (left out but for modules.txt), a nested tools module (left
  // out), and the /v2 major version in its v2/ subdirectory.
  repo = tempDir('ledger-repo');
  write(repo, {
    'go.mod': `module ${LEDGER}\n\ngo 1.19\n`,
    'LICENSE': 'Copyright Corp. All rights reserved.\n',
    'ledger.go': 'package ledger\n\n// Version names the release.\nconst Version = "v1.0.0"\n',
    'entries/entries.go': 'package entries\n\n// Count is the number of entries.\nfunc Count() int { return 3 }\n',
    'entries/testdata/fixture.json': '{"entries": 3}\n',
    'vendor/modules.txt': '# example.com/dep v1.0.0\n',
    'vendor/example.com/dep/dep.go': 'package dep\n',
    'tools/go.mod': `module ${LEDGER}/tools\n\ngo 1.19\n`,
    'tools/tools.go': 'package tools\n',
    'v2/go.mod': `module ${LEDGER2}\n\ngo 1.19\n`,
    'v2/ledger.go': 'package ledger\n\n// Major is the major version.\nconst Major = 2\n',
  });
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'ledger v1.0.0');
  git('tag', 'v1.0.0');
}, 180000);

afterAll(async () => {
  for (const e of goEnvs) e.cleanup();
  await modgate?.stop();
  await backends?.cleanup();
  ca?.cleanup();
});

describe('a publisher of team payments publishes with modgate publish', () => {
  it('v1.0.0 from the tag at HEAD: the zip the go command would make, with the commit time', async () => {
    const out = await publishOk(['--git-tag'], 'v1.0.0');
    expect(out).toContain(`${LEDGER}@v1.0.0 (tag v1.0.0, committed 2025-03-04T05:06:07Z)`);
    expect(out).toMatch(/left out, as the go command does: .*tools \(directory is in another module\).*vendor\/example\.com\/dep\/dep\.go/);
    expect(out).toContain(`go get ${LEDGER}@v1.0.0`);
    // The same h1 as golang.org/x/mod's CreateFromDir over the same tree.
    const ref = join(tempDir('ref'), 'ref.zip');
    gotool(['create-zip', repo, LEDGER, 'v1.0.0', ref]);
    expect(printed['v1.0.0']).toBe(gotool(['hash-zip', ref]).trim());
    const info = await api<{ time: string; source: string }>('GET', `/modules/${LEDGER}/@v/v1.0.0`, undefined, tokens.carol);
    expect(info.json).toMatchObject({ time: '2025-03-04T05:06:07.000Z', source: 'alice', origin: 'published' });
  });

  it('v1.1.0 (tag), v1.2.0-rc.1 (--version) and the /v2 module from its subdirectory', async () => {
    write(repo, { 'entries/entries.go': 'package entries\n\n// Count is the number of entries.\nfunc Count() int { return 4 }\n' });
    git('commit', '-qam', 'four entries');
    git('tag', 'v1.1.0');
    await publishOk(['--git-tag'], 'v1.1.0');
    await publishOk(['.', '--version', 'v1.2.0-rc.1'], 'v1.2.0-rc.1');
    git('tag', 'v2.0.0');
    const out = await publishOk(['v2', '--git-tag'], 'v2.0.0');
    expect(out).toContain(`${LEDGER2}@v2.0.0 (tag v2.0.0`);
  });

  it('publishing the same version again is a no-op the CLI reports', async () => {
    const r = await cli(['publish', '--git-tag', '--registry', modgate.url], 'alice');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${LEDGER}@v1.1.0 was already published with exactly this content.`);
  });
});

describe('a consumer in team checkout builds against them with the go command', () => {
  let go: GoEnv;
  let app: string;

  beforeAll(() => {
    go = goEnv('carol');
    app = go.writeModule('app', 'example.net/app', {
      'main.go': `package main\n\nimport (\n\t"fmt"\n\n\t"${LEDGER}/entries"\n\tledger "${LEDGER2}"\n)\n\nfunc main() { fmt.Println(entries.Count(), ledger.Major) }\n`,
    });
  });

  it('go get of a subpackage and of /v2, then go build and run', async () => {
    await go.run(['get', `${LEDGER}/entries@v1.1.0`, `${LEDGER2}@v2.0.0`], { cwd: app });
    expect((await go.run(['build', './...'], { cwd: app })).code).toBe(0);
    expect((await go.run(['run', '.'], { cwd: app })).stdout.trim()).toBe('4 2');
    const sums = readGoSum(app);
    expect(sums).toContain(`${LEDGER} v1.1.0 ${printed['v1.1.0']}`);
    expect(sums).toContain(`${LEDGER2} v2.0.0 ${printed['v2.0.0']}`);
  });

  it('go mod download -json reports the h1: the CLI printed', async () => {
    for (const v of ['v1.0.0', 'v1.2.0-rc.1']) {
      const r = JSON.parse((await go.run(['mod', 'download', '-json', `${LEDGER}@${v}`])).stdout);
      expect(r.Sum).toBe(printed[v]);
      // What went into the zip: LICENSE, testdata and vendor/modules.txt; not .git, vendored code or the nested module.
      const files = execFileSync('find', ['.', '-type', 'f'], { cwd: r.Dir }).toString().split('\n').filter(Boolean).sort();
      expect(files).toEqual(['./LICENSE', './entries/entries.go', './entries/testdata/fixture.json', './go.mod', './ledger.go', './vendor/modules.txt']);
    }
  });

  it('v1.1.1 retracting v1.1.0: go list -m -u -retracted and go get @latest follow it', async () => {
    write(repo, {
      'go.mod': `// Deprecated: use ${LEDGER2}.\nmodule ${LEDGER}\n\ngo 1.19\n\nretract v1.1.0 // totals were wrong\n`,
      'entries/entries.go': 'package entries\n\n// Count is the number of entries.\nfunc Count() int { return 5 }\n',
    });
    git('commit', '-qam', 'retract v1.1.0');
    git('tag', 'v1.1.1');
    await publishOk(['--git-tag'], 'v1.1.1');

    const list = await go.run(['list', '-m', '-u', '-retracted', '-json', LEDGER], { cwd: app });
    const m = JSON.parse(list.stdout);
    expect(m.Version).toBe('v1.1.0');
    expect(m.Retracted).toEqual(['totals were wrong']);
    expect(m.Update?.Version).toBe('v1.1.1');
    expect(m.Deprecated).toBe(`use ${LEDGER2}.`);
    const versions = JSON.parse((await go.run(['list', '-m', '-retracted', '-versions', '-json', LEDGER], { cwd: app })).stdout).Versions;
    expect(versions).toEqual(['v1.0.0', 'v1.1.0', 'v1.1.1', 'v1.2.0-rc.1']);

    const get = await go.run(['get', `${LEDGER}@latest`], { cwd: app });
    expect(get.stderr).toMatch(/upgraded corp\.example\.com\/payments\/ledger v1\.1\.0 => v1\.1\.1/);
    expect(get.stderr).toContain(`module ${LEDGER} is deprecated: use ${LEDGER2}.`);
    expect((await go.run(['run', '.'], { cwd: app })).stdout.trim()).toBe('5 2');

    // The server's own @latest and the catalogue say the same.
    const latest = await httpCall(`${modgate.url}/${LEDGER}/@latest`, { headers: { authorization: `Bearer ${tokens.carol}` }, caFile: ca.caFile });
    expect(JSON.parse(latest.text).Version).toBe('v1.1.1');
    const mod = await api<{ latest: string; deprecated: string; teams: string[]; versions: Array<{ version: string; retracted: boolean; retraction: string | null; zipHash: string; source: string }> }>(
      'GET',
      `/modules/${LEDGER}`,
      undefined,
      tokens.carol,
    );
    expect(mod.json.latest).toBe('v1.1.1');
    expect(mod.json.deprecated).toBe(`use ${LEDGER2}.`);
    expect(mod.json.teams.sort()).toEqual(['checkout', 'payments']);
    expect(mod.json.versions.map((v) => [v.version, v.retracted, v.retraction])).toEqual([
      ['v1.2.0-rc.1', false, null],
      ['v1.1.1', false, null],
      ['v1.1.0', true, 'totals were wrong'],
      ['v1.0.0', false, null],
    ]);
    expect(mod.json.versions.find((v) => v.version === 'v1.0.0')).toMatchObject({ zipHash: printed['v1.0.0'], source: 'alice' });
    // The retracted version stays downloadable.
    const fresh = goEnv('carol');
    expect(JSON.parse((await fresh.run(['mod', 'download', '-json', `${LEDGER}@v1.1.0`])).stdout).Sum).toBe(printed['v1.1.0']);
  });

  it('the catalogue lists what the caller may read', async () => {
    const carol = await api<{ items: Array<{ module: string; owned: boolean; teams: string[] }> }>('GET', '/modules?kind=owned&team=payments', undefined, tokens.carol);
    expect(carol.json.items.map((i) => i.module)).toEqual([LEDGER, LEDGER2]);
    const bob = await api<{ items: unknown[] }>('GET', '/modules?prefix=corp.example.com/payments', undefined, tokens.bob);
    expect(bob.json.items).toEqual([]);
  });
});

describe('a member of team web has no rights on the payments path', () => {
  it('modgate publish is refused with the reason', async () => {
    write(repo, { 'ledger.go': 'package ledger\n\n// Version names the release.\nconst Version = "bob"\n' });
    const r = await cli(['publish', '.', '--version', 'v1.3.0', '--registry', modgate.url], 'bob');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^modgate: forbidden: bob may not publish corp\.example\.com\/payments\/ledger: .*\(ask a maintainer of the owning team for the publisher role\)\n$/);
    const v = await api('GET', `/modules/${LEDGER}/@v/v1.3.0`);
    expect(v.status).toBe(404);
  });

  it('the go command prints the 403 reason on read', async () => {
    const go = goEnv('bob');
    const r = await go.run(['mod', 'download', `${LEDGER}@v1.0.0`], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/403 Forbidden\s+server response: forbidden: bob may not read corp\.example\.com\/payments\/ledger: /);
  });

  it('a read-only token cannot publish even for a member with publish rights', async () => {
    const r = await cli(['publish', '.', '--version', 'v1.3.0', '--registry', modgate.url], 'carol');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs a token with the scope publish/);
  });

  it('no token appears in the server log', () => {
    const log = modgate.output();
    for (const t of [ADMIN_TOKEN, ...Object.values(tokens)]) expect(log).not.toContain(t.slice(-32));
    expect(readFileSync(join(repo, 'go.mod'), 'utf8')).toContain('retract');
  });
});
