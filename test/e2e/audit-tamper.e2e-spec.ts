// The audit log against someone with database access, on a real ModGate
// process: plain UPDATE, DELETE and TRUNCATE of audit_events are refused by
// the database (for the superuser and for an ordinary role alike), and a
// superuser who switches the trigger off (session_replication_role = replica)
// and edits, deletes or swaps rows is caught by GET /api/v1/audit/verify and
// `modgate audit verify`, which name the first broken sequence number. Each
// tampering is undone from a copy afterwards and the chain checks out again.
import { randomBytes } from 'node:crypto';
import { chainHash, rowFromJson } from '@modgate/auditlog';
import { Client } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { apiClient } from '../support/api';
import { runCli } from '../support/cli';
import { httpCall } from '../support/http';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';

interface Verify {
  ok: boolean;
  rows: number;
  fromSeq: number;
  headSeq: number;
  headHash: string;
  brokenAt?: number;
  problem?: string;
}

let backends: SharedBackends;
let modgate: Modgate;
let ds: DataSource;
/** The report of the untouched chain, taken once the rows are written. */
let intact: Verify;

const bearer = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const admin = apiClient(() => modgate.url, TEST_ADMIN_TOKEN);
const api = <T>(path: string): Promise<T> => admin.ok<T>('GET', path);

const verify = () => api<Verify>('/audit/verify');

async function allEvents(): Promise<Array<{ seq: number; action: string; principal: string }>> {
  return (await api<{ items: Array<{ seq: number; action: string; principal: string }> }>('/audit/events?limit=1000')).items;
}

/** SQL as the superuser with triggers off, on one connection, reset afterwards. */
async function asReplica(fn: (q: QueryRunner) => Promise<void>): Promise<void> {
  const q = ds.createQueryRunner();
  await q.connect();
  try {
    await q.query(`SET session_replication_role = replica`);
    await fn(q);
  } finally {
    await q.query(`RESET session_replication_role`);
    await q.release();
  }
}

/** Puts rows back exactly as they were (from audit_events_copy). */
async function restore(seqs: number[]): Promise<void> {
  await asReplica(async (q) => {
    await q.query(`DELETE FROM audit_events WHERE seq = ANY($1)`, [seqs]);
    await q.query(`INSERT INTO audit_events SELECT * FROM audit_events_copy WHERE seq = ANY($1)`, [seqs]);
  });
}

/** Rows that differ between audit_events and the copy, either way. */
async function differences(): Promise<number> {
  const [{ n }] = await ds.query(
    `SELECT count(*)::int AS n FROM ((SELECT * FROM audit_events EXCEPT SELECT * FROM audit_events_copy) UNION ALL (SELECT * FROM audit_events_copy EXCEPT SELECT * FROM audit_events)) d`,
  );
  return n;
}

/** Tampers (as a superuser), checks what verify says, restores `seqs` and checks the chain is whole again. */
async function tamper(seqs: number[], sql: (q: QueryRunner) => Promise<void>, expectation: (v: Verify) => Promise<void>): Promise<void> {
  await asReplica(sql);
  try {
    expect(await differences()).toBeGreaterThan(0);
    await expectation(await verify());
  } finally {
    await restore(seqs);
  }
  expect(await differences()).toBe(0);
  expect(await verify()).toEqual(intact);
}

const cliEnv = () => ({ MODGATE_REGISTRY: modgate.url, MODGATE_TOKEN: TEST_ADMIN_TOKEN });

beforeAll(async () => {
  backends = await createBackends('audittamper');
  modgate = await startModgate(backends, { MODGATE_PRIVATE: 'corp.example.com' });
  ds = await backends.dataSource();

  // Admin changes (security events, stored before the answer)…
  for (const name of ['payments', 'platform', 'web']) await admin.ok('POST', '/teams', { name, description: `the ${name} team, "quoted", ünïcødé` });
  // …and GOPROXY reads (download events, written in batches every 200 ms).
  const reads = [
    '/corp.example.com/payments/ledger/@v/list',
    '/corp.example.com/payments/ledger/@v/v1.0.0.info',
    '/corp.example.com/payments/ledger/@v/v1.0.0.mod',
    '/corp.example.com/web/site/@v/v0.1.0.zip',
    '/corp.example.com/web/site/@latest',
    '/github.com/acme/lib/@v/list',
  ];
  for (const p of reads) {
    const r = await httpCall(`${modgate.url}${p}`, { headers: { ...bearer, 'user-agent': 'Go-http-client/1.1 (tamper test)' } });
    expect(r.status).toBeLessThan(500);
  }
  const deadline = Date.now() + 15000;
  let events = await allEvents();
  while (events.filter((e) => e.action.startsWith('download.')).length < reads.length) {
    if (Date.now() > deadline) throw new Error(`download events never arrived: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 100));
    events = await allEvents();
  }
  expect(events.filter((e) => e.action === 'admin.team.create')).toHaveLength(3);
  expect(events.length).toBeGreaterThanOrEqual(9);

  intact = await verify();
  expect(intact).toMatchObject({ ok: true, rows: events.length, fromSeq: 0, headSeq: events.length });
  expect(intact.headHash).toMatch(/^[0-9a-f]{64}$/);
  await ds.query(`CREATE TABLE audit_events_copy AS SELECT * FROM audit_events`);
});

afterAll(async () => {
  await modgate?.stop();
  await backends?.cleanup();
});

describe('the database refuses changes to audit_events', () => {
  it.each([
    ['UPDATE', `UPDATE audit_events SET reason = 'tampered' WHERE seq = 2`],
    ['DELETE', `DELETE FROM audit_events WHERE seq = 2`],
    ['TRUNCATE', `TRUNCATE audit_events`],
    ['UPDATE of every row', `UPDATE audit_events SET principal = principal`],
  ])('refuses %s, even for the superuser', async (_what, sql) => {
    await expect(ds.query(sql)).rejects.toThrow(/audit_events is append-only/);
    expect(await differences()).toBe(0);
  });

  it('refuses an ordinary role, with or without the table privileges, and does not let it turn the trigger off', async () => {
    const role = `modgate_app_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await ds.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    let client: Client | null = null;
    try {
      await ds.query(`GRANT SELECT, INSERT ON audit_events TO ${role}`);
      const u = new URL(backends.db.url);
      u.username = role;
      u.password = password;
      client = new Client({ connectionString: u.toString() });
      await client.connect();
      const c = client;
      expect((await c.query(`SELECT count(*)::int AS n FROM audit_events`)).rows[0].n).toBe(intact.rows);

      // What the application's role should have: SELECT, INSERT.
      await expect(c.query(`UPDATE audit_events SET reason = 'tampered' WHERE seq = 2`)).rejects.toThrow(/permission denied for table audit_events/);
      await expect(c.query(`DELETE FROM audit_events WHERE seq = 2`)).rejects.toThrow(/permission denied for table audit_events/);
      await expect(c.query(`TRUNCATE audit_events`)).rejects.toThrow(/permission denied for table audit_events/);
      await expect(c.query(`SET session_replication_role = replica`)).rejects.toThrow(/permission denied to set parameter/);

      // Granted the privileges by mistake, the trigger still refuses.
      await ds.query(`GRANT UPDATE, DELETE, TRUNCATE ON audit_events TO ${role}`);
      await expect(c.query(`UPDATE audit_events SET reason = 'tampered' WHERE seq = 2`)).rejects.toThrow(/audit_events is append-only \(UPDATE refused\)/);
      await expect(c.query(`DELETE FROM audit_events WHERE seq = 2`)).rejects.toThrow(/audit_events is append-only \(DELETE refused\)/);
      await expect(c.query(`TRUNCATE audit_events`)).rejects.toThrow(/audit_events is append-only \(TRUNCATE refused\)/);
      await expect(c.query(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`)).rejects.toThrow(/must be owner/);
    } finally {
      await client?.end();
      await ds.query(`DROP OWNED BY ${role}`);
      await ds.query(`DROP ROLE ${role}`);
    }
    expect(await differences()).toBe(0);
    expect(await verify()).toEqual(intact);
  });
});

describe('a superuser with the trigger off is caught by verify', () => {
  it('an edited reason: broken at that row; the CLI says BROKEN and exits 1', async () => {
    const seq = Math.ceil(intact.headSeq / 2);
    await tamper(
      [seq],
      (q) => q.query(`UPDATE audit_events SET reason = 'nothing happened here' WHERE seq = $1`, [seq]),
      async (v) => {
        expect(v).toMatchObject({ ok: false, brokenAt: seq, problem: expect.stringMatching(/does not match its hash \(edited\)/) });
        expect(v.rows).toBe(seq - 1);
        const cli = await runCli(['audit', 'verify'], { env: cliEnv() });
        expect(cli.code).toBe(1);
        expect(cli.stdout).toContain(`BROKEN at sequence number ${seq}: `);
      },
    );
  });

  it('an edit that also recomputes the row’s own hash: broken at the next row (its link)', async () => {
    const seq = 3;
    const { items } = await api<{ items: Array<Record<string, unknown>> }>(`/audit/events?cursor=${seq - 1}&limit=1`);
    const edited = { ...rowFromJson(items[0]), principal: 'mallory' };
    expect(edited.seq).toBe(seq);
    const hash = chainHash(edited.prevHash, seq, edited);
    await tamper(
      [seq],
      (q) => q.query(`UPDATE audit_events SET principal = 'mallory', hash = $2 WHERE seq = $1`, [seq, hash]),
      async (v) => expect(v).toMatchObject({ ok: false, brokenAt: seq + 1, rows: seq, problem: expect.stringMatching(/prev_hash is not the hash of the row before/) }),
    );
  });

  it('a deleted row in the middle: broken at that seq', async () => {
    const seq = Math.ceil(intact.headSeq / 2) + 1;
    await tamper(
      [seq],
      (q) => q.query(`DELETE FROM audit_events WHERE seq = $1`, [seq]),
      async (v) => {
        expect(v).toMatchObject({ ok: false, brokenAt: seq, rows: seq - 1, problem: `rows ${seq}…${seq} are missing` });
        const cli = await runCli(['audit', 'verify'], { env: cliEnv() });
        expect([cli.code, cli.stdout]).toEqual([1, expect.stringContaining(`BROKEN at sequence number ${seq}:`)]);
      },
    );
  });

  it('two rows with their action and principal swapped: broken at the lower seq', async () => {
    // Two rows that differ in action or principal, so the swap changes both.
    const [pair] = await ds.query(
      `SELECT a.seq AS lo, b.seq AS hi FROM audit_events a JOIN audit_events b ON b.seq > a.seq + 1
       WHERE a.action <> b.action AND a.seq > 1 ORDER BY a.seq, b.seq DESC LIMIT 1`,
    );
    const [lo, hi] = [Number(pair.lo), Number(pair.hi)];
    await tamper(
      [lo, hi],
      (q) =>
        q.query(
          `UPDATE audit_events t SET action = c.action, principal = c.principal FROM audit_events_copy c
           WHERE (t.seq = $1 AND c.seq = $2) OR (t.seq = $2 AND c.seq = $1)`,
          [lo, hi],
        ),
      async (v) => expect(v).toMatchObject({ ok: false, brokenAt: lo, rows: lo - 1 }),
    );
  });

  it('two whole rows swapped (their seq numbers exchanged): broken at the lower seq', async () => {
    const [lo, hi] = [2, intact.headSeq - 1];
    await tamper(
      [lo, hi],
      async (q) => {
        await q.query(`UPDATE audit_events SET seq = -seq WHERE seq IN ($1, $2)`, [lo, hi]);
        await q.query(`UPDATE audit_events SET seq = CASE seq WHEN -$1::bigint THEN $2::bigint ELSE $1::bigint END WHERE seq IN (-$1::bigint, -$2::bigint)`, [lo, hi]);
      },
      async (v) => expect(v).toMatchObject({ ok: false, brokenAt: lo }),
    );
  });

  it('a deleted last row: caught by the head every writer moves', async () => {
    const seq = intact.headSeq;
    await tamper(
      [seq],
      (q) => q.query(`DELETE FROM audit_events WHERE seq = $1`, [seq]),
      async (v) => {
        expect(v).toMatchObject({ ok: false, brokenAt: seq, rows: seq - 1, headSeq: seq - 1, problem: expect.stringMatching(/removed from the end/) });
        const cli = await runCli(['audit', 'verify'], { env: cliEnv() });
        expect([cli.code, cli.stdout]).toEqual([1, expect.stringContaining(`BROKEN at sequence number ${seq}:`)]);
      },
    );
  });

  it('the CLI reports the restored chain intact and exits 0', async () => {
    const cli = await runCli(['audit', 'verify'], { env: cliEnv() });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toBe(`intact: ${intact.rows} rows (1…${intact.headSeq}), head hash ${intact.headHash}\n`);
  });
});
