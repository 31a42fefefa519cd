// Identity services on real repositories over real PostgreSQL: users (last
// admin, OIDC upsert), teams and OIDC group sync (manual memberships kept),
// tokens (only a hash stored, scope and team rules), and the first-start
// admin bootstrap. Assertions read the rows themselves.
import { createHash } from 'node:crypto';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { SCOPES, type GlobalRole, type Principal, type Scope, type TeamRole } from '../../apps/registry/src/auth/principal';
import { GoproxyError, type ErrorKind } from '../../apps/registry/src/common/goproxy-error';
import { loadEnv, type Env } from '../../apps/registry/src/config/env';
import { AuthEvents, type AuthEvent } from '../../apps/registry/src/identity/auth-events';
import { BootstrapAdmin } from '../../apps/registry/src/identity/bootstrap-admin';
import { parseGroupMap } from '../../apps/registry/src/identity/group-map';
import { TeamsRepository } from '../../apps/registry/src/identity/teams.repository';
import { TeamsService } from '../../apps/registry/src/identity/teams.service';
import { parseToken } from '../../apps/registry/src/identity/token-secret';
import { TokensRepository } from '../../apps/registry/src/identity/tokens.repository';
import { TokensService } from '../../apps/registry/src/identity/tokens.service';
import { UsersRepository } from '../../apps/registry/src/identity/users.repository';
import { UsersService, type UserView } from '../../apps/registry/src/identity/users.service';
import type { AuditService } from '../../apps/registry/src/audit/audit.service';
import { testAudit } from '../support/audit';
import { createTestDatabase, type TestDatabase } from '../support/database';

const log = pino({ level: 'silent' });
let db: TestDatabase;
let ds: DataSource;
let env: Env;
let events: AuthEvents;
let users: UsersService;
let teams: TeamsService;
let tokens: TokensService;
let audit: AuditService;
const seen: AuthEvent[] = [];

/** The system actor used to seed: an admin JWT session. */
let root: Principal;

function principal(u: UserView, opts: { scopes?: Scope[]; teams?: Map<string, TeamRole>; restrict?: string[] } = {}): Principal {
  return {
    kind: u.kind,
    userId: u.id,
    login: u.login,
    role: u.role,
    teams: opts.teams ?? new Map(),
    teamNames: new Map(),
    via: opts.scopes ? 'token' : 'jwt',
    tokenId: null,
    scopes: new Set(opts.scopes ?? SCOPES),
    teamRestriction: opts.restrict ? new Set(opts.restrict) : null,
  };
}

async function failsWith(p: Promise<unknown>, kind: ErrorKind, text?: RegExp): Promise<GoproxyError> {
  const err = await p.then(
    () => {
      throw new Error(`expected a ${kind} error`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GoproxyError);
  expect((err as GoproxyError).kind).toBe(kind);
  if (text) expect((err as GoproxyError).message).toMatch(text);
  return err as GoproxyError;
}

async function user(login: string, role: GlobalRole = 'user'): Promise<UserView> {
  return users.createLocal({ login, role }, root);
}

beforeAll(async () => {
  db = await createTestDatabase('identity');
  ds = await db.open();
  env = loadEnv({ DATABASE_URL: db.url, MODGATE_OIDC_GROUP_MAP: 'cfg-devs=web:publisher,cfg-leads=web:maintainer' });
  events = new AuthEvents(ds, log);
  await events.onModuleInit();
  events.subscribe((e) => seen.push(e));
  const usersRepo = new UsersRepository(ds);
  const teamsRepo = new TeamsRepository(ds);
  ({ audit } = testAudit(ds));
  users = new UsersService(usersRepo, events, audit);
  teams = new TeamsService(teamsRepo, usersRepo, events, env, audit);
  tokens = new TokensService(new TokensRepository(ds), usersRepo, teamsRepo, events, audit);
});

afterAll(async () => {
  await events?.onModuleDestroy();
  await ds?.destroy();
  await db?.drop();
});

beforeEach(async () => {
  await ds.query('TRUNCATE users, teams, team_members, oidc_group_mappings, api_tokens CASCADE');
  const [row] = await ds.query(`INSERT INTO users (login, role) VALUES ('root', 'admin') RETURNING id, login, kind, role, created_at`);
  root = principal({ id: row.id, login: 'root', kind: 'user', role: 'admin', displayName: null, email: null, disabled: false, createdAt: row.created_at, lastLoginAt: null });
  seen.length = 0;
});

describe('users', () => {
  it('creates local users with lower-case logins and refuses duplicates and bad shapes', async () => {
    const alice = await users.createLocal({ login: 'Alice', displayName: ' Alice A. ', email: 'a@corp.example' }, root);
    expect(alice).toMatchObject({ login: 'alice', kind: 'user', role: 'user', displayName: 'Alice A.', disabled: false, lastLoginAt: null });
    await failsWith(users.createLocal({ login: 'ALICE' }, root), 'conflict', /taken/);
    await failsWith(users.createLocal({ login: '-bad' }, root), 'bad-request', /not valid/);
    await failsWith(users.createLocal({ login: 'bob', role: 'owner' as GlobalRole }, root), 'bad-request');
    expect((await users.findByLogin('ALICE'))?.id).toBe(alice.id);
    expect(await users.findByLogin('nobody')).toBeNull();
    await failsWith(users.get('not-a-uuid'), 'not-found');
    const [{ created_by }] = await ds.query('SELECT created_by FROM users WHERE id = $1', [alice.id]);
    expect(created_by).toBe(root.userId);
  });

  it('lets only admins with an admin-scoped credential manage users', async () => {
    const bob = await user('bob');
    await failsWith(users.createLocal({ login: 'carol' }, principal(bob)), 'forbidden');
    const adminRo = principal(await user('ops', 'admin'), { scopes: ['read'] });
    await failsWith(users.setRole(bob.id, 'admin', adminRo), 'forbidden', /admin scope/);
    await failsWith(users.createServiceAccount({ login: 'ci' }, principal(bob)), 'forbidden');
    const ci = await users.createServiceAccount({ login: 'ci-bot', displayName: 'CI' }, root);
    expect(ci).toMatchObject({ kind: 'service', role: 'user', login: 'ci-bot' });
  });

  it('lists with paging, a kind filter and a search', async () => {
    for (const l of ['u1', 'u2', 'u3']) await user(l);
    await users.createServiceAccount({ login: 'svc-x' }, root);
    const page = await users.list({ limit: 2, offset: 1 });
    expect(page).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.items.map((u) => u.login)).toEqual(['svc-x', 'u1']);
    expect((await users.list({ limit: 10, offset: 0 }, { kind: 'service' })).items.map((u) => u.login)).toEqual(['svc-x']);
    expect((await users.list({ limit: 10, offset: 0 }, { q: 'U2' })).items.map((u) => u.login)).toEqual(['u2']);
    expect((await users.list({ limit: 10, offset: 0 }, { q: '%' })).total).toBe(0);
    expect((await users.list({ limit: 100000, offset: -3 })).limit).toBe(500);
  });

  it('never demotes or disables the last enabled admin, and announces role and state changes', async () => {
    await failsWith(users.setRole(root.userId!, 'user', root), 'conflict', /last enabled admin/);
    await failsWith(users.setDisabled(root.userId!, true, root), 'conflict', /last enabled admin/);
    const second = await user('second', 'admin');
    expect((await users.setRole(root.userId!, 'auditor', root)).role).toBe('auditor');
    await failsWith(users.setDisabled(second.id, true, principal(second)), 'conflict');
    expect((await users.setDisabled(root.userId!, true, principal(second))).disabled).toBe(true);
    expect(seen).toEqual([
      { kind: 'user', id: root.userId },
      { kind: 'user', id: root.userId },
    ]);
    await failsWith(users.setRole('00000000-0000-0000-0000-000000000000', 'user', principal(second)), 'not-found');
  });

  it('upserts OIDC users by issuer and subject, sanitising logins and never taking over a local one', async () => {
    const local = await user('alice');
    const a = await users.upsertFromOidc({ issuer: 'https://idp', subject: 's-1', login: 'Alice', displayName: 'Alice', email: 'alice@corp.example' });
    expect(a.login).toBe('alice-2');
    expect(a.id).not.toBe(local.id);
    expect(a.lastLoginAt).toBeInstanceOf(Date);
    const again = await users.upsertFromOidc({ issuer: 'https://idp', subject: 's-1', login: 'renamed', displayName: 'Alice B', email: null });
    expect(again).toMatchObject({ id: a.id, login: 'alice-2', displayName: 'Alice B', email: null });
    const other = await users.upsertFromOidc({ issuer: 'https://other-idp', subject: 's-1', login: 'alice' });
    expect(other.login).toBe('alice-3');
    const weird = await users.upsertFromOidc({ issuer: 'https://idp', subject: 's-2', login: ' _José Müller (ext) ' });
    expect(weird.login).toBe('jose-muller-ext');
    const empty = await users.upsertFromOidc({ issuer: 'https://idp', subject: 's-3', login: '', email: null });
    expect(empty.login).toBe('s-3');
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM users WHERE oidc_issuer IS NOT NULL`);
    expect(n).toBe(4);
  });
});

describe('teams and OIDC groups', () => {
  it('creates, finds by id or name, updates and deletes teams', async () => {
    const web = await teams.create({ name: 'Web', description: 'frontend' }, root);
    expect(web).toMatchObject({ name: 'web', description: 'frontend', memberCount: 0 });
    expect((await teams.get('web')).id).toBe(web.id);
    expect((await teams.get(web.id)).name).toBe('web');
    await failsWith(teams.create({ name: 'web' }, root), 'conflict');
    await failsWith(teams.create({ name: 'no spaces' }, root), 'bad-request');
    await failsWith(teams.get('nope'), 'not-found');
    expect((await teams.update(web.id, { description: 'the web team' }, root)).description).toBe('the web team');
    const bob = await user('bob');
    await teams.setMember(web.id, bob.id, 'reader', root);
    seen.length = 0;
    await teams.delete(web.id, root);
    expect(seen).toEqual([{ kind: 'user', id: bob.id }]);
    expect((await teams.list({ limit: 10, offset: 0 })).total).toBe(0);
  });

  it('lets maintainers (in a session) run their own team only', async () => {
    const web = await teams.create({ name: 'web' }, root);
    const api = await teams.create({ name: 'api' }, root);
    const lead = await user('lead');
    const bob = await user('bob');
    await teams.setMember(web.id, lead.id, 'maintainer', root);
    const leadSession = principal(lead, { teams: new Map([[web.id, 'maintainer' as TeamRole]]) });
    const member = await teams.setMember(web.id, bob.id, 'publisher', leadSession);
    expect(member).toMatchObject({ userId: bob.id, login: 'bob', role: 'publisher', source: 'manual' });
    await failsWith(teams.setMember(api.id, bob.id, 'reader', leadSession), 'forbidden');
    const leadToken = principal(lead, { scopes: ['read', 'publish'], teams: new Map([[web.id, 'maintainer' as TeamRole]]) });
    await failsWith(teams.removeMember(web.id, bob.id, leadToken), 'forbidden');
    await failsWith(teams.delete(web.id, leadSession), 'forbidden');
    await teams.removeMember(web.id, bob.id, leadSession);
    await failsWith(teams.removeMember(web.id, bob.id, leadSession), 'not-found');
    const members = await teams.listMembers('web', { limit: 10, offset: 0 });
    expect(members.items.map((m) => [m.login, m.role])).toEqual([['lead', 'maintainer']]);
  });

  it('syncs OIDC memberships from stored and configured mappings, keeping manual ones', async () => {
    const web = await teams.create({ name: 'web' }, root);
    const api = await teams.create({ name: 'api' }, root);
    const ops = await teams.create({ name: 'ops' }, root);
    const alice = await user('alice');
    await teams.setGroupMapping('g-api', api.id, 'reader', root);
    await teams.setGroupMapping('g-api-pub', api.id, 'publisher', root);
    await teams.setGroupMapping('g-ops', ops.id, 'maintainer', root);
    // A manual membership in ops that a group would also grant: manual wins and stays.
    await teams.setMember(ops.id, alice.id, 'reader', root);

    const roles = async () =>
      Object.fromEntries(
        (await ds.query(`SELECT t.name, m.role, m.source FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.user_id = $1`, [alice.id])).map(
          (r: { name: string; role: string; source: string }) => [r.name, `${r.role}/${r.source}`],
        ),
      );

    await teams.syncOidcGroups(alice.id, ['g-api', 'g-api-pub', 'g-ops', 'cfg-devs', 'unmapped']);
    expect(await roles()).toEqual({ api: 'publisher/oidc', ops: 'reader/manual', web: 'publisher/oidc' });

    await teams.syncOidcGroups(alice.id, ['cfg-leads']);
    expect(await roles()).toEqual({ ops: 'reader/manual', web: 'maintainer/oidc' });

    // Made manual by an admin: the next sync with no groups leaves it alone.
    await teams.setMember(web.id, alice.id, 'reader', root);
    seen.length = 0;
    await teams.syncOidcGroups(alice.id, []);
    expect(await roles()).toEqual({ ops: 'reader/manual', web: 'reader/manual' });
    expect(seen).toEqual([]);

    expect((await teams.listGroupMappings()).map((m) => `${m.group}>${m.teamName}:${m.role}`)).toEqual(['g-api>api:reader', 'g-api-pub>api:publisher', 'g-ops>ops:maintainer']);
    await teams.deleteGroupMapping('g-ops', ops.id, root);
    await failsWith(teams.deleteGroupMapping('g-ops', ops.id, root), 'not-found');
    await failsWith(teams.setGroupMapping('x', api.id, 'reader', principal(alice)), 'forbidden');
  });

  it('parses MODGATE_OIDC_GROUP_MAP and stops on a bad entry', () => {
    expect(parseGroupMap(' a=web:reader , team=x=api:maintainer')).toEqual([
      { group: 'a', teamName: 'web', role: 'reader' },
      { group: 'team=x', teamName: 'api', role: 'maintainer' },
    ]);
    expect(() => parseGroupMap('a=web:owner')).toThrow(/MODGATE_OIDC_GROUP_MAP/);
    expect(() => parseGroupMap('web:reader')).toThrow(/expected group=team:role/);
  });
});

describe('tokens', () => {
  it('stores only the hash of the secret and shows the token once', async () => {
    const alice = await user('alice');
    const { token, view } = await tokens.create(alice.id, { name: 'laptop', scopes: ['read'] }, principal(alice));
    const parsed = parseToken(token)!;
    expect(token).toMatch(/^mg_[a-z2-7]{12}_[A-Za-z0-9]{43}$/);
    expect(view).toMatchObject({ name: 'laptop', ownerId: alice.id, ownerLogin: 'alice', prefix: `mg_${parsed.publicId}`, scopes: ['read'], teamIds: null, revokedAt: null });
    expect(JSON.stringify(view)).not.toContain(parsed.secret);

    const [row] = await ds.query(`SELECT t.*, encode(secret_hash, 'hex') AS hash_hex FROM api_tokens t WHERE id = $1`, [view.id]);
    expect(row.public_id).toBe(parsed.publicId);
    expect(row.hash_hex).toBe(createHash('sha256').update(parsed.secret).digest('hex'));
    const wholeRow = JSON.stringify((await ds.query(`SELECT row_to_json(t)::text AS j FROM api_tokens t WHERE id = $1`, [view.id]))[0].j);
    expect(wholeRow).not.toContain(parsed.secret);
    expect(wholeRow).not.toContain(token);
    expect((await tokens.get(view.id)).prefix).toBe(view.prefix);
    expect((await tokens.list({ ownerId: alice.id }, { limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual([view.id]);
    expect((await tokens.list({ ownerId: 'junk' }, { limit: 10, offset: 0 })).total).toBe(0);
  });

  it('limits scopes by the owner role and by the credential creating the token', async () => {
    const alice = await user('alice');
    const audit = await user('audrey', 'auditor');
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['admin'] }, principal(alice)), 'forbidden', /not allowed for alice/);
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['audit'] }, root), 'forbidden', /role user/);
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: [] }, principal(alice)), 'bad-request');
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['root' as Scope] }, principal(alice)), 'bad-request', /unknown scope/);
    await failsWith(tokens.create(alice.id, { name: '', scopes: ['read'] }, principal(alice)), 'bad-request');
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['read'], expiresAt: new Date(Date.now() - 1000) }, principal(alice)), 'bad-request');
    expect((await tokens.create(audit.id, { name: 'a', scopes: ['audit', 'read', 'read'] }, principal(audit))).view.scopes).toEqual(['read', 'audit']);
    expect((await tokens.create(root.userId!, { name: 'all', scopes: [...SCOPES] }, root)).view.scopes).toEqual([...SCOPES]);
    // A read-only token cannot mint a publish token, even for its own owner.
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['publish'] }, principal(alice, { scopes: ['read'] })), 'forbidden', /lacks scope publish/);
    // Only the owner or an admin.
    const bob = await user('bob');
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['read'] }, principal(bob)), 'forbidden');
    expect((await tokens.create(alice.id, { name: 'by admin', scopes: ['read'] }, root)).view.ownerId).toBe(alice.id);
    await users.setDisabled(bob.id, true, root);
    await failsWith(tokens.create(bob.id, { name: 'x', scopes: ['read'] }, root), 'conflict', /disabled/);
  });

  it('restricts tokens only to teams the owner is in (admins: any)', async () => {
    const web = await teams.create({ name: 'web' }, root);
    const api = await teams.create({ name: 'api' }, root);
    const alice = await user('alice');
    await teams.setMember(web.id, alice.id, 'publisher', root);
    const ok = await tokens.create(alice.id, { name: 'ci', scopes: ['read'], teamIds: [web.id, web.id] }, principal(alice));
    expect(ok.view.teamIds).toEqual([web.id]);
    await failsWith(tokens.create(alice.id, { name: 'ci', scopes: ['read'], teamIds: [api.id] }, principal(alice)), 'forbidden', /not a member/);
    await failsWith(tokens.create(alice.id, { name: 'ci', scopes: ['read'], teamIds: ['00000000-0000-0000-0000-000000000000'] }, principal(alice)), 'not-found');
    await failsWith(tokens.create(alice.id, { name: 'ci', scopes: ['read'], teamIds: [] }, principal(alice)), 'bad-request');
    expect((await tokens.create(root.userId!, { name: 'adm', scopes: ['read'], teamIds: [api.id] }, root)).view.teamIds).toEqual([api.id]);
    // A team-restricted credential stays inside its teams.
    const restricted = principal(alice, { scopes: ['read'], restrict: [web.id] });
    await failsWith(tokens.create(alice.id, { name: 'x', scopes: ['read'] }, restricted), 'forbidden', /team-restricted/);
    expect((await tokens.create(alice.id, { name: 'x', scopes: ['read'], teamIds: [web.id] }, restricted)).view.teamIds).toEqual([web.id]);
  });

  it('revokes once, by the owner or an admin, and announces it', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { view } = await tokens.create(alice.id, { name: 't', scopes: ['read'] }, principal(alice));
    await failsWith(tokens.revoke(view.id, principal(bob)), 'forbidden');
    seen.length = 0;
    const first = await tokens.revoke(view.id, principal(alice));
    expect(first.revokedAt).toBeInstanceOf(Date);
    expect(seen).toEqual([{ kind: 'token', id: view.id }]);
    const second = await tokens.revoke(view.id, root);
    expect(second.revokedAt!.getTime()).toBe(first.revokedAt!.getTime());
    const [{ revoked_by }] = await ds.query('SELECT revoked_by FROM api_tokens WHERE id = $1', [view.id]);
    expect(revoked_by).toBe(alice.id);
    await failsWith(tokens.revoke('00000000-0000-0000-0000-000000000000', root), 'not-found');
  });
});

describe('bootstrap admin', () => {
  const boot = (e: Env) => new BootstrapAdmin(new UsersRepository(ds), events, audit, e, log);

  beforeEach(async () => {
    await ds.query('TRUNCATE users CASCADE');
  });

  it('creates one admin with an all-scopes token, once, and hands the banner out once', async () => {
    const b = boot(env);
    await b.onApplicationBootstrap();
    const lines = b.takeBannerLines('https://modgate.corp.example');
    const token = lines.map((l) => /(mg_[a-z2-7]{12}_[A-Za-z0-9]{43})/.exec(l)?.[1]).find(Boolean)!;
    expect(token).toBeDefined();
    expect(lines.join('\n')).toContain(`machine modgate.corp.example login admin password ${token}`);
    expect(b.takeBannerLines('https://modgate.corp.example')).toEqual([]);

    const rows = await ds.query(`SELECT u.login, u.role, t.scopes, t.public_id FROM users u JOIN api_tokens t ON t.user_id = u.id`);
    expect(rows).toEqual([{ login: 'admin', role: 'admin', scopes: [...SCOPES], public_id: parseToken(token)!.publicId }]);

    // Second start, and several at once: nothing new, nothing to print.
    const again = await Promise.all([boot(env).run(), boot(env).run()]);
    expect(again).toEqual([null, null]);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM api_tokens`);
    expect(n).toBe(1);

    // On record once, by prefix; the token text nowhere in the row.
    const audited = await ds.query(`SELECT principal, outcome, details, to_jsonb(a)::text AS everything FROM audit_events a WHERE action = 'token.create' AND details LIKE '%"bootstrap"%'`);
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ principal: 'admin', outcome: 'allowed' });
    expect(JSON.parse(audited[0].details)).toEqual({ bootstrap: 'generated', adminReenabled: false, tokenRegistered: true, after: { prefix: `mg_${parseToken(token)!.publicId}`, scopes: [...SCOPES] } });
    expect(audited[0].everything).not.toContain(parseToken(token)!.secret);
  });

  it('registers MODGATE_BOOTSTRAP_ADMIN_TOKEN by hash, and re-enables a locked-out admin user', async () => {
    const given = 'mg_bootstrapadmin_ThisIsTheOperatorsSecret0123456789';
    await ds.query(`INSERT INTO users (login, role, disabled) VALUES ('admin', 'user', true)`);
    const e = loadEnv({ DATABASE_URL: db.url, MODGATE_BOOTSTRAP_ADMIN_TOKEN: given });
    const b = boot(e);
    const r = await b.run();
    expect(r).toEqual({ login: 'admin', token: null, prefix: 'mg_bootstrapadmin' });
    const [row] = await ds.query(`SELECT u.role, u.disabled, t.public_id, encode(t.secret_hash, 'hex') AS h FROM users u JOIN api_tokens t ON t.user_id = u.id`);
    expect(row).toEqual({ role: 'admin', disabled: false, public_id: 'bootstrapadmin', h: createHash('sha256').update('ThisIsTheOperatorsSecret0123456789').digest('hex') });
    expect(await boot(e).run()).toBeNull();
    await expect(boot(loadEnv({ DATABASE_URL: db.url, MODGATE_BOOTSTRAP_ADMIN_TOKEN: 'mg_TOO_short_but_valid_for_env' })).run()).rejects.toThrow(/MODGATE_BOOTSTRAP_ADMIN_TOKEN/);
  });
});
