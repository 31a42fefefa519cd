// Two ModGate processes on one database append to one audit chain. Both are
// hammered at once with anonymous downloads (.info and .mod, found and not
// found) and admin writes; afterwards the table holds exactly one row per
// event, numbered 1…n without a gap, each row's prev_hash the hash of the
// row before it, and the chain verifies through either process.
import { GENESIS } from '@modgate/auditlog';
import type { DataSource } from 'typeorm';
import { httpCall, type HttpReply } from '../support/http';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, type ModuleTree } from '../support/module-tree';
import { seedVersions } from '../support/seed';

const MODULE = 'example.com/audit/cluster';
const VERSION = 'v1.0.0';
const UA = 'audit-cluster-test';
/** Each process's requests carry their own user agent, to see whose rows interleave. */
const uaOf = (server: number) => `${UA}/${server}`;

let tree: ModuleTree;
let backends: SharedBackends;
let ds: DataSource;
const servers: Modgate[] = [];

beforeAll(async () => {
  tree = await buildModuleTree([{ path: MODULE, version: VERSION, files: { 'cluster.go': 'package cluster\n\n// Nodes is how many.\nconst Nodes = 2\n' } }]);
  backends = await createBackends('audit-cluster');
  await seedVersions(backends, tree.versions);
  ds = await backends.dataSource();
  // Short batches: many more appends racing for the chain's head.
  for (let i = 0; i < 2; i++) servers.push(await startModgate(backends, { MODGATE_AUDIT_FLUSH_MS: '20' }));
}, 120000);

afterAll(async () => {
  for (const s of servers) await s.stop('SIGKILL');
  await backends?.cleanup();
  tree?.cleanup();
});

/** Runs the calls, at most `concurrency` at a time; the replies in call order. */
async function hammer(calls: Array<() => Promise<HttpReply>>, concurrency = 32): Promise<HttpReply[]> {
  const out: HttpReply[] = new Array(calls.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls.length) {
        const i = next++;
        out[i] = await calls[i]();
      }
    }),
  );
  return out;
}

async function scalar(sql: string, args: unknown[] = []): Promise<number> {
  const [r] = await ds.query(sql, args);
  return Number(Object.values(r)[0]);
}

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('keeps one gap-free chain with a row per event while two processes write at once', async () => {
  // What the two starts recorded (the bootstrap admin, if anything).
  const baseline = await scalar('SELECT count(*) FROM audit_events');

  const downloads: Array<{ server: number; kind: 'info' | 'mod'; found: boolean }> = [];
  for (let i = 0; i < 2000; i++) downloads.push({ server: i % 2, kind: i % 4 < 2 ? 'info' : 'mod', found: i % 10 !== 9 });
  const teams = Array.from({ length: 40 }, (_, i) => ({ server: i % 2, name: `cluster-team-${i}` }));
  const calls: Array<() => Promise<HttpReply>> = [];
  // Admin writes spread through the downloads, so they race with full batches.
  for (let i = 0; i < downloads.length; i++) {
    const d = downloads[i];
    const version = d.found ? VERSION : 'v9.9.9';
    calls.push(() => httpCall(`${servers[d.server].url}/${MODULE}/@v/${version}.${d.kind}`, { headers: { 'user-agent': uaOf(d.server) } }));
    if (i % 50 === 25) {
      const t = teams[(i - 25) / 50];
      calls.push(() =>
        httpCall(`${servers[t.server].url}/api/v1/teams`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json', 'user-agent': uaOf(t.server) },
          body: JSON.stringify({ name: t.name, description: 'made while downloads were being audited' }),
        }),
      );
    }
  }
  const replies = await hammer(calls);
  const byStatus = new Map<number, number>();
  for (const r of replies) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const found = downloads.filter((d) => d.found).length;
  expect(Object.fromEntries(byStatus)).toEqual({ 200: found, 404: downloads.length - found, 201: teams.length });

  const expected = baseline + downloads.length + teams.length;
  await waitUntil(`${expected} rows`, async () => (await scalar('SELECT count(*) FROM audit_events')) >= expected);
  await new Promise((r) => setTimeout(r, 1000)); // several flush periods: nothing more may arrive

  // One row per event, numbered 1…n.
  const [shape] = await ds.query('SELECT count(*)::int AS n, min(seq)::int AS lo, max(seq)::int AS hi FROM audit_events');
  expect(shape).toEqual({ n: expected, lo: 1, hi: expected });
  const [head] = await ds.query('SELECT last_seq::int AS seq FROM audit_head WHERE id = 1');
  expect(head.seq).toBe(expected);
  const rows = async (where: string) => scalar(`SELECT count(*) FROM audit_events WHERE user_agent LIKE $1 AND ${where}`, [`${UA}/%`]);
  expect(await rows(`action = 'download.info'`)).toBe(downloads.filter((d) => d.kind === 'info').length);
  expect(await rows(`action = 'download.mod'`)).toBe(downloads.filter((d) => d.kind === 'mod').length);
  expect(await rows(`action LIKE 'download.%' AND status = 404 AND outcome = 'error'`)).toBe(downloads.length - found);
  expect(await rows(`action = 'admin.team.create' AND outcome = 'allowed' AND principal = 'admin'`)).toBe(teams.length);
  // Each request once: the ids the replies carried are the ids in the table.
  const ids: Array<{ request_id: string }> = await ds.query(`SELECT request_id FROM audit_events WHERE user_agent LIKE $1`, [`${UA}/%`]);
  expect(ids.map((r) => r.request_id).sort()).toEqual(replies.map((r) => String(r.headers['x-request-id'])).sort());

  // Both processes wrote while the other did: their rows alternate in many runs.
  const runs = await scalar(
    `SELECT count(*) FROM (SELECT user_agent, lag(user_agent) OVER (ORDER BY seq) AS before FROM audit_events WHERE user_agent LIKE $1) x
     WHERE before IS DISTINCT FROM user_agent`,
    [`${UA}/%`],
  );
  process.stdout.write(`audit cluster: ${baseline} rows before, ${expected} after; the two processes' rows alternate in ${runs} runs\n`);
  expect(runs).toBeGreaterThan(2);

  // Each row links to the one before it, the first to the genesis.
  const broken = await ds.query(
    `SELECT seq FROM (SELECT seq, prev_hash, lag(hash) OVER (ORDER BY seq) AS before FROM audit_events) x
     WHERE prev_hash IS DISTINCT FROM COALESCE(before, $1::bytea) ORDER BY seq LIMIT 5`,
    [GENESIS],
  );
  expect(broken).toEqual([]);
  const [last] = await ds.query('SELECT h.last_hash = e.hash AS same FROM audit_head h JOIN audit_events e ON e.seq = h.last_seq');
  expect(last.same).toBe(true);

  for (const s of servers) {
    const r = await httpCall(`${s.url}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ ok: true, rows: expected, headSeq: expected });
  }
  for (const s of servers) expect(await s.stop('SIGTERM')).toEqual({ code: 0, signal: null });
});
