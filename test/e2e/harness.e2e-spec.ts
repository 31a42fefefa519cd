// Proves the e2e harness on its own: the real go command (1.19) against the
// local upstream GOPROXY and checksum database, no ModGate involved. If these
// pass, a failing ModGate e2e test is about ModGate, not about the fixtures.
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, get as httpsGet } from 'node:https';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GoEnv, GoEnvOptions, GoRunResult, makeGoEnv, readGoSum } from '../support/go-env';
import {
  buildModuleTree, findVersion, gosumLines, ModuleTree, standardUpstreamSpecs, STD, STD_OLD_DEPRECATION, STD_OLD_RETRACT_REASON,
} from '../support/module-tree';
import { startSumdb, Sumdb } from '../support/sumdb-server';
import { makeTestCA, TestCA } from '../support/tls';
import { corruptBody, failWith, hang, startUpstream, truncateBody, Upstream } from '../support/upstream-server';

const execFileP = promisify(execFile);

// The first run builds test/support/gotool (about 10 s from a cold cache).
jest.setTimeout(120_000);

interface DownloadJson { Path: string; Version: string; Sum?: string; GoModSum?: string; Error?: string }

/** `go mod download -json a b` prints one indented object per module, back to back. */
function parseDownloads(stdout: string): DownloadJson[] {
  return stdout.trim().split(/\n(?=\{)/).map((s) => JSON.parse(s) as DownloadJson);
}

const CONSUMER_MAIN = `package main

import (
	"fmt"

	"example.com/greet"
	"github.com/Corp/Thing"
	"github.com/Corp/Thing/parts"
)

func main() { fmt.Println(greet.Greeting("gopher"), "|", thing.Name(), "|", parts.Count()) }
`;

describe('e2e harness: real go command, local upstream and sumdb', () => {
  let tree: ModuleTree;
  let sumdb: Sumdb;
  let upstream: Upstream;
  const envs: GoEnv[] = [];
  const goEnv = (opts: Partial<GoEnvOptions> = {}): GoEnv => {
    const env = makeGoEnv({ goproxy: upstream.url, ...opts });
    envs.push(env);
    return env;
  };

  beforeAll(async () => {
    tree = await buildModuleTree(standardUpstreamSpecs());
    sumdb = await startSumdb(tree.dir);
    upstream = await startUpstream(tree.dir, { sumdbRelay: { name: sumdb.name, url: sumdb.url } });
  });

  afterAll(async () => {
    await upstream?.stop();
    await sumdb?.stop();
    envs.forEach((e) => e.cleanup());
    tree?.cleanup();
  });

  it('go mod download -json reports the hashes build-tree computed', async () => {
    const wanted: Array<[string, string]> = [
      [STD.lib, 'v1.2.0'],
      [STD.lib, 'v1.3.0-rc.1'],
      [STD.libV2, 'v2.1.0'],
      [STD.thing, 'v1.0.0'],
      [STD.legacy, 'v2.0.0+incompatible'],
    ];
    const { stdout } = await goEnv().run(['mod', 'download', '-json', ...wanted.map(([p, v]) => `${p}@${v}`)]);
    const got = parseDownloads(stdout);
    expect(got.map((d) => [d.Path, d.Version])).toEqual(wanted);
    for (const d of got) {
      const built = findVersion(tree, d.Path, d.Version);
      expect({ path: d.Path, sum: d.Sum, goModSum: d.GoModSum }).toEqual({ path: built.path, sum: built.zipH1, goModSum: built.modH1 });
    }
    // The go command asks for case-encoded paths (files are stored that
    // way) and percent-encodes the `!` on the wire, but not the `+`.
    const paths = upstream.requests.map((r) => r.path);
    expect(paths).toContain('/github.com/!corp/!thing/@v/v1.0.0.zip');
    expect(upstream.requests.map((r) => r.rawPath)).toContain('/github.com/%21corp/%21thing/@v/v1.0.0.zip');
    expect(paths).toContain('/example.com/legacy/@v/v2.0.0+incompatible.zip');
    expect(upstream.requests.every((r) => r.status === 200)).toBe(true);
  });

  it('go list -m -versions shows @v/list, hiding retracted versions', async () => {
    const env = goEnv();
    const { stdout } = await env.run(['list', '-m', '-versions', STD.lib, STD.libV2, STD.thing, STD.legacy, STD.old]);
    expect(stdout.trim().split('\n')).toEqual([
      'example.org/lib v1.0.0 v1.1.0 v1.2.0 v1.3.0-rc.1',
      'example.org/lib/v2 v2.0.0 v2.1.0',
      'github.com/Corp/Thing v0.9.0 v1.0.0 v1.1.0',
      'example.com/legacy v1.0.0 v2.0.0+incompatible v2.1.0+incompatible',
      'example.com/old v1.0.0 v1.2.0',
    ]);
    const all = await env.run(['list', '-m', '-versions', '-retracted', STD.old]);
    expect(all.stdout.trim()).toBe('example.com/old v1.0.0 v1.1.0 v1.2.0');
  });

  it('retraction and deprecation are read from the latest go.mod', async () => {
    const { stdout } = await goEnv().run(['list', '-m', '-u', '-json', `${STD.old}@v1.1.0`]);
    const info = JSON.parse(stdout) as { Retracted?: string[]; Deprecated?: string; Update?: { Version: string } };
    expect(info.Retracted).toEqual([STD_OLD_RETRACT_REASON]);
    expect(info.Deprecated).toBe(STD_OLD_DEPRECATION);
    expect(info.Update?.Version).toBe('v1.2.0');
  });

  it('go get and go build a program using two modules (one importing a third); go.sum matches gosum-lines', async () => {
    const env = goEnv();
    const dir = env.writeModule('app', 'example.net/app', { 'main.go': CONSUMER_MAIN });
    await env.run(['get', `${STD.greet}@v1.0.0`, `${STD.thing}@v1.0.0`], { cwd: dir });
    await env.run(['build', '-o', 'app', '.'], { cwd: dir });
    const { stdout } = await execFileP(join(dir, 'app'));
    expect(stdout.trim()).toBe('hello from example.org/lib v1.1.0, gopher | Thing v1.0.0 | 4');

    const goSum = readGoSum(dir);
    const all = gosumLines(tree.dir);
    expect(goSum.filter((l) => !all.includes(l))).toEqual([]);
    for (const [p, v] of [[STD.greet, 'v1.0.0'], [STD.lib, 'v1.1.0'], [STD.thing, 'v1.0.0']]) {
      const b = findVersion(tree, p, v);
      expect(goSum).toEqual(expect.arrayContaining([`${p} ${v} ${b.zipH1}`, `${p} ${v}/go.mod ${b.modH1}`]));
    }
  });

  it('verifies against the sumdb named in GOSUMDB="<vkey> <url>", bypassing the proxy', async () => {
    const before = upstream.requests.length;
    const { stdout } = await goEnv({ gosumdb: sumdb.gosumdb }).run(['mod', 'download', '-json', `${STD.thing}@v1.1.0`, `${STD.legacy}@v2.1.0+incompatible`]);
    expect(parseDownloads(stdout).map((d) => d.Error)).toEqual([undefined, undefined]);
    expect(sumdb.requests).toEqual(expect.arrayContaining([
      '/lookup/github.com/!corp/!thing@v1.1.0',
      '/lookup/example.com/legacy@v2.1.0+incompatible',
    ]));
    expect(sumdb.requests.some((p) => p.startsWith('/tile/8/0/'))).toBe(true);
    expect(upstream.requests.slice(before).filter((r) => r.path.startsWith('/sumdb/'))).toEqual([]);
  });

  it('verifies through the proxy when GOSUMDB is only the key (proxy /sumdb/<name>/ relay)', async () => {
    const before = upstream.requests.length;
    await goEnv({ gosumdb: sumdb.vkey }).run(['mod', 'download', `${STD.libV2}@v2.0.0`]);
    const sumdbPaths = upstream.requests.slice(before).map((r) => r.path).filter((p) => p.startsWith('/sumdb/'));
    expect(sumdbPaths[0]).toBe('/sumdb/sum.modgate.test/supported');
    expect(sumdbPaths).toContain('/sumdb/sum.modgate.test/lookup/example.org/lib/v2@v2.0.0');
    expect(sumdb.requests).toContain('/lookup/example.org/lib/v2@v2.0.0');
  });

  it('a tampered upstream zip is a SECURITY ERROR, against the sumdb and against go.sum', async () => {
    const orig = findVersion(tree, STD.lib, 'v1.0.0');
    const spec = standardUpstreamSpecs().find((s) => s.path === STD.lib && s.version === 'v1.0.0');
    if (!spec) throw new Error('standard specs lack example.org/lib@v1.0.0');
    // A valid zip with other content: a corrupt one would fail the zip
    // checks before the hash is compared.
    const evil = await buildModuleTree([{ ...spec, files: { ...spec.files, 'lib.go': spec.files['lib.go'].replace('hello', 'pwned') } }]);
    const saved = readFileSync(orig.zipFile);
    try {
      copyFileSync(evil.versions[0].zipFile, orig.zipFile);

      const viaSumdb = await goEnv({ gosumdb: sumdb.gosumdb }).run(['mod', 'download', `${STD.lib}@v1.0.0`], { allowFail: true });
      expect(viaSumdb.code).not.toBe(0);
      expect(viaSumdb.stderr).toContain(`${STD.lib}@v1.0.0: verifying module: checksum mismatch`);
      expect(viaSumdb.stderr).toContain(`downloaded: ${evil.versions[0].zipH1}`);
      expect(viaSumdb.stderr).toContain(`sum.modgate.test: ${orig.zipH1}`);
      expect(viaSumdb.stderr).toContain('SECURITY ERROR');

      const env = goEnv();
      const dir = env.writeModule('pinned', 'example.net/pinned', {
        'go.mod': `module example.net/pinned\n\ngo 1.19\n\nrequire ${STD.lib} v1.0.0\n`,
        'go.sum': `${STD.lib} v1.0.0 ${orig.zipH1}\n${STD.lib} v1.0.0/go.mod ${orig.modH1}\n`,
      });
      const viaGoSum = await env.run(['mod', 'download', STD.lib], { cwd: dir, allowFail: true });
      expect(viaGoSum.code).not.toBe(0);
      expect(viaGoSum.stderr).toContain(`verifying ${STD.lib}@v1.0.0: checksum mismatch`);
      expect(viaGoSum.stderr).toMatch(new RegExp(`go.sum: +${orig.zipH1.replace(/[+/]/g, '\\$&')}`));
      expect(viaGoSum.stderr).toContain('SECURITY ERROR');
    } finally {
      writeFileSync(orig.zipFile, saved);
      evil.cleanup();
    }
  });

  it('faults: injected status, truncated and corrupt bodies, and stop() ending a hung request', async () => {
    const faulty = await startUpstream(tree.dir, { basePath: '/goproxy' });
    try {
      expect(faulty.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/goproxy$/);
      const env = goEnv({ goproxy: faulty.url });
      const download = (m: string): Promise<GoRunResult> => env.run(['mod', 'download', m], { allowFail: true });

      faulty.setFault(failWith(/\/@v\/v0\.9\.0\.zip$/, 503, 'upstream is resting\n'));
      const r503 = await download(`${STD.thing}@v0.9.0`);
      expect(r503.stderr).toContain('/goproxy/github.com/%21corp/%21thing/@v/v0.9.0.zip: 503 Service Unavailable');
      expect(r503.stderr).toContain('server response: upstream is resting');

      faulty.setFault(truncateBody(/\/@v\/v1\.1\.0\.zip$/));
      const cut = await download(`${STD.thing}@v1.1.0`);
      expect(cut.code).not.toBe(0);
      expect(cut.stderr).toMatch(/unexpected EOF|connection reset/);

      faulty.setFault(corruptBody(/\/@v\/v2\.0\.0\.zip$/));
      const bad = await download(`${STD.libV2}@v2.0.0`);
      expect(bad.code).not.toBe(0);

      faulty.setFault(hang(/\/@v\/list$/));
      const hung = env.run(['list', '-m', '-versions', STD.lib], { allowFail: true, timeoutMs: 30_000 });
      while (!faulty.requests.some((r) => r.path.endsWith('/example.org/lib/@v/list'))) await new Promise((ok) => setTimeout(ok, 20));
      await faulty.stop();
      const after = await hung;
      expect(after.code).not.toBe(0);
      expect(faulty.requests.find((r) => r.path.endsWith('/example.org/lib/@v/list'))?.status).toBe(0);
    } finally {
      await faulty.stop();
    }
  });

  describe('tls.ts', () => {
    let ca: TestCA;
    beforeAll(() => {
      ca = makeTestCA();
    });
    afterAll(() => ca.cleanup());

    it('Node https and curl trust the server certificate through the CA only', async () => {
      const server = createServer({ cert: readFileSync(ca.certFile), key: readFileSync(ca.keyFile) }, (_req, res) => res.end('ok'));
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const { port } = server.address() as AddressInfo;
      try {
        for (const host of ['127.0.0.1', 'localhost']) {
          const body = await new Promise<string>((ok, fail) =>
            httpsGet({ host: '127.0.0.1', servername: host === 'localhost' ? host : undefined, port, path: '/', ca: readFileSync(ca.caFile), headers: { host } }, (res) => {
              let b = '';
              res.on('data', (c: Buffer) => (b += c.toString()));
              res.on('end', () => ok(b));
            }).on('error', fail),
          );
          expect(body).toBe('ok');
        }
        const curl = await execFileP('curl', ['-sS', '--cacert', ca.caFile, `https://127.0.0.1:${port}/`]);
        expect(curl.stdout).toBe('ok');
        await expect(execFileP('curl', ['-sS', `https://127.0.0.1:${port}/`])).rejects.toMatchObject({ code: 60 });
      } finally {
        server.closeAllConnections();
        await new Promise((ok) => server.close(ok));
      }
    });

    it('the go command trusts an https proxy via SSL_CERT_FILE and sends .netrc credentials', async () => {
      const secure = await startUpstream(tree.dir, { tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
      try {
        const netrc = 'machine 127.0.0.1 login alice password s3cret\n';
        const ok = await goEnv({ goproxy: secure.url, sslCertFile: ca.caFile, netrc }).run(['mod', 'download', '-json', `${STD.thing}@v1.0.0`]);
        expect(parseDownloads(ok.stdout)[0].Sum).toBe(findVersion(tree, STD.thing, 'v1.0.0').zipH1);
        expect(secure.requests.length).toBeGreaterThan(0);
        const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
        expect(secure.requests.every((r) => r.authorization === basic)).toBe(true);

        const untrusted = await goEnv({ goproxy: secure.url }).run(['mod', 'download', `${STD.thing}@v1.0.0`], { allowFail: true });
        expect(untrusted.code).not.toBe(0);
        expect(untrusted.stderr).toContain('x509: certificate signed by unknown authority');
      } finally {
        await secure.stop();
      }
    });
  });
});
