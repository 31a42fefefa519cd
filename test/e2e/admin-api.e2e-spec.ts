// The admin REST API (/api/v1) against a real ModGate process, driven with
// fetch: authentication and roles, users, service accounts, teams and
// members (maintainers in a session), OIDC group mappings, access rules and
// explain, tokens (revocation and disabling bite at once on a GOPROXY route),
// validation errors, pagination, and the OpenAPI document and page.
import { writeFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { JWT_AUDIENCE, JWT_ISSUER } from '../../apps/registry/src/auth/jwt.strategy';
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';

// Registered for the first admin at start (MODGATE_BOOTSTRAP_ADMIN_TOKEN), so the test knows it.
const ADMIN = 'mg_adminapitest1_' + 'A'.repeat(40);
const LEDGER = 'corp.example.com/payments/ledger';

interface Reply<T> {
  status: number;
  json: T;
  headers: Headers;
}
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let backends: SharedBackends;
let modgate: Modgate;

/** One API call; `auth` is a Bearer credential (token or JWT), or null for none. */
async function api<T = Json>(method: string, path: string, opts: { auth?: string | null; body?: unknown } = {}): Promise<Reply<T>> {
  const auth = opts.auth === undefined ? ADMIN : opts.auth;
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Bearer ${auth}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${modgate.url}/api/v1${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  return { status: r.status, json: (text ? JSON.parse(text) : {}) as T, headers: r.headers };
}

/** An API call that must succeed with `status`; fails with the answer otherwise. */
async function ok<T = Json>(method: string, path: string, body?: unknown, auth?: string, status = method === 'POST' ? 201 : 200): Promise<T> {
  const r = await api<T>(method, path, { body, auth });
  if (r.status !== status) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)} (wanted ${status})`);
  return r.json;
}

/** A GOPROXY request with .netrc-style Basic credentials, as the go command sends them. */
async function goproxy(path: string, login: string, token: string): Promise<number> {
  const r = await fetch(`${modgate.url}/${path}`, { headers: { authorization: `Basic ${Buffer.from(`${login}:${token}`).toString('base64')}` } });
  await r.arrayBuffer();
  return r.status;
}

/**
 * A session JWT as ModGate issues after a sign-in, signed with the current
 * key from the database: a maintainer's power needs a session (their tokens
 * cannot carry the admin scope), and SSO is not part of this suite.
 */
async function session(user: { id: string; login: string }): Promise<string> {
  const ds = await backends.dataSource();
  const [key] = await ds.query(`SELECT kid, secret FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`);
  return jwt.sign({ login: user.login }, key.secret as Buffer, {
    algorithm: 'HS256',
    keyid: key.kid,
    subject: user.id,
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
    expiresIn: 600,
  });
}

// Filled in order by the tests below (they build on each other).
const users: Record<string, Json> = {};
const tokens: Record<string, string> = {};
let payments: Json;
let platform: Json;

beforeAll(async () => {
  backends = await createBackends('adminapi');
  modgate = await startModgate(backends, {
    MODGATE_PRIVATE: 'corp.example.com',
    MODGATE_BOOTSTRAP_ADMIN_TOKEN: ADMIN,
    // Revocation must bite at once even with a long credential cache.
    MODGATE_AUTH_CACHE_SECONDS: '30',
    // This suite fails authentication on purpose, many times, from one address.
    MODGATE_AUTH_MAX_FAILURES: '1000',
  });
}, 180_000);

afterAll(async () => {
  // The server's log, for a failure here: MODGATE_E2E_LOG=/tmp/admin-api.log npx jest …
  if (process.env.MODGATE_E2E_LOG && modgate) writeFileSync(process.env.MODGATE_E2E_LOG, modgate.output());
  await modgate?.stop();
  await backends?.cleanup();
});

describe('authentication and roles', () => {
  it('answers 401 JSON without credentials or with a bad token', async () => {
    const none = await api('GET', '/users', { auth: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    expect(none.json).toEqual({ code: 'unauthorized', message: expect.stringContaining('Bearer') });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const bad = await api('GET', '/me', { auth: 'mg_nosuchtoken1_' + 'B'.repeat(40) });
    expect(bad.status).toBe(401);
    expect(bad.json.code).toBe('unauthorized');
  });

  it('creates users and a service account; a taken login is 409', async () => {
    users.alice = await ok('POST', '/users', { login: 'alice', displayName: 'Alice', email: 'alice@corp.example.com' });
    users.bob = await ok('POST', '/users', { login: 'bob' });
    users.carol = await ok('POST', '/users', { login: 'carol', role: 'auditor' });
    users.ci = await ok('POST', '/service-accounts', { login: 'ci-payments', displayName: 'Payments CI' });
    expect(users.alice).toMatchObject({ login: 'alice', kind: 'user', role: 'user', disabled: false, email: 'alice@corp.example.com' });
    expect(users.carol.role).toBe('auditor');
    expect(users.ci).toMatchObject({ login: 'ci-payments', kind: 'service' });
    expect((await api('POST', '/users', { body: { login: 'alice' } })).json.code).toBe('conflict');

    const got = await ok('GET', `/users/${users.alice.id}`);
    expect(got.login).toBe('alice');
    const found = await ok('GET', '/users?q=ali');
    expect(found.items.map((u: Json) => u.login)).toEqual(['alice']);
    const services = await ok('GET', '/service-accounts');
    expect(services.items.map((u: Json) => u.login)).toEqual(['ci-payments']);

    for (const name of ['alice', 'bob', 'carol']) {
      const scopes = name === 'carol' ? ['read', 'audit'] : ['read', 'publish'];
      tokens[name] = (await ok('POST', '/tokens', { name: 'laptop', scopes, ownerId: users[name].id })).token;
    }
  });

  it('refuses non-admins with 403 and lets auditors read', async () => {
    for (const [method, path] of [['GET', '/users'], ['POST', '/teams'], ['GET', '/access-rules'], ['POST', '/auth/keys/rotate']]) {
      const r = await api(method, path, { auth: tokens.alice, body: method === 'POST' ? { name: 'x' } : undefined });
      expect([method, path, r.status, r.json.code]).toEqual([method, path, 403, 'forbidden']);
    }
    expect((await api('GET', '/users', { auth: tokens.carol })).status).toBe(200);
    expect((await api('POST', '/teams', { auth: tokens.carol, body: { name: 'nope' } })).status).toBe(403);
    // An admin's credential without the admin scope does not carry admin power.
    const readOnly = await ok('POST', '/tokens', { name: 'read-only', scopes: ['read'] });
    expect((await api('POST', '/teams', { auth: readOnly.token, body: { name: 'nope' } })).status).toBe(403);
  });

  it('GET /me answers the caller and the credential in use', async () => {
    const me = await ok('GET', '/me', undefined, tokens.alice);
    expect(me).toMatchObject({ id: users.alice.id, login: 'alice', via: 'token', scopes: ['read', 'publish'], teams: [] });
  });
});

describe('teams and members', () => {
  it('creates teams and members; members see their team, others get 404', async () => {
    payments = await ok('POST', '/teams', { name: 'payments', description: 'Payments' });
    platform = await ok('POST', '/teams', { name: 'platform' });
    expect((await api('POST', '/teams', { body: { name: 'payments' } })).status).toBe(409);
    expect(await ok('PUT', `/teams/${payments.id}/members/${users.alice.id}`, { role: 'maintainer' })).toMatchObject({ login: 'alice', role: 'maintainer', source: 'manual' });
    await ok('PUT', `/teams/payments/members/${users.ci.id}`, { role: 'publisher' });
    const members = await ok('GET', '/teams/payments/members');
    expect(members.items.map((m: Json) => [m.login, m.role]).sort()).toEqual([['alice', 'maintainer'], ['ci-payments', 'publisher']]);
    expect((await ok('GET', '/teams/payments')).memberCount).toBe(2);
    expect((await ok('GET', '/teams/payments', undefined, tokens.alice)).id).toBe(payments.id);
    expect((await api('GET', '/teams/payments', { auth: tokens.bob })).status).toBe(404);
    expect((await api('GET', '/teams/payments/members', { auth: tokens.bob })).status).toBe(404);
  });

  it('lets a maintainer manage the team in a session, not with a token, and nobody else', async () => {
    expect((await api('PATCH', '/teams/payments', { auth: tokens.alice, body: { description: 'x' } })).status).toBe(403);
    const alice = await session(users.alice as { id: string; login: string });
    expect((await ok('PATCH', '/teams/payments', { description: 'Money' }, alice)).description).toBe('Money');
    await ok('PUT', `/teams/payments/members/${users.bob.id}`, { role: 'reader' }, alice);
    await ok('DELETE', `/teams/payments/members/${users.bob.id}`, undefined, alice, 204);
    expect((await api('DELETE', `/teams/payments/members/${users.bob.id}`)).status).toBe(404);
    const bob = await session(users.bob as { id: string; login: string });
    expect((await api('PATCH', '/teams/payments', { auth: bob, body: { description: 'mine' } })).status).toBe(403);
    expect((await api('PATCH', '/teams/platform', { auth: alice, body: { description: 'mine' } })).status).toBe(403);
    expect((await api('DELETE', '/teams/payments', { auth: alice })).status).toBe(403);
  });

  it('maps OIDC groups to teams', async () => {
    const m = await ok('PUT', '/oidc/group-mappings', { group: '/eng/payments', teamId: 'payments', role: 'reader' });
    expect(m).toEqual({ group: '/eng/payments', teamId: payments.id, teamName: 'payments', role: 'reader' });
    await ok('PUT', '/oidc/group-mappings', { group: '/eng/payments', teamId: payments.id, role: 'publisher' });
    const list = await ok('GET', '/oidc/group-mappings');
    expect(list).toMatchObject({ total: 1, items: [{ group: '/eng/payments', role: 'publisher' }], configured: [] });
    const q = `group=${encodeURIComponent('/eng/payments')}&teamId=${payments.id}`;
    await ok('DELETE', `/oidc/group-mappings?${q}`, undefined, undefined, 204);
    expect((await api('DELETE', `/oidc/group-mappings?${q}`)).status).toBe(404);
  });
});

describe('access rules', () => {
  let ledgerRule: Json;

  it('creates, lists, changes and deletes rules', async () => {
    await ok('POST', '/access-rules', { pattern: 'corp.example.com', teamId: platform.id, permission: 'read' });
    ledgerRule = await ok('POST', '/access-rules', { pattern: 'corp.example.com/payments', teamId: payments.id, permission: 'publish' });
    expect(ledgerRule).toMatchObject({ pattern: 'corp.example.com/payments', teamName: 'payments', permission: 'publish' });
    const dup = await api('POST', '/access-rules', { body: { pattern: 'corp.example.com/payments', teamId: payments.id, permission: 'read' } });
    expect(dup.status).toBe(409);
    const tmp = await ok('POST', '/access-rules', { pattern: 'corp.example.com/tmp/*', teamId: platform.id, permission: 'read' });
    expect((await ok('PATCH', `/access-rules/${tmp.id}`, { permission: 'admin' })).permission).toBe('admin');
    expect((await ok('GET', '/access-rules?limit=2')).total).toBe(3);
    await ok('DELETE', `/access-rules/${tmp.id}`, undefined, undefined, 204);
    expect((await api('GET', `/access-rules/${tmp.id}`)).status).toBe(404);
  });

  it('explains which rule decides, for a login, an id or the caller', async () => {
    const forAlice = await ok('GET', `/access-rules/explain?principal=alice&path=${LEDGER}`);
    expect(forAlice.principal).toEqual({ id: users.alice.id, login: 'alice', via: 'jwt' });
    expect(forAlice.owned).toBe(true);
    expect(forAlice.deciding.map((r: Json) => r.id)).toEqual([ledgerRule.id]);
    expect(forAlice.decisions.publish).toMatchObject({ allowed: true, rule: { id: ledgerRule.id } });
    expect(forAlice.decisions.admin.allowed).toBe(false);
    expect(forAlice.matching.map((r: Json) => r.pattern)).toEqual(['corp.example.com/payments', 'corp.example.com']);

    const forBob = await ok('GET', `/access-rules/explain?principal=${users.bob.id}&path=${LEDGER}`);
    expect(forBob.principal.login).toBe('bob');
    expect(forBob.decisions.read.allowed).toBe(false);

    const self = await ok('GET', `/access-rules/explain?path=${LEDGER}`);
    expect(self.principal).toMatchObject({ login: 'admin', via: 'token' });
    expect(self.decisions.admin.allowed).toBe(true);
    expect((await api('GET', `/access-rules/explain?principal=nobody&path=${LEDGER}`)).status).toBe(404);
    expect((await api('GET', `/access-rules/explain?path=${LEDGER}`, { auth: tokens.carol })).status).toBe(403);
  });
});

describe('tokens', () => {
  it('creates a token shown once, lists your own, and lets admins see others', async () => {
    const created = await ok('POST', '/tokens', { name: 'ci', scopes: ['read'], expiresAt: '2099-01-01T00:00:00Z' }, tokens.alice);
    expect(created.token).toMatch(/^mg_[a-z0-9]{12}_/);
    expect(created).toMatchObject({ name: 'ci', ownerId: users.alice.id, ownerLogin: 'alice', scopes: ['read'], revokedAt: null, expiresAt: '2099-01-01T00:00:00.000Z' });
    expect(created.token.startsWith(created.prefix)).toBe(true);
    tokens.aliceCi = created.token;

    const mine = await ok('GET', '/tokens', undefined, tokens.alice);
    expect(mine.items.every((t: Json) => t.ownerId === users.alice.id && t.token === undefined)).toBe(true);
    expect(mine.items.map((t: Json) => t.name).sort()).toEqual(['ci', 'laptop']);
    expect((await api('GET', '/tokens?all=true', { auth: tokens.alice })).status).toBe(403);
    expect((await api('GET', `/tokens?ownerId=${users.bob.id}`, { auth: tokens.alice })).status).toBe(403);
    expect((await ok('GET', `/tokens?ownerId=${users.alice.id}`)).total).toBe(2);
    expect((await ok('GET', '/tokens?all=true')).total).toBeGreaterThanOrEqual(6);
    // A user cannot grant more than their role allows, nor make tokens for others.
    expect((await api('POST', '/tokens', { auth: tokens.alice, body: { name: 'x', scopes: ['admin'] } })).status).toBe(403);
    expect((await api('POST', '/tokens', { auth: tokens.alice, body: { name: 'x', scopes: ['read'], ownerId: users.bob.id } })).status).toBe(403);

    const ci = await ok('POST', '/tokens', { name: 'deploy', scopes: ['read', 'publish'], teamIds: [payments.id], ownerId: users.ci.id });
    expect(ci).toMatchObject({ ownerLogin: 'ci-payments', teamIds: [payments.id] });
  });

  it('revokes: the token is refused at once on a GOPROXY route', async () => {
    expect([200, 404]).toContain(await goproxy(`${LEDGER}/@v/list`, 'alice', tokens.aliceCi));
    const id = (await ok('GET', '/tokens', undefined, tokens.alice)).items.find((t: Json) => t.name === 'ci').id;
    // Someone else's token is not even there for bob.
    expect((await api('DELETE', `/tokens/${id}`, { auth: tokens.bob })).status).toBe(404);
    const revoked = await ok('DELETE', `/tokens/${id}`, undefined, tokens.alice);
    expect(revoked).toMatchObject({ id, revokedAt: expect.any(String) });
    expect(await goproxy(`${LEDGER}/@v/list`, 'alice', tokens.aliceCi)).toBe(401);
    expect((await api('GET', '/me', { auth: tokens.aliceCi })).status).toBe(401);
    expect((await ok('GET', '/me', undefined, tokens.alice)).login).toBe('alice');
  });

  it('disabling a user refuses their tokens and sessions at once; enabling brings them back', async () => {
    const bobSession = await session(users.bob as { id: string; login: string });
    expect([200, 404]).toContain(await goproxy('example.com/public/@v/list', 'bob', tokens.bob));
    expect((await ok('PATCH', `/users/${users.bob.id}`, { disabled: true })).disabled).toBe(true);
    expect(await goproxy('example.com/public/@v/list', 'bob', tokens.bob)).toBe(401);
    expect((await api('GET', '/me', { auth: tokens.bob })).status).toBe(401);
    expect((await api('GET', '/me', { auth: bobSession })).status).toBe(401);
    expect((await api('GET', `/access-rules/explain?principal=bob&path=${LEDGER}`)).status).toBe(409);
    await ok('PATCH', `/users/${users.bob.id}`, { disabled: false });
    expect((await api('GET', '/me', { auth: tokens.bob })).status).toBe(200);
  });

  it('changes roles; the last enabled admin cannot be demoted', async () => {
    expect((await ok('PATCH', `/users/${users.carol.id}`, { role: 'user' })).role).toBe('user');
    const me = await ok('GET', '/me');
    expect((await api('PATCH', `/users/${me.id}`, { body: { role: 'user' } })).status).toBe(409);
  });
});

describe('validation', () => {
  it.each([
    ['POST', '/teams', { name: 'Not A Name' }, 'name'],
    ['POST', '/teams', { name: 'ok-name', colour: 'red' }, 'colour'],
    ['POST', '/users', { login: 'dave', role: 'root' }, 'role'],
    ['POST', '/tokens', { name: 'x' }, 'scopes'],
    ['POST', '/tokens', { name: 'x', scopes: ['read'], expiresAt: 'tomorrow' }, 'expiresAt'],
    ['POST', '/access-rules', { pattern: 'corp.example.com//x', teamId: '00000000-0000-0000-0000-000000000000', permission: 'read' }, 'pattern'],
    ['POST', '/access-rules', { pattern: 'corp.example.com/x', teamId: 'payments', permission: 'write' }, 'teamId'],
    ['PATCH', '/users/not-a-uuid', { role: 'user' }, 'id'],
    ['PATCH', '/users/00000000-0000-0000-0000-000000000000', { disabled: 'yes' }, 'disabled'],
    ['PUT', '/teams/payments/members/xyz', { role: 'reader' }, 'userId'],
    ['GET', '/teams?limit=0', undefined, 'limit'],
    ['GET', '/teams?limit=201', undefined, 'limit'],
    ['GET', '/users?offset=-1', undefined, 'offset'],
    ['GET', '/tokens?all=maybe', undefined, 'all'],
    ['GET', '/access-rules/explain', undefined, 'path'],
  ])('%s %s %j → 400 naming %s', async (method, path, body, field) => {
    const r = await api(method, path, { body });
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('bad-request');
    expect(r.json.message).toMatch(new RegExp(`\\b${field}\\b`));
  });

  it('a body that is not JSON is a 400 JSON error', async () => {
    const r = await fetch(`${modgate.url}/api/v1/teams`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{nope' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as Json).code).toBe('bad-request');
  });
});

describe('pagination', () => {
  it('pages teams with limit and offset', async () => {
    for (let i = 1; i <= 7; i++) await ok('POST', '/teams', { name: `page-${i}` });
    const first = await ok('GET', '/teams?limit=3');
    expect(first.items).toHaveLength(3);
    expect(first).toMatchObject({ limit: 3, offset: 0 });
    expect(first.total).toBeGreaterThanOrEqual(7);
    const second = await ok('GET', '/teams?limit=3&offset=3');
    expect(second.items).toHaveLength(3);
    const ids = new Set([...first.items, ...second.items].map((t: Json) => t.id));
    expect(ids.size).toBe(6);
    const past = await ok('GET', `/teams?offset=${first.total}`);
    expect(past).toMatchObject({ items: [], total: first.total, limit: 50 });
  });

  it('deletes a team', async () => {
    await ok('DELETE', '/teams/page-7', undefined, undefined, 204);
    expect((await api('GET', '/teams/page-7')).status).toBe(404);
  });
});

describe('sessions', () => {
  it('rotates the signing key; sessions signed with the old key keep working', async () => {
    const before = await session(users.alice as { id: string; login: string });
    const { kid } = await ok('POST', '/auth/keys/rotate', undefined, undefined, 200);
    expect(typeof kid).toBe('string');
    const after = await session(users.alice as { id: string; login: string });
    expect(jwt.decode(after, { complete: true })?.header.kid).toBe(kid);
    expect((await api('GET', '/me', { auth: before })).status).toBe(200);
    expect((await api('GET', '/me', { auth: after })).status).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('serves the document without credentials, with the API paths and security schemes', async () => {
    const r = await fetch(`${modgate.url}/api/v1/openapi.json`);
    expect(r.status).toBe(200);
    const doc = JSON.parse(await r.text());
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/api/v1/teams', '/api/v1/teams/{id}/members/{userId}', '/api/v1/users', '/api/v1/me', '/api/v1/tokens', '/api/v1/access-rules/explain', '/api/v1/oidc/group-mappings']) {
      expect(doc.paths).toHaveProperty([p]);
    }
    // The GOPROXY catch-all and health routes are not part of the REST API.
    expect(Object.keys(doc.paths).every((p) => p.startsWith('/api/'))).toBe(true);
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' }, basic: { type: 'http', scheme: 'basic' } });
    expect(doc.components.schemas.CreateTeamDto.required).toContain('name');
  });

  it('serves the docs page and its assets, not shadowed by the GOPROXY catch-all', async () => {
    const page = await fetch(`${modgate.url}/api/v1/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('swagger-ui');
    const css = await fetch(`${modgate.url}/api/v1/docs/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    await css.arrayBuffer();
  });
});
