// API sessions against a real ModGate process: exchanging a token (or a
// session) for a short-lived JWT at POST /api/v1/auth/token, the browser
// session cookie on /api (GET freely, other methods only with the CSRF
// header; never on GOPROXY routes), GET /api/v1/auth/session, logout, and
// the limits a JWT inherits from its token: scopes, team restriction,
// revocation and disabling, all at once despite a 30 s credential cache.
import { writeFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { JWT_AUDIENCE, JWT_ISSUER } from '../../apps/registry/src/auth/jwt.strategy';
import { adminBasicAuth, createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Reply {
  status: number;
  json: Json;
  headers: Headers;
}

interface CallOptions {
  /** Authorization: Bearer …; null for none. Default: the test admin token (unless a cookie is given). */
  bearer?: string | null;
  /** The modgate_session cookie value. */
  cookie?: string;
  /** Sends X-ModGate-CSRF with this value. */
  csrf?: string;
  body?: unknown;
}

let backends: SharedBackends;
let modgate: Modgate;
let adminId: string;

async function api(method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const bearer = o.bearer === undefined ? (o.cookie ? null : TEST_ADMIN_TOKEN) : o.bearer;
  const headers: Record<string, string> = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (o.cookie !== undefined) headers.cookie = `theme=dark; modgate_session=${o.cookie}; other=1`;
  if (o.csrf !== undefined) headers['x-modgate-csrf'] = o.csrf;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${modgate.url}/api/v1${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as Json) : {}, headers: r.headers };
}

async function ok(method: string, path: string, o: CallOptions = {}, status = method === 'POST' ? 201 : 200): Promise<Json> {
  const r = await api(method, path, o);
  if (r.status !== status) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)} (wanted ${status})`);
  return r.json;
}

/** POST /auth/token with the given credential; the JWT. */
async function exchange(o: CallOptions): Promise<{ accessToken: string; tokenType: string; expiresIn: number }> {
  return ok('POST', '/auth/token', o, 200) as Promise<{ accessToken: string; tokenType: string; expiresIn: number }>;
}

/** A token made by the admin (for the admin, or `ownerId` in extra); its secret and id. */
async function token(name: string, scopes: string[], extra: Json = {}): Promise<{ token: string; id: string }> {
  const t = await ok('POST', '/tokens', { body: { name, scopes, ...extra } });
  return { token: t.token as string, id: t.id as string };
}

/** The session JWT the SSO sign-in puts in the modgate_session cookie, signed with the current key. */
async function signInSession(userId: string, login: string): Promise<string> {
  const ds = await backends.dataSource();
  const [key] = await ds.query(`SELECT kid, secret FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`);
  return jwt.sign({ login }, key.secret as Buffer, { algorithm: 'HS256', keyid: key.kid, subject: userId, issuer: JWT_ISSUER, audience: JWT_AUDIENCE, expiresIn: 600 });
}

const claims = (t: string) => jwt.decode(t) as Json;

/** The JWT with one character of its signature changed. */
function tampered(t: string): string {
  const [h, p, s] = t.split('.');
  const i = Math.floor(s.length / 2);
  return `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
}

beforeAll(async () => {
  backends = await createBackends('session');
  modgate = await startModgate(backends, {
    MODGATE_PRIVATE: 'corp.example.com',
    // Revocation and disabling must bite at once even with a long cache.
    MODGATE_AUTH_CACHE_SECONDS: '30',
    // This suite fails authentication on purpose, many times, from one address.
    MODGATE_AUTH_MAX_FAILURES: '1000',
  });
  const [row] = await (await backends.dataSource()).query(`SELECT id FROM users WHERE login = 'admin'`);
  adminId = row.id;
}, 180_000);

afterAll(async () => {
  if (process.env.MODGATE_E2E_LOG && modgate) writeFileSync(process.env.MODGATE_E2E_LOG, modgate.output());
  await modgate?.stop();
  await backends?.cleanup();
});

describe('POST /api/v1/auth/token', () => {
  it('exchanges the admin token for a JWT that works as Bearer', async () => {
    const r = await api('POST', '/auth/token');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json).toEqual({ accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), tokenType: 'Bearer', expiresIn: 900 });
    const [{ id: tokenId }] = await (await backends.dataSource()).query(`SELECT id FROM api_tokens WHERE public_id = 'testadmin'`);
    // Tied to the token it came from, with that token's scopes and no team restriction.
    expect(claims(r.json.accessToken)).toMatchObject({ sub: adminId, login: 'admin', tid: tokenId, scp: expect.arrayContaining(['admin']) });
    expect(claims(r.json.accessToken)).not.toHaveProperty('teams');

    const jwtAuth = { bearer: r.json.accessToken as string };
    expect((await ok('GET', '/teams', jwtAuth)).items).toEqual([]);
    const me = await ok('GET', '/me', jwtAuth);
    expect(me).toMatchObject({ login: 'admin', via: 'jwt', tokenId });
    expect(await ok('GET', '/auth/session', jwtAuth)).toEqual({
      login: 'admin',
      role: 'admin',
      kind: 'user',
      teams: [],
      via: 'jwt',
      expiresAt: new Date(claims(r.json.accessToken).exp * 1000).toISOString(),
    });
  });

  it('needs credentials', async () => {
    const r = await api('POST', '/auth/token', { bearer: null });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('unauthorized');
  });

  it('mints from a read-only token a JWT that cannot create a team; re-exchanging it gains nothing', async () => {
    const ro = await token('read-only', ['read']);
    const first = await exchange({ bearer: ro.token });
    expect(claims(first.accessToken)).toMatchObject({ tid: ro.id, scp: ['read'] });
    const denied = await api('POST', '/teams', { bearer: first.accessToken, body: { name: 'nope' } });
    expect(denied.status).toBe(403);
    expect(denied.json.message).toMatch(/scope admin/);
    expect((await api('GET', '/teams', { bearer: first.accessToken })).status).toBe(403);
    expect(await ok('GET', '/me', { bearer: first.accessToken })).toMatchObject({ via: 'jwt', tokenId: ro.id, scopes: ['read'] });

    // A JWT for a JWT: the same limits, and no later expiry than the one presented.
    const second = await exchange({ bearer: first.accessToken });
    expect(claims(second.accessToken)).toMatchObject({ tid: ro.id, scp: ['read'] });
    expect(claims(second.accessToken).exp).toBeLessThanOrEqual(claims(first.accessToken).exp);
    expect((await api('POST', '/teams', { bearer: second.accessToken, body: { name: 'nope' } })).status).toBe(403);
  });

  it('carries a team restriction, and expires no later than its token', async () => {
    const team = await ok('POST', '/teams', { body: { name: 'payments' } });
    await ok('PUT', `/teams/${team.id}/members/${adminId}`, { body: { role: 'maintainer' } });
    const expiresAt = new Date(Date.now() + 120_000).toISOString();
    const scoped = await token('payments only', ['read', 'publish'], { teamIds: [team.id], expiresAt });
    const s = await exchange({ bearer: scoped.token });
    expect(claims(s.accessToken)).toMatchObject({ tid: scoped.id, scp: ['read', 'publish'], teams: [team.id] });
    expect(s.expiresIn).toBeLessThanOrEqual(120);
    expect(s.expiresIn).toBeGreaterThan(100);
    expect(await ok('GET', '/me', { bearer: s.accessToken })).toMatchObject({ teamRestriction: [team.id], scopes: ['read', 'publish'] });
    const session = await ok('GET', '/auth/session', { bearer: s.accessToken });
    expect(session.teams).toEqual([{ id: team.id, name: 'payments', role: 'maintainer' }]);
    // An admin's team-restricted credential is no admin credential.
    expect((await api('GET', '/users', { bearer: s.accessToken })).status).toBe(403);
  });

  it('stops at once when its token is revoked', async () => {
    const t = await token('to revoke', ['read', 'publish', 'admin']);
    const s = await exchange({ bearer: t.token });
    expect((await api('GET', '/teams', { bearer: s.accessToken })).status).toBe(200);
    await ok('DELETE', `/tokens/${t.id}`);
    const r = await api('GET', '/teams', { bearer: s.accessToken });
    expect(r.status).toBe(401);
    expect(r.json.message).toMatch(/made from the token mg_\w+, which is revoked or expired/);
    expect((await api('POST', '/auth/token', { bearer: s.accessToken })).status).toBe(401);
  });

  it('refuses a JWT with a tampered signature, as Bearer and as cookie', async () => {
    const s = await exchange({});
    const bad = tampered(s.accessToken);
    const r = await api('GET', '/teams', { bearer: bad });
    expect(r.status).toBe(401);
    expect(r.json.message).toMatch(/session token is not valid/);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const viaCookie = await api('GET', '/teams', { cookie: tampered(await signInSession(adminId, 'admin')) });
    expect(viaCookie.status).toBe(401);
    expect(viaCookie.json.message).toMatch(/browser session is not valid; sign in again at \/auth\/login/);
  });
});

describe('the modgate_session cookie', () => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await signInSession(adminId, 'admin');
  });

  it('authenticates GET and HEAD', async () => {
    expect((await ok('GET', '/teams', { cookie })).items).toEqual(expect.any(Array));
    expect((await api('HEAD', '/teams', { cookie })).status).toBe(200);
    const s = await ok('GET', '/auth/session', { cookie });
    expect(s).toMatchObject({ login: 'admin', role: 'admin', kind: 'user', via: 'cookie', expiresAt: new Date(claims(cookie).exp * 1000).toISOString() });
  });

  it('counts on other methods only with X-ModGate-CSRF: 1', async () => {
    const noHeader = await api('POST', '/teams', { cookie, body: { name: 'csrf-a' } });
    expect(noHeader.status).toBe(401);
    expect(noHeader.json.code).toBe('unauthorized');
    expect((await api('POST', '/teams', { cookie, csrf: '0', body: { name: 'csrf-a' } })).status).toBe(401);
    expect((await api('POST', '/auth/token', { cookie })).status).toBe(401);
    const created = await api('POST', '/teams', { cookie, csrf: '1', body: { name: 'csrf-a' } });
    expect(created.status).toBe(201);
    expect(created.json.name).toBe('csrf-a');
    expect((await api('DELETE', `/teams/${created.json.id}`, { cookie, csrf: '1' })).status).toBe(204);

    // Exchanged for a Bearer JWT that lives no longer than the cookie's session.
    const s = await exchange({ cookie, csrf: '1' });
    expect(claims(s.accessToken)).not.toHaveProperty('tid');
    expect(claims(s.accessToken).exp).toBeLessThanOrEqual(claims(cookie).exp);
    expect((await api('GET', '/teams', { bearer: s.accessToken })).status).toBe(200);
  });

  it('loses to the Authorization header', async () => {
    const ro = await token('header wins', ['read']);
    const r = await api('POST', '/teams', { bearer: ro.token, cookie, csrf: '1', body: { name: 'csrf-b' } });
    expect(r.status).toBe(403);
    expect((await api('GET', '/teams', { bearer: 'mg_nosuchtoken1_' + 'B'.repeat(40), cookie })).status).toBe(401);
    expect((await ok('GET', '/auth/session', { bearer: ro.token, cookie })).via).toBe('token');
  });

  it('is ignored on GOPROXY routes', async () => {
    const path = `${modgate.url}/corp.example.com/nothing/here/@v/list`;
    const anon = await fetch(path);
    expect(anon.status).toBe(401);
    await anon.arrayBuffer();
    const withCookie = await fetch(path, { headers: { cookie: `modgate_session=${cookie}` } });
    expect(withCookie.status).toBe(401);
    await withCookie.arrayBuffer();
    const basic = await fetch(path, { headers: { authorization: adminBasicAuth() } });
    expect(basic.status).toBe(404);
    await basic.arrayBuffer();
  });
});

describe('POST /api/v1/auth/logout', () => {
  it('clears the cookie; needs the CSRF header', async () => {
    const cookie = await signInSession(adminId, 'admin');
    const refused = await api('POST', '/auth/logout', { cookie });
    expect(refused.status).toBe(403);
    expect(refused.headers.getSetCookie()).toEqual([]);

    const r = await api('POST', '/auth/logout', { cookie, csrf: '1' });
    expect(r.status).toBe(204);
    expect(r.headers.getSetCookie()).toEqual(['modgate_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax']);
    // Also without (or with a stale) session: there is nothing to sign in for.
    expect((await api('POST', '/auth/logout', { bearer: null, csrf: '1' })).status).toBe(204);
    expect((await api('POST', '/auth/logout', { cookie: tampered(cookie), csrf: '1' })).status).toBe(204);
  });
});

describe('disabling the user', () => {
  it('stops their JWTs and cookie at once; enabling brings them back', async () => {
    // The last admin cannot be disabled: a second one does it.
    const ops = await ok('POST', '/users', { body: { login: 'ops', role: 'admin' } });
    const opsToken = (await token('ops', ['read', 'publish', 'admin'], { ownerId: ops.id })).token;
    const fromToken = (await exchange({})).accessToken;
    const cookie = await signInSession(adminId, 'admin');
    for (const o of [{ bearer: fromToken }, { cookie }]) expect((await api('GET', '/teams', o)).status).toBe(200);

    await ok('PATCH', `/users/${adminId}`, { bearer: opsToken, body: { disabled: true } });
    for (const o of [{ bearer: fromToken }, { cookie }, { bearer: TEST_ADMIN_TOKEN }]) {
      const r = await api('GET', '/teams', o);
      expect(r.status).toBe(401);
      expect(r.json.message).toMatch(/account for admin is disabled/);
    }
    expect((await api('POST', '/auth/token', { bearer: fromToken })).status).toBe(401);

    await ok('PATCH', `/users/${adminId}`, { bearer: opsToken, body: { disabled: false } });
    expect((await api('GET', '/teams', { bearer: fromToken })).status).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('documents the session routes', async () => {
    const doc = (await (await fetch(`${modgate.url}/api/v1/openapi.json`)).json()) as Json;
    expect(doc.paths['/api/v1/auth/session']).toHaveProperty('get');
    expect(doc.paths['/api/v1/auth/token']).toHaveProperty('post');
    expect(doc.paths['/api/v1/auth/logout']).toHaveProperty('post');
    expect(doc.components.schemas.SessionDto.properties).toHaveProperty('via');
  });
});
