// Authentication as the app wires it (IdentityModule + AuthModule in Nest)
// over real PostgreSQL: Basic and Bearer tokens, revocation and disabling at
// once despite a long cache, warm requests without a database round trip,
// batched last use, session JWTs and key rotation, cross-instance
// invalidation through LISTEN/NOTIFY, throttling, and the /api guard.
import { Controller, DynamicModule, Get, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyRequest } from 'fastify';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { CurrentPrincipal, Public, RequireRole, RequireScope } from '../../apps/registry/src/auth/auth.decorators';
import { noCredentialsMessage } from '../../apps/registry/src/auth/auth-messages';
import { AuthModule } from '../../apps/registry/src/auth/auth.module';
import { AuthEvents } from '../../apps/registry/src/identity/auth-events';
import { AuthenticationService } from '../../apps/registry/src/auth/authentication.service';
import { SCOPES, type Principal, type Scope } from '../../apps/registry/src/auth/principal';
import { SessionTokensService } from '../../apps/registry/src/auth/session-tokens.service';
import { SigningKeyStore } from '../../apps/registry/src/auth/signing-key-store';
import { TokenUsage } from '../../apps/registry/src/auth/token-usage';
import { GoproxyErrorFilter } from '../../apps/registry/src/common/goproxy-error.filter';
import { GoproxyError, type ErrorKind } from '../../apps/registry/src/common/goproxy-error';
import { ENV, loadEnv, type Env } from '../../apps/registry/src/config/env';
import { IdentityModule } from '../../apps/registry/src/identity/identity.module';
import { TeamsService } from '../../apps/registry/src/identity/teams.service';
import { TokensService } from '../../apps/registry/src/identity/tokens.service';
import { UsersService, type UserView } from '../../apps/registry/src/identity/users.service';
import { LOGGER } from '../../apps/registry/src/logging/logger';
import { AuditService } from '../../apps/registry/src/audit/audit.service';
import { testAudit } from '../support/audit';
import { createTestDatabase, type TestDatabase } from '../support/database';

@Global()
@Module({})
class TestCore {
  static with(env: Env, ds: DataSource): DynamicModule {
    const providers = [
      { provide: ENV, useValue: env },
      { provide: DataSource, useValue: ds },
      { provide: LOGGER, useValue: pino({ level: 'silent' }) },
      // The real audit log on the suite's database (auth failures are security events).
      { provide: AuditService, useValue: testAudit(ds).audit },
    ];
    return { module: TestCore, providers, exports: providers.map((p) => p.provide) };
  }
}

@Controller()
class ProbeController {
  @Get('api/v1/probe/me')
  me(@CurrentPrincipal() who: Principal) {
    return { login: who.login, via: who.via };
  }
  @Public()
  @Get('api/v1/probe/open')
  open(@CurrentPrincipal() who: Principal) {
    return { login: who.login };
  }
  @RequireScope('publish')
  @Get('api/v1/probe/publish')
  publish() {
    return { ok: true };
  }
  @RequireRole('auditor')
  @Get('api/v1/probe/audit')
  audit() {
    return { ok: true };
  }
  @Get('plain')
  plain() {
    return { ok: true };
  }
}

interface Instance {
  app: NestFastifyApplication;
  ds: DataSource;
  auth: AuthenticationService;
  users: UsersService;
  teams: TeamsService;
  tokens: TokensService;
  sessions: SessionTokensService;
}

let db: TestDatabase;
let a: Instance;
let b: Instance;
let admin: Principal;
let ipSeq = 0;

async function instance(overrides: Record<string, string> = {}): Promise<Instance> {
  const env = loadEnv({ DATABASE_URL: db.url, MODGATE_AUTH_CACHE_SECONDS: '30', MODGATE_AUTH_MAX_FAILURES: '1000', ...overrides });
  const ds = await db.open();
  const ref = await Test.createTestingModule({
    imports: [TestCore.with(env, ds), IdentityModule, AuthModule],
    controllers: [ProbeController],
    providers: [{ provide: APP_FILTER, useClass: GoproxyErrorFilter }],
  }).compile();
  const app = ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, ds, auth: app.get(AuthenticationService), users: app.get(UsersService), teams: app.get(TeamsService), tokens: app.get(TokensService), sessions: app.get(SessionTokensService) };
}

/** A request as Fastify hands it over; a fresh address each time unless given, so throttling stays out of the way. */
function req(authorization?: string, opts: { url?: string; ip?: string } = {}): FastifyRequest {
  return { headers: authorization ? { authorization, host: 'modgate.test' } : { host: 'modgate.test' }, url: opts.url ?? '/corp.example/x/@v/list', ip: opts.ip ?? `127.0.${ipSeq >> 8}.${ipSeq++ & 255}` } as unknown as FastifyRequest;
}
const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

async function rejection(p: Promise<unknown>, kind: ErrorKind = 'unauthorized'): Promise<GoproxyError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${kind}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GoproxyError);
  expect((err as GoproxyError).kind).toBe(kind);
  return err as GoproxyError;
}

async function person(login: string, scopes: Scope[] = ['read']): Promise<{ user: UserView; token: string; tokenId: string }> {
  const user = await a.users.createLocal({ login }, admin);
  const { token, view } = await a.tokens.create(user.id, { name: 'laptop', scopes }, admin);
  return { user, token, tokenId: view.id };
}

beforeAll(async () => {
  db = await createTestDatabase('authn');
  a = await instance();
  b = await instance();
  // The app bootstrap made the first admin; act as that admin's session.
  const [{ id }] = await a.ds.query(`SELECT id FROM users WHERE login = 'admin'`);
  admin = await a.auth.principalForUser(id, 'jwt');
});

afterAll(async () => {
  for (const i of [a, b]) {
    await i?.app.close();
    await i?.ds.destroy();
  }
  await db?.drop();
});

describe('tokens', () => {
  it('accepts Basic with the owner login in any case, and Bearer; no credentials is anonymous', async () => {
    const { user, token, tokenId } = await person('alice');
    const p = await a.auth.authenticate(req(basic('Alice', token)));
    expect(p).toMatchObject({ kind: 'user', userId: user.id, login: 'alice', role: 'user', via: 'token', tokenId, teamRestriction: null });
    expect([...p.scopes]).toEqual(['read']);
    expect((await a.auth.authenticate(req(`Bearer ${token}`))).userId).toBe(user.id);
    expect((await a.auth.authenticate(req())).via).toBe('anonymous');
  });

  it('refuses a wrong login, an unknown public id, a tampered secret and junk, naming the token prefix at most', async () => {
    const { token } = await person('bob');
    const prefix = token.slice(0, 15);
    const wrong = await rejection(a.auth.authenticate(req(basic('mallory', token))));
    expect(wrong.message).toBe(`unauthorized: the token ${prefix} does not belong to login "mallory"; in ~/.netrc use the login of the token's owner`);
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="modgate"');
    const tampered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const t = await rejection(a.auth.authenticate(req(basic('bob', tampered))));
    expect(t.message).toMatch(new RegExp(`^unauthorized: the token ${prefix} for bob is unknown, revoked or expired, or the login does not match; create a token`));
    const unknown = await rejection(a.auth.authenticate(req(`Bearer mg_zzzzzzzzzzzz_${'a'.repeat(43)}`)));
    expect(unknown.message).toContain('mg_zzzzzzzzzzzz is unknown');
    await rejection(a.auth.authenticate(req('Bearer nonsense')));
    await rejection(a.auth.authenticate(req('Digest x=1')));
    const api = await rejection(a.auth.authenticate(req(basic('bob', token), { url: '/api/v1/tokens' })));
    expect(api.headers['www-authenticate']).toBe('Bearer realm="modgate"');
    for (const e of [wrong, t, unknown, api]) expect(e.message).not.toContain(token.slice(16));
  });

  it('stops a revoked token and a disabled user at once, though the cache holds for 30 s', async () => {
    const { user, token, tokenId } = await person('carol');
    const { token: second } = await a.tokens.create(user.id, { name: 'ci', scopes: ['read'] }, admin);
    await a.auth.authenticate(req(basic('carol', token)));
    await a.auth.authenticate(req(basic('carol', second)));
    await a.tokens.revoke(tokenId, admin);
    expect((await rejection(a.auth.authenticate(req(basic('carol', token))))).message).toMatch(/^unauthorized: the token mg_\w+ for carol is revoked; create a token/);
    await a.users.setDisabled(user.id, true, admin);
    expect((await rejection(a.auth.authenticate(req(basic('carol', second))))).message).toMatch(/account for carol is disabled/);
    await a.users.setDisabled(user.id, false, admin);
    expect((await a.auth.authenticate(req(basic('carol', second)))).login).toBe('carol');
  });

  it('refuses an expired token', async () => {
    const u = await a.users.createLocal({ login: 'dave' }, admin);
    const { token } = await a.tokens.create(u.id, { name: 'short', scopes: ['read'], expiresAt: new Date(Date.now() + 800) }, admin);
    await a.auth.authenticate(req(basic('dave', token)));
    await new Promise((r) => setTimeout(r, 900));
    expect((await rejection(a.auth.authenticate(req(basic('dave', token))))).message).toMatch(/for dave is expired/);
  });

  it('answers warm requests without a database round trip, and sees membership changes at once', async () => {
    const { user, token } = await person('erin', ['read', 'publish']);
    const team = await a.teams.create({ name: 'payments' }, admin);
    await a.auth.authenticate(req(basic('erin', token)));
    const spy = jest.spyOn(a.ds, 'query');
    try {
      for (let i = 0; i < 50; i++) await a.auth.authenticate(req(basic('erin', token)));
      expect(spy).not.toHaveBeenCalled();
      await a.teams.setMember(team.id, user.id, 'publisher', admin);
      const p = await a.auth.authenticate(req(basic('erin', token)));
      expect(p.teams.get(team.id)).toBe('publisher');
      expect(p.teamNames.get(team.id)).toBe('payments');
    } finally {
      spy.mockRestore();
    }
  });

  it('records last use in batches, not per request', async () => {
    const { token, tokenId } = await person('frank');
    await a.auth.authenticate(req(basic('frank', token), { ip: '127.9.9.9' }));
    const row = async () => (await a.ds.query('SELECT last_used_at, last_used_ip FROM api_tokens WHERE id = $1', [tokenId]))[0];
    expect((await row()).last_used_at).toBeNull();
    await a.app.get(TokenUsage).flush();
    expect(await row()).toMatchObject({ last_used_ip: '127.9.9.9', last_used_at: expect.any(Date) });
  });
});

describe('session JWTs', () => {
  it('issues HS256 sessions with every scope, verified by kid; rotation keeps old sessions valid', async () => {
    const u = await a.users.createLocal({ login: 'gina' }, admin);
    const first = await a.sessions.issue(u.id);
    expect(first).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    const p = await a.auth.authenticate(req(`Bearer ${first.accessToken}`, { url: '/api/v1/me' }));
    expect(p).toMatchObject({ userId: u.id, login: 'gina', via: 'jwt', tokenId: null });
    expect([...p.scopes]).toEqual([...SCOPES]);

    const oldKid = jwt.decode(first.accessToken, { complete: true })!.header.kid;
    const { kid } = await a.sessions.rotateKey(admin);
    expect(kid).not.toBe(oldKid);
    const second = await a.sessions.issue(u.id);
    expect(jwt.decode(second.accessToken, { complete: true })!.header.kid).toBe(kid);
    for (const t of [first, second]) expect((await a.auth.authenticate(req(`Bearer ${t.accessToken}`))).userId).toBe(u.id);
    // Instance b heard of the new key by NOTIFY (or reloads on the unknown kid).
    expect((await b.auth.authenticate(req(`Bearer ${second.accessToken}`))).userId).toBe(u.id);
    await rejection(a.sessions.rotateKey(await a.auth.principalForUser(u.id, 'jwt')), 'forbidden');
  });

  it('refuses unknown kids, bad signatures, expired sessions and disabled users', async () => {
    const u = await a.users.createLocal({ login: 'hank' }, admin);
    const key = a.app.get(SigningKeyStore).signingKey();
    const claims = { subject: u.id, issuer: 'modgate', audience: 'modgate-api', algorithm: 'HS256' as const };
    const forged = jwt.sign({}, 'x'.repeat(32), { ...claims, keyid: 'deadbeefdeadbeef', expiresIn: 60 });
    expect((await rejection(a.auth.authenticate(req(`Bearer ${forged}`)))).message).toMatch(/session token is not valid/);
    const badSig = jwt.sign({}, 'y'.repeat(32), { ...claims, keyid: key.kid, expiresIn: 60 });
    await rejection(a.auth.authenticate(req(`Bearer ${badSig}`)));
    const expired = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 5 }, key.secret, { ...claims, keyid: key.kid });
    expect((await rejection(a.auth.authenticate(req(`Bearer ${expired}`)))).message).toMatch(/session has expired/);
    const noAlg = jwt.sign({}, '', { ...claims, algorithm: 'none', keyid: key.kid, expiresIn: 60 });
    await rejection(a.auth.authenticate(req(`Bearer ${noAlg}`)));
    const noSubject = jwt.sign({}, key.secret, { issuer: 'modgate', audience: 'modgate-api', algorithm: 'HS256', keyid: key.kid, expiresIn: 60 });
    await rejection(a.auth.authenticate(req(`Bearer ${noSubject}`)));
    const ghost = jwt.sign({}, key.secret, { ...claims, subject: '00000000-0000-0000-0000-000000000000', keyid: key.kid, expiresIn: 60 });
    await rejection(a.auth.authenticate(req(`Bearer ${ghost}`)));

    const good = await a.sessions.issue(u.id);
    await a.auth.authenticate(req(`Bearer ${good.accessToken}`));
    await a.users.setDisabled(u.id, true, admin);
    expect((await rejection(a.auth.authenticate(req(`Bearer ${good.accessToken}`)))).message).toMatch(/hank is disabled/);
    await rejection(a.sessions.issue(u.id), 'forbidden');
  });
});

describe('exchanged sessions (claims tid, scp, teams)', () => {
  const sign = (payload: object, subject: string) => {
    const key = a.app.get(SigningKeyStore).signingKey();
    return jwt.sign(payload, key.secret, { subject, issuer: 'modgate', audience: 'modgate-api', algorithm: 'HS256', keyid: key.kid, expiresIn: 60 });
  };

  it('holds a session to its token: scopes, teams, revocation, and across instances', async () => {
    const { user, tokenId } = await person('mona', ['read', 'publish']);
    const team = await a.teams.create({ name: 'mona-team' }, admin);
    await a.teams.setMember(team.id, user.id, 'reader', admin);
    const { view } = await a.tokens.create(user.id, { name: 'team', scopes: ['read'], teamIds: [team.id] }, admin);
    const s = await a.sessions.issue(user.id, { token: { id: view.id, scopes: ['read'], teamIds: [team.id] } });
    const p = await a.auth.authenticate(req(`Bearer ${s.accessToken}`, { url: '/api/v1/me' }));
    expect(p).toMatchObject({ userId: user.id, via: 'jwt', tokenId: view.id });
    expect([...p.scopes]).toEqual(['read']);
    expect([...p.teamRestriction!]).toEqual([team.id]);

    // Another token's session stops only with that token, here and on B.
    const other = await a.sessions.issue(user.id, { token: { id: tokenId, scopes: ['read', 'publish'], teamIds: null } });
    await b.auth.authenticate(req(`Bearer ${other.accessToken}`));
    await a.tokens.revoke(view.id, admin);
    expect((await rejection(a.auth.authenticate(req(`Bearer ${s.accessToken}`)))).message).toMatch(/made from the token mg_\w+, which is revoked/);
    expect((await a.auth.authenticate(req(`Bearer ${other.accessToken}`))).tokenId).toBe(tokenId);
    await a.tokens.revoke(tokenId, admin);
    await eventually(() => b.auth.authenticate(req(`Bearer ${other.accessToken}`)).then(() => false, () => true));
  });

  it('never outlives the credential it came from', async () => {
    const u = await a.users.createLocal({ login: 'nils' }, admin);
    const s = await a.sessions.issue(u.id, { notAfter: new Date(Date.now() + 30_500) });
    expect(s.expiresIn).toBe(30);
    await rejection(a.sessions.issue(u.id, { notAfter: new Date(Date.now() + 200) }));
  });

  it('refuses malformed claims and a token of someone else, and narrows by scp without a token', async () => {
    const { user } = await person('olga', ['read']);
    const { tokenId: theirs } = await person('pete', ['read']);
    for (const bad of [{ scp: ['read', 'root'] }, { scp: 'read' }, { teams: ['not-a-uuid'] }, { tid: 'x' }, { tid: theirs }]) {
      expect((await rejection(a.auth.authenticate(req(`Bearer ${sign(bad, user.id)}`)))).message).toMatch(/session token is not valid/);
    }
    const p = await a.auth.authenticate(req(`Bearer ${sign({ scp: ['read'] }, user.id)}`));
    expect(p).toMatchObject({ via: 'jwt', tokenId: null, teamRestriction: null });
    expect([...p.scopes]).toEqual(['read']);
  });

  it('reads the session cookie on /api only, and on unsafe methods only with the CSRF header', async () => {
    const u = await a.users.createLocal({ login: 'quinn' }, admin);
    const { accessToken } = await a.sessions.issue(u.id);
    const withCookie = (method: string, url: string, extra: Record<string, string> = {}) =>
      ({ method, url, ip: `127.1.${ipSeq >> 8}.${ipSeq++ & 255}`, headers: { host: 'modgate.test', cookie: `modgate_session=${accessToken}`, ...extra } }) as unknown as FastifyRequest;
    const got = await a.auth.identify(withCookie('GET', '/api/v1/me'));
    expect(got.principal.login).toBe('quinn');
    expect(got.credential.via).toBe('cookie');
    expect(got.credential.expiresAt!.getTime()).toBe(jwt.decode(accessToken, { json: true })!.exp! * 1000);
    expect((await a.auth.identify(withCookie('POST', '/api/v1/teams'))).principal.via).toBe('anonymous');
    expect((await a.auth.identify(withCookie('POST', '/api/v1/teams', { 'x-modgate-csrf': '1' }))).principal.login).toBe('quinn');
    expect((await a.auth.identify(withCookie('GET', '/corp.example/x/@v/list'))).principal.via).toBe('anonymous');
    // An expired cookie says where to sign in again.
    const key = a.app.get(SigningKeyStore).signingKey();
    const stale = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 5 }, key.secret, { subject: u.id, issuer: 'modgate', audience: 'modgate-api', algorithm: 'HS256', keyid: key.kid });
    const expired = withCookie('GET', '/api/v1/me', { cookie: `modgate_session=${stale}` });
    expect((await rejection(a.auth.identify(expired))).message).toMatch(/browser session has expired; sign in again at \/auth\/login/);
  });
});

describe('across instances (LISTEN/NOTIFY)', () => {
  it('a revoke or disable in A is refused by B within a second, although B caches for 30 s', async () => {
    const { user, token, tokenId } = await person('ivan');
    const { token: other } = await a.tokens.create(user.id, { name: 'ci', scopes: ['read'] }, admin);
    for (const t of [token, other]) await b.auth.authenticate(req(basic('ivan', t)));
    await expectCachedIn(b, () => b.auth.authenticate(req(basic('ivan', token))));

    await a.tokens.revoke(tokenId, admin);
    const revokedAt = Date.now();
    await eventually(() => b.auth.authenticate(req(basic('ivan', token))).then(() => false, () => true));
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expect((await b.auth.authenticate(req(basic('ivan', other)))).login).toBe('ivan');

    await a.users.setDisabled(user.id, true, admin);
    const disabledAt = Date.now();
    await eventually(() => b.auth.authenticate(req(basic('ivan', other))).then(() => false, () => true));
    expect(Date.now() - disabledAt).toBeLessThan(1000);
  });
});

describe('the listening connection', () => {
  it('comes back after the server drops it, and B follows changes again', async () => {
    const { token, tokenId } = await person('lena');
    const listeners = (since = new Date(0)) =>
      a.ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'modgate-auth-listen' AND datname = current_database() AND backend_start > $1`, [since]);
    const [{ n: before }] = await listeners();
    expect(before).toBe(2);
    const [{ t: dropped }] = await a.ds.query(`SELECT now() AS t`);
    await a.ds.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'modgate-auth-listen' AND datname = current_database()`);
    // Two new listening connections (the terminated ones may still be listed for a moment).
    await eventually(async () => (await listeners(dropped))[0].n === 2);
    // Listening again (and the reconnect's invalidate-all done) in both, before warming B's cache.
    await eventually(async () => a.app.get(AuthEvents).listening && b.app.get(AuthEvents).listening);
    await b.auth.authenticate(req(basic('lena', token)));
    await expectCachedIn(b, () => b.auth.authenticate(req(basic('lena', token))));
    await a.tokens.revoke(tokenId, admin);
    const revokedAt = Date.now();
    await eventually(() => b.auth.authenticate(req(basic('lena', token))).then(() => false, () => true));
    expect(Date.now() - revokedAt).toBeLessThan(1000);
  });
});

describe('throttling', () => {
  it('refuses an address after repeated failures with 429 and Retry-After; others and Go repeats are unaffected', async () => {
    const t = await instance({ MODGATE_AUTH_MAX_FAILURES: '4', MODGATE_AUTH_LOCKOUT_SECONDS: '60' });
    try {
      const u = await t.users.createLocal({ login: 'judy' }, admin);
      const { token } = await t.tokens.create(u.id, { name: 'x', scopes: ['read'] }, admin);
      const ip = '127.8.8.8';
      // The same bad credentials twice in a row (Go 1.24+ repeats a 4xx): one failure.
      await rejection(t.auth.authenticate(req(basic('judy', 'mg_aaaaaaaaaaaa_wrongwrongwrongwrongwrong'), { ip })));
      await rejection(t.auth.authenticate(req(basic('judy', 'mg_aaaaaaaaaaaa_wrongwrongwrongwrongwrong'), { ip })));
      for (let i = 0; i < 3; i++) await rejection(t.auth.authenticate(req(basic(`x${i}`, `mg_bbbbbbbbbbbb_guess${i}guess${i}guess${i}guess`), { ip })));
      const locked = await rejection(t.auth.authenticate(req(basic('judy', token), { ip })), 'too-many-requests');
      expect(locked.message).toMatch(/^too many failed logins from 127\.8\.8\.8; try again in (59|60) s$/);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(50);
      // Another address, and the user from elsewhere, still work.
      expect((await t.auth.authenticate(req(basic('judy', token), { ip: '127.8.8.9' }))).login).toBe('judy');
    } finally {
      await t.app.close();
      await t.ds.destroy();
    }
  });
});

describe('the /api guard', () => {
  it('denies by default on /api, honours @Public, @RequireScope and @RequireRole, and leaves other routes alone', async () => {
    const { token } = await person('kim', ['read']);
    const session = await a.sessions.issue((await a.users.findByLogin('kim'))!.id);
    const [{ id: adminId }] = await a.ds.query(`SELECT id FROM users WHERE login = 'admin'`);
    const adminSession = await a.sessions.issue(adminId);
    const get = (url: string, authorization?: string) => a.app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });

    const anon = await get('/api/v1/probe/me');
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toBe('Bearer realm="modgate"');
    expect(anon.json()).toMatchObject({ code: 'unauthorized' });
    expect((await get('/api/v1/probe/me', `Bearer ${token}`)).json()).toEqual({ login: 'kim', via: 'token' });
    expect((await get('/api/v1/probe/me', basic('kim', token))).statusCode).toBe(401);
    expect((await get('/api/v1/probe/open')).json()).toEqual({ login: 'anonymous' });
    expect((await get('/api/v1/probe/open', `Bearer ${token}`)).json()).toEqual({ login: 'kim' });
    expect((await get('/api/v1/probe/publish', `Bearer ${token}`)).statusCode).toBe(403);
    expect((await get('/api/v1/probe/publish', `Bearer ${session.accessToken}`)).statusCode).toBe(200);
    const denied = await get('/api/v1/probe/audit', `Bearer ${session.accessToken}`);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toMatch(/needs the role auditor; kim has the role user/);
    expect((await get('/api/v1/probe/audit', `Bearer ${adminSession.accessToken}`)).statusCode).toBe(200);
    expect((await get('/plain')).statusCode).toBe(200);
  });

  it('words the GOPROXY no-credentials answer for .netrc', () => {
    expect(noCredentialsMessage('modgate.corp.example')).toBe(
      'unauthorized: no credentials for modgate.corp.example; put "machine modgate.corp.example login <you> password <token>" in ~/.netrc (create a token with "modgate login" or POST /api/v1/tokens)',
    );
  });
});

/** Proves the instance answers from its cache (so a later refusal is the notification's doing). */
async function expectCachedIn(i: Instance, call: () => Promise<unknown>): Promise<void> {
  const spy = jest.spyOn(i.ds, 'query');
  try {
    await call();
    expect(spy).not.toHaveBeenCalled();
  } finally {
    spy.mockRestore();
  }
}

/** Polls an async condition every 10 ms for up to 5 s. */
async function eventually(cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}
