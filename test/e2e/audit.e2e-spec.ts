// The audit log records a whole scenario, in order, exactly: an SSO login
// and a failed one, admin changes with before/after, a token created and
// revoked, a publish, downloads with the real go command (allowed and
// denied), a failed authentication. Compliance asks for this months later;
// no token text may be in any row or in the log, and the chain verifies.
import { readFileSync } from 'node:fs';
import type { DataSource } from 'typeorm';
import { freeLoopbackPort } from '../../apps/registry/src/database/embedded-postgres';
import { makeGoEnv, type GoEnv } from '../support/go-env';
import { httpCall } from '../support/http';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, findVersion, STD, standardUpstreamSpecs, type ModuleTree } from '../support/module-tree';
import { browserSignIn, startOidcProvider, TestBrowser, type OidcProvider } from '../support/oidc';
import { putZip } from '../support/publish';
import { startUpstream, type Upstream } from '../support/upstream-server';
import { moduleFiles, tempDir, writeZip } from '../support/zips';

const LEDGER = 'corp.example.com/payments/ledger';
const BOGUS = 'mg_bogus0000_' + 'Z'.repeat(40);

let provider: OidcProvider;
let tree: ModuleTree;
let upstream: Upstream;
let backends: SharedBackends;
let modgate: Modgate;
let ds: DataSource;
let url: string;
let go: GoEnv;
const secrets: string[] = [TEST_ADMIN_TOKEN, BOGUS];

interface Row {
  seq: string;
  principal: string;
  principal_kind: string;
  token_id: string | null;
  action: string;
  module: string | null;
  version: string | null;
  outcome: string;
  status: number | null;
  reason: string | null;
  bytes: string | null;
  details: string | null;
  source_ip: string | null;
  request_id: string | null;
}

async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN): Promise<T> {
  const r = await httpCall(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return (r.text ? JSON.parse(r.text) : {}) as T;
}

async function rows(): Promise<Row[]> {
  return ds.query('SELECT * FROM audit_events ORDER BY seq');
}

/** Download events are batched: wait until the writer has caught up. */
async function settled(): Promise<Row[]> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const n = (await rows()).length;
    if (n === last) break;
    last = n;
  }
  return rows();
}

beforeAll(async () => {
  const port = await freeLoopbackPort();
  url = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({ redirectUri: `${url}/auth/callback` });
  tree = await buildModuleTree(standardUpstreamSpecs());
  upstream = await startUpstream(tree.dir);
  backends = await createBackends('audit');
  ds = await backends.dataSource();
  modgate = await startModgate(backends, {
    PORT: String(port),
    MODGATE_PUBLIC_URL: url,
    MODGATE_UPSTREAMS: upstream.url,
    MODGATE_PRIVATE: 'corp.example.com',
    MODGATE_OIDC_ISSUER: provider.issuer,
    MODGATE_OIDC_CLIENT_ID: provider.clientId,
    MODGATE_OIDC_CLIENT_SECRET: provider.clientSecret,
  });
  go = makeGoEnv({ goproxy: url, gosumdb: 'off', gonosumdb: 'corp.example.com' });
}, 120000);

afterAll(async () => {
  go?.cleanup();
  await modgate?.stop();
  await provider?.stop();
  await upstream?.stop();
  await backends?.cleanup();
  tree?.cleanup();
});

it('records the scenario, in order, with who, what, outcome and reason', async () => {
  // 1. alice signs in through SSO; a callback nobody started fails.
  await browserSignIn(url, 'alice');
  const stray = await new TestBrowser().get(`${url}/auth/callback?code=x&state=nobody-started-this`);
  expect(stray.status).toBe(400);
  const [alice] = await ds.query(`SELECT id FROM users WHERE login = 'alice'`);

  // 2. admin changes: a team, alice in it, a rule for the team.
  const team = await api<{ id: string }>('POST', '/teams', { name: 'payments' });
  await api('PUT', `/teams/${team.id}/members/${alice.id}`, { role: 'publisher' });
  const rule = await api<{ id: string }>('POST', '/access-rules', { pattern: 'corp.example.com/payments', teamId: team.id, permission: 'publish' });

  // 3. a token for alice; she publishes with it.
  const created = await api<{ id: string; token: string }>('POST', '/tokens', { name: 'ci', scopes: ['read', 'publish'], ownerId: alice.id });
  secrets.push(created.token);
  const zip = await writeZip(`${tempDir('audit')}/l.zip`, moduleFiles(LEDGER, 'v1.0.0'));
  const published = await putZip(url, LEDGER, 'v1.0.0', zip, { token: created.token });
  expect(published.status).toBe(201);

  // 4. downloads with the real go command: a public module (allowed,
  //    anonymous reads are on) and the private one without credentials (denied).
  const lib = findVersion(tree, STD.lib, 'v1.2.0');
  expect((await go.run(['mod', 'download', `${STD.lib}@v1.2.0`])).code).toBe(0);
  const denied = await go.run(['mod', 'download', `${LEDGER}@v1.0.0`], { allowFail: true });
  expect(denied.stderr).toMatch(/401 Unauthorized/);

  // 5. a made-up token, refused.
  expect((await httpCall(`${url}/${LEDGER}/@v/list`, { headers: { authorization: `Bearer ${BOGUS}` } })).status).toBe(401);

  // 6. the token is revoked, the rule narrowed.
  await api('DELETE', `/tokens/${created.id}`);
  await api('PATCH', `/access-rules/${rule.id}`, { permission: 'read' });

  const all = await settled();
  const security = all.filter((r) => !r.action.startsWith('download.'));
  expect(security.map((r) => [r.action, r.principal, r.outcome, r.status])).toEqual([
    ['token.create', 'admin', 'allowed', 200], // the bootstrap admin token, at the first start
    ['login', 'alice', 'allowed', 200],
    ['login', 'anonymous', 'error', 400],
    ['admin.team.create', 'admin', 'allowed', 200],
    ['admin.team.member.set', 'admin', 'allowed', 200],
    ['admin.access-rule.create', 'admin', 'allowed', 200],
    ['token.create', 'admin', 'allowed', 200],
    ['publish', 'alice', 'allowed', 201],
    ['auth.failure', 'anonymous', 'denied', 401],
    ['token.revoke', 'admin', 'allowed', 200],
    ['admin.access-rule.update', 'admin', 'allowed', 200],
  ]);
  const [bootstrap, login, badLogin, , member, , token, publish, failure, revoke, ruleChange] = security;
  expect(JSON.parse(bootstrap.details!)).toEqual({
    bootstrap: 'MODGATE_BOOTSTRAP_ADMIN_TOKEN',
    adminReenabled: false,
    tokenRegistered: true,
    after: { prefix: TEST_ADMIN_TOKEN.slice(0, 12), scopes: expect.arrayContaining(['read', 'publish', 'admin', 'audit']) },
  });
  expect(bootstrap.source_ip).toBeNull();
  expect(login.reason).toBe('browser sign-in');
  expect(badLogin.reason).toMatch(/browser sign-in failed: this sign-in link is unknown/);
  expect(JSON.parse(member.details!)).toMatchObject({ before: null, after: { login: 'alice', role: 'publisher' } });
  expect(JSON.parse(token.details!).after).toMatchObject({ id: created.id, ownerLogin: 'alice', scopes: ['read', 'publish'] });
  expect(publish).toMatchObject({ module: LEDGER, version: 'v1.0.0', token_id: created.id, bytes: String(readFileSync(zip).length) });
  expect(JSON.parse(publish.details!)).toMatchObject({ zipHash: published.json.zipHash, created: true });
  expect(failure.reason).toMatch(/^unknown: /);
  expect(JSON.parse(revoke.details!)).toMatchObject({ before: { id: created.id, revokedAt: null }, after: { id: created.id } });
  expect(JSON.parse(revoke.details!).after.revokedAt).not.toBeNull();
  expect(JSON.parse(ruleChange.details!)).toMatchObject({ before: { permission: 'publish' }, after: { permission: 'read' }, request: { permission: 'read' } });
  for (const r of security.slice(1)) expect(r.source_ip).toBe('127.0.0.1');

  // Downloads: exactly what the go command asked for, allowed with bytes for the zip.
  const downloads = all.filter((r) => r.action.startsWith('download.'));
  const ofLib = downloads.filter((r) => r.module === STD.lib).map((r) => [r.action, r.version, r.principal, r.outcome, r.status]);
  expect(ofLib).toEqual([
    ['download.info', 'v1.2.0', 'anonymous', 'allowed', 200],
    ['download.mod', 'v1.2.0', 'anonymous', 'allowed', 200],
    ['download.zip', 'v1.2.0', 'anonymous', 'allowed', 200],
  ]);
  expect(downloads.find((r) => r.action === 'download.zip' && r.module === STD.lib)!.bytes).toBe(String(readFileSync(lib.zipFile).length));
  const ofLedger = downloads.filter((r) => r.module === LEDGER);
  expect(ofLedger.length).toBeGreaterThanOrEqual(2); // the go command's probe, then the bogus token
  for (const r of ofLedger) expect([r.outcome, r.status]).toEqual(['denied', 401]);
  expect(ofLedger[0].reason).toMatch(/private modules need credentials|no credentials/);
  // The failed authentication and its download row share the request id.
  expect(ofLedger.some((r) => r.request_id === failure.request_id)).toBe(true);

  // Gap-free, and the chain verifies.
  expect(all.map((r) => Number(r.seq))).toEqual(all.map((_, i) => i + 1));
  const verify = await api<{ ok: boolean; rows: number }>('GET', '/audit/verify');
  expect(verify).toMatchObject({ ok: true, rows: all.length });
}, 120000);

it('the events API filters and pages with a cursor', async () => {
  const denied = await api<{ items: Array<{ outcome: string }> }>('GET', '/audit/events?outcome=denied');
  expect(denied.items.length).toBeGreaterThan(0);
  expect(denied.items.every((r) => r.outcome === 'denied')).toBe(true);
  const byTeam = await api<{ items: Array<{ principal: string; action: string }> }>('GET', '/audit/events?team=payments');
  expect(byTeam.items.map((r) => r.action)).toContain('publish');
  expect(byTeam.items.every((r) => r.principal === 'alice')).toBe(true);
  const byModule = await api<{ items: Array<{ module: string }> }>('GET', `/audit/events?module=corp.example.com/payments&action=download.*`);
  expect(byModule.items.length).toBeGreaterThan(0);
  expect(byModule.items.every((r) => r.module === LEDGER)).toBe(true);
  const seen: number[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Array<{ seq: number }>; nextCursor: string | null } = await api('GET', `/audit/events?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...page.items.map((r) => r.seq));
    cursor = page.nextCursor;
  } while (cursor);
  expect(seen).toEqual((await rows()).map((r) => Number(r.seq)));
  const summary = await api<{ downloads: Array<{ module: string; count: number }>; denied: unknown[]; publishes: Array<{ module: string }> }>('GET', '/audit/summary');
  expect(summary.downloads.find((d) => d.module === STD.lib)?.count).toBe(3);
  expect(summary.publishes.map((p) => p.module)).toEqual([LEDGER]);
  expect(summary.denied.length).toBeGreaterThan(0);
});

it('auditing needs the auditor role and the audit scope', async () => {
  const [alice] = await ds.query(`SELECT id FROM users WHERE login = 'alice'`);
  const t = await api<{ token: string }>('POST', '/tokens', { name: 'read', scopes: ['read'], ownerId: alice.id });
  secrets.push(t.token);
  const r = await httpCall(`${url}/api/v1/audit/events`, { headers: { authorization: `Bearer ${t.token}` } });
  expect(r.status).toBe(403);
  expect(JSON.parse(r.text).message).toMatch(/role auditor/);
});

it('no token text is in any audit row or in the log', async () => {
  const dump = JSON.stringify(await ds.query('SELECT * FROM audit_events'));
  const log = modgate.output();
  for (const s of secrets) {
    const secretPart = s.slice(s.lastIndexOf('_') + 1);
    expect(dump).not.toContain(secretPart);
    expect(log).not.toContain(secretPart);
  }
});

it('the database refuses to change or remove audit rows', async () => {
  await expect(ds.query(`UPDATE audit_events SET reason = 'x' WHERE seq = 1`)).rejects.toThrow(/append-only/);
  await expect(ds.query(`DELETE FROM audit_events WHERE seq = 1`)).rejects.toThrow(/append-only/);
  await expect(ds.query(`TRUNCATE audit_events`)).rejects.toThrow(/append-only/);
});

it('a credential with a NUL byte or a lone surrogate cannot stop the log', async () => {
  const before = (await rows()).length;
  const evil = Buffer.from(`ev\u0000il\ud800:mg_x_${'y'.repeat(20)}`).toString('base64');
  expect((await httpCall(`${url}/${LEDGER}/@v/list`, { headers: { authorization: `Basic ${evil}` } })).status).toBe(401);
  await api('POST', '/teams', { name: 'after-the-evil-login' });
  const after = (await settled()).slice(before);
  expect(after.map((r) => r.action)).toEqual(['auth.failure', 'download.list', 'admin.team.create']);
  expect(after[0].reason).not.toContain('\u0000');
  expect((await api<{ ok: boolean }>('GET', '/audit/verify')).ok).toBe(true);
});
