// The GOPROXY read path with the real go command: a local upstream serving a
// module graph built by golang.org/x/mod, a local checksum database relayed
// by ModGate, private modules that never leave it, then the upstream gone and
// the build served from the cache in offline and fallback modes.
import { adminBasicAuth, adminNetrc, createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { makeTestCA, type TestCA } from '../support/tls';
import { buildModuleTree, findVersion, gosumLines, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { startSumdb, type Sumdb } from '../support/sumdb-server';
import { makeGoEnv, readGoSum, type GoEnv } from '../support/go-env';
import { seedVersions } from '../support/seed';
import { httpCall } from '../support/http';
import { readFileSync } from 'node:fs';

const PRIVATE = 'corp.example.com/platform/tools';

let tree: ModuleTree;
let privateTree: ModuleTree;
let upstream: Upstream;
let sumdb: Sumdb;
let backends: SharedBackends;
let modgate: Modgate;
let ca: TestCA;
const goEnvs: GoEnv[] = [];

// Private modules need credentials, which the go command sends only over
// https: ModGate serves TLS with a throwaway CA, the admin token is in .netrc.
function goEnv(proxy: string, extra: Partial<Parameters<typeof makeGoEnv>[0]> = {}): GoEnv {
  const env = makeGoEnv({ goproxy: proxy, gosumdb: sumdb.vkey, gonosumdb: 'corp.example.com', netrc: adminNetrc(proxy), sslCertFile: ca.caFile, ...extra });
  goEnvs.push(env);
  return env;
}

const program = {
  'main.go': `package main

import (
\t"fmt"

\t"${STD.greet}"
\tthing "${STD.thingParts}"
\tlegacy "${STD.legacy}"
\t"${PRIVATE}/strutil"
)

func main() {
\tfmt.Println(greet.Greeting("ci"), thing.Count(), legacy.Old(), strutil.Shout("ok"))
}
`,
};

const tls = () => ({ MODGATE_TLS_CERT: ca.certFile, MODGATE_TLS_KEY: ca.keyFile });

beforeAll(async () => {
  ca = makeTestCA(['127.0.0.1', 'localhost']);
  tree = await buildModuleTree(standardUpstreamSpecs());
  privateTree = await buildModuleTree([
    {
      path: PRIVATE,
      version: 'v1.4.0',
      files: {
        'go.mod': `module ${PRIVATE}\n\ngo 1.19\n`,
        'tools.go': 'package tools\n\n// Name is the module name.\nconst Name = "tools"\n',
        'strutil/strutil.go': 'package strutil\n\nimport "strings"\n\n// Shout upper-cases s.\nfunc Shout(s string) string { return strings.ToUpper(s) + "!" }\n',
      },
    },
  ]);
  upstream = await startUpstream(tree.dir);
  sumdb = await startSumdb(tree.dir);
  backends = await createBackends('goproxy');
  await seedVersions(backends, privateTree.versions);
  modgate = await startModgate(backends, {
    MODGATE_UPSTREAMS: upstream.url,
    MODGATE_SUMDBS: `${sumdb.name}=${sumdb.url}`,
    MODGATE_PRIVATE: 'corp.example.com',
    MODGATE_NETWORK_MODE: 'strict',
    ...tls(),
  });
}, 180000);

afterAll(async () => {
  for (const e of goEnvs) e.cleanup();
  await modgate?.stop();
  await upstream?.stop();
  await sumdb?.stop();
  await backends?.cleanup();
  tree?.cleanup();
  privateTree?.cleanup();
  ca?.cleanup();
});

describe('with the upstream up (strict mode)', () => {
  it('go mod download -json gives the hashes golang.org/x/mod computes', async () => {
    const go = goEnv(modgate.url);
    const wanted = [
      [STD.lib, 'v1.2.0'],
      [STD.lib, 'v1.3.0-rc.1'],
      [STD.libV2, 'v2.1.0'],
      [STD.thing, 'v1.1.0'],
      [STD.legacy, 'v2.1.0+incompatible'],
      [STD.legacy, 'v1.0.0'],
    ];
    const r = await go.run(['mod', 'download', '-json', ...wanted.map(([p, v]) => `${p}@${v}`)]);
    const docs = JSON.parse(`[${r.stdout.replace(/}\s*{/g, '},{')}]`) as Array<{ Path: string; Version: string; Sum: string; GoModSum: string; Error?: string }>;
    expect(docs).toHaveLength(wanted.length);
    for (const d of docs) {
      expect(d.Error).toBeUndefined();
      const built = findVersion(tree, d.Path, d.Version);
      expect(d.Sum).toBe(built.zipH1);
      expect(d.GoModSum).toBe(built.modH1);
    }
    // The checksum database was consulted through ModGate's relay.
    expect(sumdb.requests.some((p) => p.startsWith('/lookup/'))).toBe(true);
  });

  it('go list -m -versions merges the upstream list', async () => {
    const go = goEnv(modgate.url);
    const r = await go.run(['list', '-m', '-versions', STD.lib, STD.thing, STD.legacy]);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${STD.lib} v1.0.0 v1.1.0 v1.2.0 v1.3.0-rc.1`,
      `${STD.thing} v0.9.0 v1.0.0 v1.1.0`,
      `${STD.legacy} v1.0.0 v2.0.0+incompatible v2.1.0+incompatible`,
    ]);
  });

  it('go get @latest and go build a program; go.sum matches the reference hashes', async () => {
    const go = goEnv(modgate.url);
    const dir = go.writeModule('app', 'example.net/app', program);
    await go.run(['get', `${STD.greet}@latest`, `${STD.thingParts}@latest`, `${STD.legacy}@latest`, `${PRIVATE}/strutil@latest`], { cwd: dir });
    const build = await go.run(['build', '-o', 'app', '.'], { cwd: dir });
    expect(build.code).toBe(0);
    const run = await go.run(['run', '.'], { cwd: dir });
    expect(run.stdout).toContain('hello from example.org/lib v1.2.0, ci');
    expect(run.stdout).toContain('legacy v2.1.0+incompatible');
    expect(run.stdout).toContain('OK!');

    const reference = new Set([...gosumLines(tree.dir), ...gosumLines(privateTree.dir)]);
    const written = readGoSum(dir);
    expect(written.length).toBeGreaterThan(6);
    for (const line of written) expect(reference).toContain(line);
    expect(written).toContain(`${STD.greet} v1.1.0 ${findVersion(tree, STD.greet, 'v1.1.0').zipH1}`);
    expect(written).toContain(`${PRIVATE} v1.4.0 ${findVersion(privateTree, PRIVATE, 'v1.4.0').zipH1}`);
  });

  it('never asks the upstream or the checksum database about owned paths', async () => {
    const go = goEnv(modgate.url);
    // go get of a package inside a private module probes every prefix.
    const dir = go.writeModule('probe', 'example.net/probe', { 'main.go': `package main\n\nimport _ "${PRIVATE}/strutil"\n\nfunc main() {}\n` });
    const r = await go.run(['get', `${PRIVATE}/strutil`], { cwd: dir });
    expect(r.code).toBe(0);
    // Without GONOSUMDB the go command asks the sumdb relay, which answers
    // itself and says what to do.
    const leaky = goEnv(modgate.url, { gonosumdb: '' });
    const dir2 = leaky.writeModule('leaky', 'example.net/leaky', { 'main.go': `package main\n\nimport _ "${PRIVATE}/strutil"\n\nfunc main() {}\n` });
    const bad = await leaky.run(['get', `${PRIVATE}/strutil@v1.4.0`], { cwd: dir2, allowFail: true });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/server response: not found: corp\.example\.com\/platform\/tools is a private module .*GONOSUMDB=corp\.example\.com/);
    // And an unpublished private version is a plain 404 from ModGate.
    const missing = await go.run(['mod', 'download', `${PRIVATE}@v1.9.9`], { allowFail: true });
    expect(missing.stderr).toContain('has not been published to this registry');

    expect(upstream.requests.filter((q) => q.path.includes('corp.example.com'))).toEqual([]);
    expect(sumdb.requests.filter((p) => p.includes('corp.example.com'))).toEqual([]);
  });

  it('a .mod alone is cached without its zip; the zip comes later and must match it', async () => {
    const base = `${modgate.url}/${STD.old}/@v/v1.0.0`;
    const seen = (ext: string) => upstream.requests.filter((q) => q.path === `/${STD.old}/@v/v1.0.0.${ext}`).length;
    const auth = { authorization: adminBasicAuth() };
    const mod = await httpCall(`${base}.mod`, { headers: auth, caFile: ca.caFile });
    expect(mod.status).toBe(200);
    expect(mod.body.equals(readFileSync(findVersion(tree, STD.old, 'v1.0.0').modFile))).toBe(true);
    expect([seen('info'), seen('mod'), seen('zip')]).toEqual([1, 1, 0]);
    const ds = await backends.dataSource();
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM module_mods mm JOIN modules m ON m.id = mm.module_id WHERE m.path = $1 AND mm.version = 'v1.0.0'`, [STD.old]);
    expect(n).toBe(1);
    expect((await httpCall(`${base}.info`, { headers: auth, caFile: ca.caFile })).status).toBe(200);
    const zip = await httpCall(`${base}.zip`, { headers: auth, caFile: ca.caFile });
    expect(zip.body.equals(readFileSync(findVersion(tree, STD.old, 'v1.0.0').zipFile))).toBe(true);
    // The zip alone was fetched: .info and .mod were already known.
    expect([seen('info'), seen('mod'), seen('zip')]).toEqual([1, 1, 1]);
  });

  it('stores each fetched version once with its upstream origin', async () => {
    const ds = await backends.dataSource();
    const rows = await ds.query(
      `SELECT m.path, v.version, v.zip_hash, v.mod_hash, v.origin_kind, v.origin FROM module_versions v JOIN modules m ON m.id = v.module_id WHERE m.path = $1 AND v.version = $2`,
      [STD.lib, 'v1.2.0'],
    );
    const built = findVersion(tree, STD.lib, 'v1.2.0');
    expect(rows).toEqual([{ path: STD.lib, version: 'v1.2.0', zip_hash: built.zipH1, mod_hash: built.modH1, origin_kind: 'upstream', origin: upstream.url }]);
    const zipFetches = upstream.requests.filter((q) => q.path === '/example.org/lib/@v/v1.2.0.zip');
    expect(zipFetches).toHaveLength(1);
  });
});

describe('with the upstream gone', () => {
  let app: string;
  beforeAll(async () => {
    // The app's go.mod/go.sum from the strict-mode build above.
    const go = goEnv(modgate.url);
    app = go.writeModule('app2', 'example.net/app', program);
    await go.run(['get', `${STD.greet}@v1.1.0`, `${STD.thingParts}@v1.1.0`, `${STD.legacy}@v2.1.0+incompatible`, `${PRIVATE}/strutil@v1.4.0`], { cwd: app });
    await modgate.stop();
    await upstream.stop();
  });

  it.each(['offline', 'fallback'])('%s mode builds from the cache alone', async (mode) => {
    const server = await startModgate(backends, {
      MODGATE_UPSTREAMS: upstream.url,
      MODGATE_SUMDBS: 'off',
      MODGATE_PRIVATE: 'corp.example.com',
      MODGATE_NETWORK_MODE: mode,
      MODGATE_UPSTREAM_TIMEOUT_MS: '2000',
      ...tls(),
    });
    try {
      // A fresh module cache: everything comes from ModGate.
      const go = goEnv(server.url, { gosumdb: 'off' });
      const r = await go.run(['build', '-o', 'app', '.'], { cwd: app, allowFail: true });
      expect(r.stderr).not.toMatch(/server response|error|404|502/i);
      expect(r.code).toBe(0);
      const list = await go.run(['list', '-m', '-versions', STD.lib]);
      expect(list.stdout.trim()).toBe(`${STD.lib} v1.2.0 v1.3.0-rc.1`); // what was cached above
    } finally {
      await server.stop();
    }
  });

  it('strict mode fails with a clear message for a version that is not cached', async () => {
    const server = await startModgate(backends, {
      MODGATE_UPSTREAMS: upstream.url,
      MODGATE_SUMDBS: 'off',
      MODGATE_NETWORK_MODE: 'strict',
      MODGATE_UPSTREAM_TIMEOUT_MS: '2000',
      MODGATE_UPSTREAM_RETRIES: '0',
      ...tls(),
    });
    try {
      const go = goEnv(server.url, { gosumdb: 'off' });
      const cached = await go.run(['mod', 'download', `${STD.lib}@v1.2.0`]);
      expect(cached.code).toBe(0);
      const r = await go.run(['mod', 'download', `${STD.lib}@v1.0.0`], { allowFail: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/502 Bad Gateway\s+server response: fetching example\.org\/lib@v1\.0\.0: upstream http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\)/);
    } finally {
      await server.stop();
    }
  });
});
