// GOPROXY protocol edge cases against one ModGate (strict mode, a local
// upstream and checksum database, corp.example.com owned) with one version
// cached up front: path escaping, traversal attempts, sumdb names, HEAD,
// conditional and range requests, list and @latest, owned paths that must
// never leave the registry, revision queries, and the metrics they leave.
// Requests go through node:http so paths reach the server exactly as written
// (fetch would resolve `..` and `%2e%2e` segments before sending).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { adminBasicAuth, createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { startSumdb, type Sumdb } from '../support/sumdb-server';
import { startUpstream, type Fault, type Upstream } from '../support/upstream-server';

const OWNED = 'corp.example.com';
const CACHED = { path: STD.lib, version: 'v1.2.0' };
const PSEUDO = 'v1.2.1-0.20230501000000-abcdefabcdef';

let tree: ModuleTree;
let upstream: Upstream;
let sumdb: Sumdb;
let backends: SharedBackends;
let modgate: Modgate;
let warmup: RawReply;

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** Sends `path` verbatim (no URL normalisation) to a server, as the test admin unless told otherwise. */
function raw(path: string, opts: { method?: string; headers?: Record<string, string>; base?: string } = {}): Promise<RawReply> {
  const u = new URL(opts.base ?? modgate.url);
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: { authorization: adminBasicAuth(), ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        ok({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    req.on('error', fail);
    req.end();
  });
}

/** A 404 with one text/plain line matching `reason`. */
function expect404(r: RawReply, reason?: RegExp): void {
  expect({ status: r.status, type: r.headers['content-type'] }).toEqual({ status: 404, type: 'text/plain; charset=utf-8' });
  expect(r.text).toMatch(/^[^\n]+\n$/);
  if (reason) expect(r.text).toMatch(reason);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const filePath = (ext: 'info' | 'mod' | 'zip'): string => `/example.org/lib/@v/${CACHED.version}.${ext}`;
const askedUpstream = (needle: string): string[] => upstream.requests.map((r) => r.rawPath).filter((p) => p.includes(needle));

/** Upstream answers for things a file tree cannot hold: a list with a pseudo-version, a revision query. */
const upstreamExtras: Fault = (_req, res, ctx) => {
  const json = (body: unknown): true => {
    const data = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    res.end(data);
    return true;
  };
  if (ctx.path === '/example.org/lib/@v/list' && ctx.file) {
    const data = `${readFileSync(ctx.file, 'utf8')}${PSEUDO}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(data) });
    res.end(data);
    return true;
  }
  if (ctx.path === '/example.org/lib/@v/master.info') return json({ Version: 'v1.2.0', Time: '2023-03-10T10:00:00Z' });
  if (ctx.path === '/example.com/old/@latest') return json({ Version: 'v1.2.0', Time: '2023-04-03T10:00:00Z', Origin: { VCS: 'git' } });
  return false;
};

beforeAll(async () => {
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  upstream.setFault(upstreamExtras);
  sumdb = await startSumdb(tree.dir);
  backends = await createBackends('protocol');
  modgate = await startModgate(backends, {
    MODGATE_UPSTREAMS: upstream.url,
    MODGATE_SUMDBS: `${sumdb.name}=${sumdb.url}`,
    MODGATE_PRIVATE: OWNED,
    MODGATE_NETWORK_MODE: 'strict',
    MODGATE_UPSTREAM_TIMEOUT_MS: '5000',
  });
  // The cached version most tests below rely on (checked by the first test).
  warmup = await raw(filePath('zip'));
}, 180_000);

afterAll(async () => {
  await modgate?.stop();
  await upstream?.stop();
  await sumdb?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

describe('the cached version', () => {
  it('is filled from the upstream by the first fetch', async () => {
    expect({ status: warmup.status, text: warmup.status === 200 ? '' : warmup.text }).toEqual({ status: 200, text: '' });
    expect(sha256(warmup.body)).toBe(sha256(readFileSync(findVersion(tree, CACHED.path, CACHED.version).zipFile)));
    expect(await backends.versionCount()).toBe(1);
  });
});

describe('path escaping', () => {
  it('a raw upper-case path is 404 with a reason about the escaping', async () => {
    const r = await raw('/github.com/Corp/Thing/@v/list');
    expect404(r, /github\.com\/Corp\/Thing/);
    expect(r.text).toMatch(/escap|upper|case/i);
  });

  it('the escaped spelling of the same path works', async () => {
    const r = await raw('/github.com/!corp/!thing/@v/list');
    expect(r.status).toBe(200);
    expect(r.text.trim().split('\n')).toEqual(['v0.9.0', 'v1.0.0', 'v1.1.0']);
  });

  it.each([
    '/github.com/!!corp/thing/@v/list',
    '/github.com/!1/thing/@v/list',
    '/github.com/corp!/thing/@v/list',
    '/github.com/!corp/!thing/@v/v1.0.0-!R!C1.info',
    '/github.com/!corp/!thing/@v/v1.0.0-!!rc.info',
  ])('a bad "!" escape is 404 with a reason: %s', async (path) => {
    expect404(await raw(path), /invalid escaped (module path|version)/);
  });
});

describe('".." never walks anywhere', () => {
  it.each([
    '/example.org/../lib/@v/list',
    '/example.org/lib/../../../etc/@v/list',
    '/example.org/%2e%2e/lib/@v/list',
    '/example.org/%2E%2E/%2E%2E/@v/list',
    '/example.org%2f..%2f..%2fetc/@v/list',
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/example.org/lib/@v/../../../../etc/passwd.zip',
    '/example.org/lib/@v/...info',
    '/example.org/lib/@v/%2e%2e.zip',
    '/example.org/lib/@v/..%2f..%2f..%2fetc%2fpasswd.mod',
    '/example.org/lib/@v/v1.2.0%2f..%2f..%2fv1.0.0.zip',
    '/example.org/lib/@v/v1.2.0/../v1.0.0.zip',
    '/example.org/lib/@v/..%5c..%5cwindows.info',
  ])('%s is 404, never 500', async (path) => {
    const r = await raw(path);
    expect404(r);
  });

  it('none of them reached the upstream', () => {
    expect(upstream.requests.filter((q) => q.path.includes('..') || q.path.includes('etc'))).toEqual([]);
  });

  it.each(['tile/../../../../etc/passwd', 'tile/8/0/../../../latest', 'lookup/../../../etc/passwd', 'lookup/%2e%2e/%2e%2e/latest'])(
    'a sumdb path with ".." is 404: /sumdb/<name>/%s',
    async (rest) => {
      expect404(await raw(`/sumdb/${sumdb.name}/${rest}`));
    },
  );
});

describe('checksum database names', () => {
  it('an unknown name is 404', async () => {
    expect404(await raw('/sumdb/nope.example/supported'), /nope\.example/);
  });

  it('the configured name is supported', async () => {
    const r = await raw(`/sumdb/${sumdb.name}/supported`);
    expect(r.status).toBe(200);
  });
});

describe('HTTP details of stored files', () => {
  it.each(['info', 'mod', 'zip'] as const)('.%s: strong ETag, immutable caching, HEAD without a body, If-None-Match → 304', async (ext) => {
    const get = await raw(filePath(ext));
    expect(get.status).toBe(200);
    const etag = get.headers.etag;
    expect(etag).toMatch(/^"[^"]+"$/); // strong: quoted, no W/
    expect(get.headers['cache-control']).toContain('immutable');
    expect(Number(get.headers['content-length'])).toBe(get.body.length);

    const head = await raw(filePath(ext), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(get.body.length);
    expect(head.headers.etag).toBe(etag);

    const cond = await raw(filePath(ext), { headers: { 'if-none-match': etag! } });
    expect(cond.status).toBe(304);
    expect(cond.body.length).toBe(0);
    expect(cond.headers.etag).toBe(etag);
  });

  it('the stored files are the upstream bytes', async () => {
    const built = findVersion(tree, CACHED.path, CACHED.version);
    expect(sha256((await raw(filePath('zip'))).body)).toBe(sha256(readFileSync(built.zipFile)));
    expect((await raw(filePath('mod'))).body.equals(readFileSync(built.modFile))).toBe(true);
    expect(JSON.parse((await raw(filePath('info'))).text)).toEqual({ Version: CACHED.version, Time: '2023-03-10T10:00:00Z' });
  });

  it('Range: bytes=0-99 on the zip is 206 with those 100 bytes', async () => {
    const zip = readFileSync(findVersion(tree, CACHED.path, CACHED.version).zipFile);
    const r = await raw(filePath('zip'), { headers: { range: 'bytes=0-99' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 0-99/${zip.length}`);
    expect(r.headers['content-length']).toBe('100');
    expect(r.body.equals(zip.subarray(0, 100))).toBe(true);
  });
});

describe('list and @latest', () => {
  it('@v/list is text/plain with tagged versions only (no pseudo-versions)', async () => {
    const r = await raw('/example.org/lib/@v/list');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.text.trim().split('\n').sort()).toEqual(['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.3.0-rc.1']);
    expect(r.text).not.toContain(PSEUDO);
  });

  it('@latest relays the upstream answer (canonical Version, Time)', async () => {
    const r = await raw('/example.com/old/@latest');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(r.text)).toMatchObject({ Version: 'v1.2.0', Time: '2023-04-03T10:00:00Z' });
    expect(r.headers['cache-control'] ?? '').not.toContain('immutable');
  });

  it('@latest without an upstream answer falls back to the stored versions', async () => {
    const r = await raw('/example.org/lib/@latest');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ Version: CACHED.version });
  });

  it('a path that is not a module (upstream 404) is 404', async () => {
    expect404(await raw('/example.org/nothing/@v/list'), /example\.org\/nothing/);
    expect404(await raw('/example.org/nothing/@v/v1.0.0.info'), /example\.org\/nothing/);
    const latest = await raw('/example.org/nothing/@latest');
    expect404(latest, /example\.org\/nothing/);
    // An upstream is configured: the reason must not claim otherwise.
    expect(latest.text).not.toMatch(/no upstream is configured/);
  });
});

describe('owned paths never leave the registry', () => {
  it.each([
    `/${OWNED}/platform/x/@v/list`,
    `/${OWNED}/platform/x/@v/v1.0.0.info`,
    `/${OWNED}/platform/x/@v/v1.0.0.mod`,
    `/${OWNED}/platform/x/@v/v1.0.0.zip`,
    `/${OWNED}/platform/x/@latest`,
    `/${OWNED}/@v/list`,
  ])('%s is 404 "has not been published"', async (path) => {
    expect404(await raw(path), /has not been published to this registry/);
  });

  it('a revision query for an owned path is 404 as well', async () => {
    expect404(await raw(`/${OWNED}/platform/x/@v/master.info`));
  });

  it('a checksum lookup for an owned path is 404 naming GONOSUMDB, and never forwarded', async () => {
    const r = await raw(`/sumdb/${sumdb.name}/lookup/${OWNED}/platform/x@v1.0.0`);
    expect404(r, new RegExp(`GONOSUMDB=${OWNED.replace(/\./g, '\\.')}`));
    expect404(await raw(`/sumdb/${sumdb.name}/lookup/${OWNED}/x@v1.0.0`), /GONOSUMDB/);
  });

  it('the upstream and the checksum database never saw the owned domain', () => {
    expect(askedUpstream(OWNED)).toEqual([]);
    expect(sumdb.requests.filter((p) => p.includes(OWNED))).toEqual([]);
  });

  it('a sumdb lookup with ".." after the version is 404 and never forwarded', async () => {
    const before = sumdb.requests.length;
    // Resolved by a URL parser these are /lookup/corp.example.com/x@v1.0.0 and /admin/secret.
    expect404(await raw(`/sumdb/${sumdb.name}/lookup/example.org/lib@v1.2.0/../../../lookup/${OWNED}/x%40v1.0.0`));
    expect404(await raw(`/sumdb/${sumdb.name}/lookup/example.org/lib@v1.2.0/../../../../../../admin/secret`));
    expect(sumdb.requests.slice(before)).toEqual([]);
  });
});

describe('revision queries', () => {
  it('@v/master.info is asked of the upstream and not stored', async () => {
    const before = await backends.versionCount();
    const r = await raw('/example.org/lib/@v/master.info');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ Version: 'v1.2.0', Time: '2023-03-10T10:00:00Z' });
    expect(r.headers['cache-control'] ?? '').not.toContain('immutable');
    expect(askedUpstream('/example.org/lib/@v/master.info')).toHaveLength(1);
    expect(await backends.versionCount()).toBe(before);
    // Asked again: the upstream is asked again (a branch moves).
    expect((await raw('/example.org/lib/@v/master.info')).status).toBe(200);
    expect(askedUpstream('/example.org/lib/@v/master.info')).toHaveLength(2);
  });

  it('an unknown revision is 404', async () => {
    expect404(await raw('/example.org/lib/@v/no-such-branch.info'));
  });

  it('in offline mode a revision query is 404 and the upstream is not asked', async () => {
    const offline = await startModgate(backends, {
      MODGATE_UPSTREAMS: upstream.url,
      MODGATE_SUMDBS: 'off',
      MODGATE_PRIVATE: OWNED,
      MODGATE_NETWORK_MODE: 'offline',
    });
    try {
      const before = upstream.requests.length;
      expect404(await raw('/example.org/lib/@v/master.info', { base: offline.url }), /example\.org\/lib@master/);
      // The cached version is still served.
      expect((await raw(filePath('info'), { base: offline.url })).status).toBe(200);
      expect(upstream.requests.length).toBe(before);
    } finally {
      await offline.stop();
    }
  });
});

describe('/metrics', () => {
  it('counts requests by route and cache lookups by result', async () => {
    const r = await raw('/metrics');
    expect(r.status).toBe(200);
    for (const route of ['list', 'latest', 'info', 'mod', 'zip', 'sumdb']) {
      expect(r.text).toMatch(new RegExp(`^modgate_http_requests_total\\{[^}]*route="${route}"[^}]*\\} [1-9]`, 'm'));
    }
    expect(r.text).toMatch(/^modgate_http_requests_total\{[^}]*status="404"[^}]*\} [1-9]/m);
    expect(r.text).toMatch(/^modgate_cache_lookups_total\{result="hit"\} [1-9]/m);
    expect(r.text).toMatch(/^modgate_cache_lookups_total\{result="miss"\} [1-9]/m);
    // Labels are route kinds, never module paths.
    expect(r.text).not.toMatch(/example\.org|corp\.example\.com/);
  });
});
