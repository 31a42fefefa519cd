// The audit log through a PostgreSQL outage. ModGate runs on an embedded
// PostgreSQL the test stops and starts. Cached reads keep answering from
// memory while the database is away; their events wait in memory (the
// modgate_audit_events_at_risk gauge) and, beyond 20,000, in spill files;
// a failed authentication is spilled before its 401. When the database is
// back every event is written exactly once, spill files included, and the
// chain verifies. A process killed hard while the database is away loses
// only what the gauge said was at risk; the next process replays its spill
// files. SIGTERM writes the queue, or spills it when the database is away.
// Two cases fail on the writer as it is (see their comments): a spill file
// with a torn last line is never replayed, and a PostgreSQL that stops
// answering (rather than refusing) holds every 401 and lets memory grow
// past the bound.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { freeLoopbackPort } from '../../apps/registry/src/database/embedded-postgres';
import { backendsOnDatabase, startControlledPostgres, type ControlledPostgres } from '../support/embedded-pg';
import { httpCall, type HttpReply } from '../support/http';
import { startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';
import { buildModuleTree, type ModuleTree } from '../support/module-tree';
import { seedVersions } from '../support/seed';
import { tempDir } from '../support/zips';

const MODULE = 'example.com/audit/outage';
const VERSION = 'v1.0.0';
/** AuditWriter's in-memory bound (DEFAULTS.maxInMemory; not configurable). */
const MAX_IN_MEMORY = 20_000;

const pgDir = tempDir('audit-outage-pg');
const dataDir = tempDir('audit-outage');
let port: number;
let pg: ControlledPostgres | null = null;
let tree: ModuleTree;
let backends: SharedBackends;
let ds: DataSource;
const servers: Modgate[] = [];

beforeAll(async () => {
  port = await freeLoopbackPort();
  tree = await buildModuleTree([{ path: MODULE, version: VERSION, files: { 'outage.go': 'package outage\n\n// Up reports true.\nfunc Up() bool { return true }\n' } }]);
  pg = await startControlledPostgres(pgDir, port);
  backends = backendsOnDatabase(pg.url, dataDir);
  await seedVersions(backends, tree.versions); // migrations first (openDatabase), then the real ingest code
  ds = await backends.dataSource();
}, 120000);

afterAll(async () => {
  for (const s of servers) await s.stop('SIGKILL');
  await backends?.cleanup();
  await pg?.stop();
  await rm(pgDir, { recursive: true, force: true });
  tree?.cleanup();
});

async function modgate(env: Record<string, string> = {}): Promise<Modgate> {
  const s = await startModgate(backends, env);
  servers.push(s);
  return s;
}

async function restartPostgres(): Promise<void> {
  pg = await startControlledPostgres(pgDir, port);
}

async function stopPostgres(): Promise<void> {
  const p = pg!;
  pg = null;
  await p.stop();
}

/** Runs n calls, at most `concurrency` at a time; the replies in call order. */
async function hammer(n: number, call: (i: number) => Promise<HttpReply>, concurrency = 32): Promise<HttpReply[]> {
  const out: HttpReply[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await call(i);
      }
    }),
  );
  return out;
}

/** Anonymous cached .info requests, each with the given user agent (it tells the cases apart in the table). */
async function infoRequests(s: Modgate, n: number, ua: string): Promise<string[]> {
  const replies = await hammer(n, () => httpCall(`${s.url}/${MODULE}/@v/${VERSION}.info`, { headers: { 'user-agent': ua } }));
  const statuses = new Map<number, number>();
  for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  expect(Object.fromEntries(statuses)).toEqual({ 200: n });
  return replies.map((r) => String(r.headers['x-request-id']));
}

/**
 * Failed authentications on a GOPROXY path (a malformed Bearer token, refused
 * without a database lookup): each is an auth.failure event, spilled before
 * the 401 while the database is away, plus a denied download.info event.
 */
async function failedLogins(s: Modgate, n: number, ua: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const r = await httpCall(`${s.url}/${MODULE}/@v/${VERSION}.info`, { headers: { 'user-agent': ua, authorization: `Bearer not-a-token-${ua}-${i}` } });
    expect(r.status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(5000); // answered, not held until the database is back
    ids.push(String(r.headers['x-request-id']));
  }
  return ids;
}

async function metric(s: Modgate, name: string): Promise<number> {
  const text = (await httpCall(`${s.url}/metrics`)).text;
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

async function count(ua: string, action: string): Promise<{ rows: number; ids: number }> {
  const [r] = await ds.query(`SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids FROM audit_events WHERE user_agent = $1 AND action = $2`, [ua, action]);
  return r;
}

async function requestIds(ua: string): Promise<string[]> {
  const rows: Array<{ request_id: string }> = await ds.query(`SELECT request_id FROM audit_events WHERE user_agent = $1 AND action = 'download.info'`, [ua]);
  return rows.map((r) => r.request_id).sort();
}

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The test's own pool sees the outage too: a failed probe is "not yet".
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function spillFiles(): string[] {
  const dir = join(dataDir, 'audit-spill');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Events in the spill files now (one JSON line each). */
function spilledLines(): number {
  const dir = join(dataDir, 'audit-spill');
  return spillFiles().reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0);
}

/** The promise's value, or 'timeout' after ms (the promise keeps running). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(t));
}

async function verify(s: Modgate): Promise<{ ok: boolean; rows: number; headSeq: number; brokenAt?: number }> {
  const r = await httpCall(`${s.url}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return JSON.parse(r.text);
}

async function status(url: string): Promise<number> {
  return (await httpCall(url)).status;
}

it('keeps serving cached reads while PostgreSQL is down and writes every event once when it is back', async () => {
  const ua = 'audit-outage/in-memory';
  const N = 200;
  const M = 1500;
  const FAILED = 3;
  const s = await modgate();
  const before = await infoRequests(s, N, ua);
  await waitUntil(`${N} rows before the outage`, async () => (await count(ua, 'download.info')).rows === N);
  const written = await metric(s, 'modgate_audit_events_written_total');

  await stopPostgres();
  const during = await infoRequests(s, M, ua);
  const refused = await failedLogins(s, FAILED, ua);
  // What the rest of ModGate does meanwhile (see the report): liveness stays, readiness drops.
  expect(await status(`${s.url}/healthz`)).toBe(200);
  expect(await status(`${s.url}/readyz`)).toBe(503);
  await waitUntil('a write attempt to fail', async () => (await metric(s, 'modgate_audit_write_failures_total')) > 0, 10000);
  // The downloads (the refused ones too) wait in memory, below the bound
  // nothing is spilled; the security events went to a spill file before their 401.
  expect(await metric(s, 'modgate_audit_events_at_risk')).toBe(M + FAILED);
  expect(await metric(s, 'modgate_audit_events_spilled_total')).toBe(FAILED);
  expect(await metric(s, 'modgate_audit_events_written_total')).toBe(written);
  expect(spillFiles().filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThanOrEqual(1);

  await restartPostgres();
  const total = N + M + FAILED;
  await waitUntil(`${total} download rows after the outage`, async () => (await count(ua, 'download.info')).rows >= total);
  await waitUntil('the spilled security events', async () => (await count(ua, 'auth.failure')).rows >= FAILED);
  await new Promise((r) => setTimeout(r, 1000)); // several flush periods: nothing more may arrive
  expect(await count(ua, 'download.info')).toEqual({ rows: total, ids: total });
  expect(await requestIds(ua)).toEqual([...before, ...during, ...refused].sort());
  expect(await count(ua, 'auth.failure')).toEqual({ rows: FAILED, ids: FAILED });
  const [denied] = await ds.query(`SELECT count(*)::int AS n FROM audit_events WHERE user_agent = $1 AND action = 'auth.failure' AND outcome = 'denied' AND status = 401`, [ua]);
  expect(denied.n).toBe(FAILED);
  expect(spillFiles()).toEqual([]);
  expect(await metric(s, 'modgate_audit_events_at_risk')).toBe(0);
  expect(await metric(s, 'modgate_audit_events_written_total')).toBe(written + M + 2 * FAILED);
  await waitUntil('readiness back', async () => (await status(`${s.url}/readyz`)) === 200, 15000);
  expect(await verify(s)).toMatchObject({ ok: true });
  expect(await s.stop('SIGTERM')).toEqual({ code: 0, signal: null });
});

it('loses only the events at risk when the process is killed while PostgreSQL is down, and replays its spill files', async () => {
  const ua = 'audit-outage/kill-9';
  const N = 100;
  const K = MAX_IN_MEMORY + 2500; // beyond the in-memory bound: the oldest overflow is spilled
  const FAILED = 3;
  if (!pg) await restartPostgres(); // the first case failed half-way
  const first = await modgate();
  await infoRequests(first, N, ua);
  await waitUntil(`${N} rows before the outage`, async () => (await count(ua, 'download.info')).rows === N);

  await stopPostgres();
  const t0 = Date.now();
  const during = await infoRequests(first, K, ua);
  const servedMs = Date.now() - t0;
  during.push(...(await failedLogins(first, FAILED, ua)));
  // The overflow is spilled at the next flush; then nothing moves until the database is back.
  await waitUntil('the overflow spilled', async () => (await metric(first, 'modgate_audit_events_at_risk')) <= MAX_IN_MEMORY, 10000);
  const atRisk = await metric(first, 'modgate_audit_events_at_risk');
  const spilled = await metric(first, 'modgate_audit_events_spilled_total');
  const failures = await metric(first, 'modgate_audit_write_failures_total');
  const files = spillFiles().filter((f) => f.endsWith('.jsonl')).length;
  process.stdout.write(`outage: ${K} requests in ${servedMs} ms; at risk ${atRisk}, spilled ${spilled} in ${files} files, ${failures} failed write attempts\n`);
  expect(atRisk).toBe(MAX_IN_MEMORY);
  expect(spilled).toBe(K + FAILED - MAX_IN_MEMORY + FAILED); // the download overflow (refused ones too), the security events
  expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

  await restartPostgres();
  const t1 = Date.now();
  const second = await modgate(); // same data dir: finds the dead process's spill files
  const expected = N + K + FAILED - atRisk;
  await waitUntil('the spill files replayed', async () => spillFiles().length === 0 && (await count(ua, 'download.info')).rows >= expected, 60000);
  process.stdout.write(`replay: ${files} spill files written within ${Date.now() - t1} ms of the restart\n`);
  await new Promise((r) => setTimeout(r, 1000));
  const downloads = await count(ua, 'download.info');
  expect(downloads.rows).toBeGreaterThanOrEqual(N + K + FAILED - atRisk);
  // Exactly the spilled ones: the gauge was the whole loss, and nothing is written twice.
  expect(downloads).toEqual({ rows: expected, ids: expected });
  const ids = await requestIds(ua);
  const sent = new Set(during);
  expect(ids.filter((id) => !sent.has(id))).toHaveLength(N); // the rest are requests made during the outage
  expect(await count(ua, 'auth.failure')).toEqual({ rows: FAILED, ids: FAILED });
  expect(spillFiles()).toEqual([]);
  expect(await verify(second)).toMatchObject({ ok: true });
  expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
});

it('writes what is queued at SIGTERM before exiting', async () => {
  const ua = 'audit-outage/sigterm-up';
  const N = 500; // below the batch size, and a flush period longer than the test: only the shutdown writes them
  const s = await modgate({ MODGATE_AUDIT_FLUSH_MS: '60000' });
  const ids = await infoRequests(s, N, ua);
  expect(await metric(s, 'modgate_audit_events_at_risk')).toBe(N);
  expect((await count(ua, 'download.info')).rows).toBe(0);
  expect(await s.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  expect(await count(ua, 'download.info')).toEqual({ rows: N, ids: N });
  expect(await requestIds(ua)).toEqual([...ids].sort());
  expect(spillFiles()).toEqual([]);
});

it('spills what is queued at SIGTERM while PostgreSQL is down, and the next process writes it', async () => {
  const ua = 'audit-outage/sigterm-down';
  const N = 800;
  const first = await modgate();
  await stopPostgres();
  const ids = await infoRequests(first, N, ua);
  expect(await metric(first, 'modgate_audit_events_at_risk')).toBe(N);
  const t0 = Date.now();
  expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  const stopMs = Date.now() - t0;
  process.stdout.write(`SIGTERM with the database down: stopped in ${stopMs} ms\n`);
  expect(stopMs).toBeLessThan(15000);
  expect(first.output()).toContain('audit: database unavailable; events kept in a spill file');
  expect(spilledLines()).toBe(N);

  await restartPostgres();
  const second = await modgate();
  await waitUntil('the spill replayed', async () => spillFiles().length === 0 && (await count(ua, 'download.info')).rows >= N);
  await new Promise((r) => setTimeout(r, 1000));
  expect(await count(ua, 'download.info')).toEqual({ rows: N, ids: N });
  expect(await requestIds(ua)).toEqual([...ids].sort());
  expect(await verify(second)).toMatchObject({ ok: true });
  expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
});

// A crash (or a full disk) in the middle of an append leaves a spill file
// whose last line is cut short. The complete lines before it are events
// that were reported stored; the cut one never was.
it('replays the complete lines of a spill file whose last line was torn', async () => {
  const ua = 'audit-outage/torn';
  const N = 50;
  const first = await modgate();
  await stopPostgres();
  await infoRequests(first, N, ua);
  expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  const files = spillFiles();
  expect(files).toHaveLength(1);
  const file = join(dataDir, 'audit-spill', files[0]);
  const text = readFileSync(file, 'utf8');
  const lastLine = text.lastIndexOf('\n', text.length - 2) + 1;
  writeFileSync(file, text.slice(0, lastLine + Math.floor((text.length - lastLine) / 2))); // the last event half written

  await restartPostgres();
  const second = await modgate();
  try {
    await waitUntil('the spill dir emptied', async () => spillFiles().length === 0, 5000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    const left = spillFiles();
    const rows = (await count(ua, 'download.info')).rows;
    const logged = second.output().split('\n').filter((l) => l.includes('audit: writer failed'));
    process.stdout.write(`torn spill file: ${rows} of ${N - 1} complete events written; left in the spill dir: ${JSON.stringify(left)}; ${logged.join(' ')}\n`);
    expect(rows).toBe(N - 1);
    expect(left).toEqual([]);
  } finally {
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    // What a failure leaves behind must not leak into the next case.
    for (const f of spillFiles()) await rm(join(dataDir, 'audit-spill', f));
  }
});

// PostgreSQL that stops answering (a frozen host, a partition) rather than
// refusing connections: the writer's INSERT waits with no timeout. Security
// events must still not hold their request, and memory must stay bounded.
it('answers failed logins and keeps its memory bound when PostgreSQL stops answering', async () => {
  const ua = 'audit-outage/frozen';
  const N = 100;
  const K = MAX_IN_MEMORY + 2500;
  const s = await modgate();
  await infoRequests(s, N, ua);
  await waitUntil(`${N} rows before the freeze`, async () => (await count(ua, 'download.info')).rows === N);
  let login: Promise<HttpReply> | null = null;
  const seen: Record<string, unknown> = {};
  pg!.freeze();
  try {
    const t0 = Date.now();
    await infoRequests(s, K, ua);
    seen.servedMs = Date.now() - t0;
    const t1 = Date.now();
    login = httpCall(`${s.url}/${MODULE}/@v/${VERSION}.info`, { headers: { 'user-agent': ua, authorization: 'Bearer not-a-token-frozen' } });
    const r = await within(login, 10000);
    seen.login = r === 'timeout' ? 'no answer within 10 s' : r.status;
    seen.loginMs = Date.now() - t1;
    await new Promise((r) => setTimeout(r, 1000)); // a few flush periods
    seen.atRisk = await metric(s, 'modgate_audit_events_at_risk');
    seen.spilled = await metric(s, 'modgate_audit_events_spilled_total');
    const ready = await within(httpCall(`${s.url}/readyz`), 10000);
    seen.readyz = ready === 'timeout' ? 'no answer' : ready.status;
  } finally {
    pg!.thaw();
  }
  process.stdout.write(`frozen PostgreSQL: ${JSON.stringify(seen)}\n`);
  // Recovery first (so a failure below still leaves a consistent database behind) …
  const total = N + K + 1;
  expect((await login!).status).toBe(401);
  await waitUntil(`${total} download rows after the thaw`, async () => (await count(ua, 'download.info')).rows >= total, 60000);
  await new Promise((r) => setTimeout(r, 1000));
  expect(await count(ua, 'download.info')).toEqual({ rows: total, ids: total });
  expect(await count(ua, 'auth.failure')).toEqual({ rows: 1, ids: 1 });
  expect(await verify(s)).toMatchObject({ ok: true });
  // … then what happened while it was frozen.
  expect(seen).toMatchObject({ login: 401, readyz: 503 });
  expect(seen.atRisk as number).toBeLessThanOrEqual(MAX_IN_MEMORY);
  expect(await s.stop('SIGTERM')).toEqual({ code: 0, signal: null });
});
