// Access rules against real PostgreSQL: the repository's SQL (team names,
// constraint violations, paging), the service's read-your-writes, and the
// rule cache of a second process following changes through LISTEN/NOTIFY,
// including after its listening connection was killed.
import type { PoolClient } from 'pg';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { AccessRuleRepository, ACCESS_CHANNEL, DuplicateRule, UnknownTeam } from '../../apps/registry/src/access/access-rule.repository';
import { AccessService } from '../../apps/registry/src/access/access.service';
import { SCOPES, type Principal, type TeamRole } from '../../apps/registry/src/auth/principal';
import { GoproxyError } from '../../apps/registry/src/common/goproxy-error';
import { OwnedPaths } from '../../apps/registry/src/config/owned-paths';
import { createTestDatabase, type TestDatabase } from '../support/database';

let db: TestDatabase;
let ds: DataSource;
let repo: AccessRuleRepository;
const team: Record<'payments' | 'web' | 'ledger', string> = { payments: '', web: '', ledger: '' };
const log = pino({ level: 'silent' });
const owned = new OwnedPaths(['corp.example.com']);

function user(login: string, teams: Partial<Record<keyof typeof team, TeamRole>>, role: Principal['role'] = 'user'): Principal {
  const entries = Object.entries(teams) as [keyof typeof team, TeamRole][];
  return {
    kind: 'user',
    userId: login,
    login,
    role,
    teams: new Map(entries.map(([k, r]) => [team[k], r])),
    teamNames: new Map(entries.map(([k]) => [team[k], k])),
    via: 'token',
    tokenId: null,
    scopes: new Set(SCOPES),
    teamRestriction: null,
  };
}
const admin = user('root', {}, 'admin');

function service(opts: { listen?: boolean; pollMs?: number } = {}): AccessService {
  return new AccessService(new AccessRuleRepository(ds), owned, { anonymousRead: false, databaseUrl: opts.listen === false ? null : db.url, pollMs: opts.pollMs ?? 5000, backstopMs: 3_600_000 }, log);
}

/** Polls until `cond` holds; the deadline is well below the 5 s poll, so passing proves the notification. */
async function eventually(cond: () => boolean, ms = 2000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

beforeAll(async () => {
  db = await createTestDatabase('access');
  ds = await db.open();
  repo = new AccessRuleRepository(ds);
  for (const name of Object.keys(team) as (keyof typeof team)[]) {
    [{ id: team[name] }] = await ds.query(`INSERT INTO teams (name) VALUES ($1) RETURNING id`, [name]);
  }
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

beforeEach(async () => {
  await ds.query('DELETE FROM access_rules');
});

describe('AccessRuleRepository', () => {
  it('inserts, finds, updates and deletes rules with their team names, announcing each change', async () => {
    const notices: string[] = [];
    const qr = ds.createQueryRunner();
    const pg = (await qr.connect()) as PoolClient;
    pg.on('notification', (n) => notices.push(`${n.channel}:${n.payload}`));
    await pg.query(`LISTEN ${ACCESS_CHANNEL}`);
    try {
      const r = await repo.insertRule({ pattern: 'corp.example.com/payments', teamId: team.payments, permission: 'publish' }, 'n1');
      expect(r).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), pattern: 'corp.example.com/payments', teamId: team.payments, teamName: 'payments', permission: 'publish' });
      expect(await repo.findRule(r.id)).toEqual(r);
      expect(await repo.updateRule(r.id, { permission: 'admin' }, 'n2')).toEqual({ ...r, permission: 'admin' });
      expect(await repo.updateRule(r.id, { pattern: 'corp.example.com/pay' }, 'n3')).toEqual({ ...r, pattern: 'corp.example.com/pay', permission: 'admin' });
      expect(await repo.deleteRule(r.id, 'n4')).toEqual({ ...r, pattern: 'corp.example.com/pay', permission: 'admin' });
      expect(await repo.findRule(r.id)).toBeNull();
      // Nothing changed, nothing announced.
      expect(await repo.updateRule(r.id, { permission: 'read' }, 'n5')).toBeNull();
      expect(await repo.deleteRule(r.id, 'n6')).toBeNull();
      await eventually(() => notices.length >= 4);
      await new Promise((res) => setTimeout(res, 50));
      expect(notices).toEqual(['modgate_access:n1', 'modgate_access:n2', 'modgate_access:n3', 'modgate_access:n4']);
    } finally {
      await pg.query(`UNLISTEN ${ACCESS_CHANNEL}`);
      await qr.release();
    }
  });

  it('refuses a second rule for the same pattern and team, and unknown teams', async () => {
    await repo.insertRule({ pattern: 'corp.example.com/a', teamId: team.web, permission: 'read' }, 'x');
    expect(await rejected(repo.insertRule({ pattern: 'corp.example.com/a', teamId: team.web, permission: 'admin' }, 'x'))).toBeInstanceOf(DuplicateRule);
    expect(await rejected(repo.insertRule({ pattern: 'corp.example.com/a', teamId: '00000000-0000-4000-8000-000000000000', permission: 'read' }, 'x'))).toBeInstanceOf(UnknownTeam);
    const b = await repo.insertRule({ pattern: 'corp.example.com/b', teamId: team.web, permission: 'read' }, 'x');
    expect(await rejected(repo.updateRule(b.id, { pattern: 'corp.example.com/a' }, 'x'))).toBeInstanceOf(DuplicateRule);
    // Several teams on one pattern are fine.
    await repo.insertRule({ pattern: 'corp.example.com/a', teamId: team.payments, permission: 'read' }, 'x');
    expect((await repo.listAll()).map((r) => `${r.pattern}#${r.teamName}`)).toEqual(['corp.example.com/a#payments', 'corp.example.com/a#web', 'corp.example.com/b#web']);
  });

  it('pages in a stable order with the total, also past the end', async () => {
    for (const p of ['c', 'a', 'b', 'e', 'd']) await repo.insertRule({ pattern: `corp.example.com/${p}`, teamId: team.ledger, permission: 'read' }, 'x');
    const page = await repo.listPage(2, 1);
    expect(page.total).toBe(5);
    expect(page.items.map((r) => r.pattern)).toEqual(['corp.example.com/b', 'corp.example.com/c']);
    expect(await repo.listPage(2, 10)).toEqual({ items: [], total: 5 });
  });

  it('reflects a renamed team and a deleted team (cascade)', async () => {
    const [{ id }] = await ds.query(`INSERT INTO teams (name) VALUES ('tmp') RETURNING id`);
    await repo.insertRule({ pattern: 'corp.example.com/tmp', teamId: id, permission: 'read' }, 'x');
    await ds.query(`UPDATE teams SET name = 'tmp2' WHERE id = $1`, [id]);
    expect((await repo.listAll()).map((r) => r.teamName)).toEqual(['tmp2']);
    await ds.query(`DELETE FROM teams WHERE id = $1`, [id]);
    expect(await repo.listAll()).toEqual([]);
  });
});

describe('AccessService on PostgreSQL', () => {
  let a: AccessService;
  let b: AccessService;

  beforeEach(async () => {
    a = service();
    b = service();
    await Promise.all([a.start(), b.start()]);
  });

  afterEach(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  it('maps constraint violations to 409 and 404 GoproxyErrors', async () => {
    await a.createRule({ pattern: 'corp.example.com/x', teamId: team.web, permission: 'read' }, admin);
    const dup = await rejected(a.createRule({ pattern: 'corp.example.com/x', teamId: team.web, permission: 'admin' }, admin));
    expect(dup).toBeInstanceOf(GoproxyError);
    expect((dup as GoproxyError).status).toBe(409);
    const unknown = await rejected(a.createRule({ pattern: 'corp.example.com/x', teamId: '00000000-0000-4000-8000-000000000000', permission: 'read' }, admin));
    expect((unknown as GoproxyError).status).toBe(404);
    const page = await a.listRules({ limit: 10, offset: 0 });
    expect(page).toMatchObject({ total: 1, limit: 10, offset: 0, items: [{ pattern: 'corp.example.com/x', teamName: 'web' }] });
  });

  it('a change made through one instance reaches the other through NOTIFY, not the poll', async () => {
    const alice = user('alice', { payments: 'publisher' });
    const path = 'corp.example.com/payments/api';
    expect(b.decide(alice, 'publish', path).allowed).toBe(false);

    const rule = await a.createRule({ pattern: 'corp.example.com/payments', teamId: team.payments, permission: 'publish' }, admin);
    expect(a.decide(alice, 'publish', path).allowed).toBe(true); // read-your-writes, no wait
    expect(await eventually(() => b.decide(alice, 'publish', path).allowed)).toBeLessThan(2000);

    await a.updateRule(rule.id, { permission: 'read' }, admin);
    await eventually(() => !b.decide(alice, 'publish', path).allowed && b.decide(alice, 'read', path).allowed);

    // Most specific wins, across instances too.
    await a.createRule({ pattern: 'corp.example.com/payments/api', teamId: team.ledger, permission: 'admin' }, admin);
    await eventually(() => b.decide(alice, 'read', path).reason === 'it belongs to team ledger; ask a ledger maintainer for access');

    await a.deleteRule(rule.id, admin);
    await eventually(() => b.ruleCount === 1);
  });

  it('a change written by any process that announces it (pg_notify) is picked up', async () => {
    await ds.transaction(async (em) => {
      await em.query(`INSERT INTO access_rules (pattern, team_id, permission) VALUES ('corp.example.com/web', $1, 'read')`, [team.web]);
      await em.query(`SELECT pg_notify($1, 'external')`, [ACCESS_CHANNEL]);
    });
    await eventually(() => a.ruleCount === 1 && b.ruleCount === 1);
  });

  it('after its listening connection is killed, an instance reconnects and reloads what it missed', async () => {
    const [{ n }] = await ds.query(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'modgate-access'`,
    );
    expect(n).toBe(2);
    // Written while nobody listens: the notification is lost for both.
    await ds.transaction(async (em) => {
      await em.query(`INSERT INTO access_rules (pattern, team_id, permission) VALUES ('corp.example.com/missed', $1, 'read')`, [team.web]);
      await em.query(`SELECT pg_notify($1, 'missed')`, [ACCESS_CHANNEL]);
    });
    await eventually(() => a.ruleCount === 1 && b.ruleCount === 1, 4000);
    // And it listens again.
    const dora = user('dora', { web: 'reader' });
    await a.createRule({ pattern: 'corp.example.com/after', teamId: team.web, permission: 'read' }, admin);
    await eventually(() => b.decide(dora, 'read', 'corp.example.com/after/x').allowed);
  });

  it('without a LISTEN connection it polls (≤ 5 s)', async () => {
    const polling = service({ listen: false, pollMs: 100 });
    await polling.start();
    try {
      await a.createRule({ pattern: 'corp.example.com/polled', teamId: team.web, permission: 'read' }, admin);
      await eventually(() => polling.ruleCount === 1, 1000);
    } finally {
      await polling.stop();
    }
  });

  it('a warm check makes no database round trip', async () => {
    await a.createRule({ pattern: 'corp.example.com/payments', teamId: team.payments, permission: 'read' }, admin);
    await eventually(() => b.ruleCount === 1);
    const spy = jest.spyOn(ds, 'query');
    const alice = user('alice', { payments: 'reader' });
    for (let i = 0; i < 10_000; i++) b.require(alice, 'read', `corp.example.com/payments/m${i % 50}`);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});
