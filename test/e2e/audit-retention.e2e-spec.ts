// Retention on a real ModGate process (MODGATE_AUDIT_RETENTION_DAYS=40): rows
// of whole past months are archived to the blob store as signed JSON Lines,
// then removed, and nothing else. The archives hold byte for byte the rows
// that were in the table, check out offline with the registry's public key
// (and link to each other: the first starts at the genesis, the next at the
// last hash of the one before), one changed byte fails the check, verify of
// what remains starts at the archived hash and is whole, and a second run
// removes nothing. A month whose chain was tampered with is never archived
// (removing it would hide the break from verify).
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GENESIS, jsonlLine, parseExport, type AuditEvent, type AuditRow, type SignedManifest } from '@modgate/auditlog';
import type { DataSource } from 'typeorm';
import { AuditRetention } from '../../apps/registry/src/audit/audit-retention';
import { AuditSigner } from '../../apps/registry/src/audit/audit-signer';
import type { AuditRepository } from '../../apps/registry/src/audit/audit.repository';
import { makeLogger } from '../../apps/registry/src/logging/logger';
import { apiClient } from '../support/api';
import { testAudit } from '../support/audit';
import { runCli } from '../support/cli';
import { httpCall } from '../support/http';
import { createBackends, startModgate, TEST_ADMIN_TOKEN, type Modgate, type SharedBackends } from '../support/modgate';

const DAY = 86_400_000;
const RETENTION_DAYS = 40;
const NOW = new Date();
/** The first instant of the UTC month `back` months before this one. */
const monthStart = (back: number) => new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth() - back, 1));
const monthName = (back: number) => monthStart(back).toISOString().slice(0, 7);

// Four and three months back are wholly past 40 days whatever today is (the
// later one ended at least 59 days ago); last month is not (it ended at most
// 31 days ago). Two months back is left empty: it may fall either side.
const MONTHS = [
  { back: 4, rows: 260 },
  { back: 3, rows: 170 },
  { back: 1, rows: 90 },
];

interface ArchiveInfo {
  month: string;
  firstSeq: number;
  lastSeq: number;
  rows: number;
  lastHash: string;
  file: string;
  manifest: string;
}

let backends: SharedBackends;
let ds: DataSource;
let repo: AuditRepository;
let work: string;
let modgate: Modgate | null = null;
/** Every row as it was before retention ran, as JSON Lines. */
const before: AuditRow[] = [];

const admin = apiClient(() => modgate!.url, TEST_ADMIN_TOKEN);
const bearer = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const start = async () => (modgate = await startModgate(backends, { MODGATE_AUDIT_RETENTION_DAYS: String(RETENTION_DAYS) }));
const stop = async () => {
  await modgate?.stop();
  modgate = null;
};

function eventAt(back: number, i: number): AuditEvent {
  const denied = i % 23 === 0;
  return {
    at: new Date(monthStart(back).getTime() + i * 3_600_000 + (i % 7) * 1000),
    principalKind: i % 5 === 0 ? 'service' : 'user',
    principalId: randomUUID(),
    principal: i % 5 === 0 ? `ci-${i % 3}` : ['alice', "o'neil", 'zoë "z"'][i % 3],
    tokenId: `tok${i % 4}`,
    teams: i % 2 ? ['payments'] : ['web', 'pay\tments'],
    sourceIp: `10.0.${back}.${i % 250}`,
    userAgent: i % 11 === 0 ? 'Go-http-client/1.1\n🦊, "quoted"' : 'Go-http-client/2.0',
    requestId: `m${back}-r${i}`,
    action: i % 4 === 0 ? 'download.zip' : 'download.info',
    module: `corp.example.com/m${i % 6}`,
    version: `v1.${back}.${i}`,
    outcome: denied ? 'denied' : 'allowed',
    status: denied ? 403 : 200,
    reason: denied ? 'forbidden: not a member of payments' : null,
    bytes: denied ? 0 : 100 + i,
    details: i % 50 === 0 ? JSON.stringify({ note: 'back\\slash', n: i }) : null,
  };
}

async function untilArchives(n: number, timeoutMs = 30_000): Promise<ArchiveInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await admin.ok<ArchiveInfo[]>('GET', '/audit/archives');
    if (list.length >= n || Date.now() > deadline) return list;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function rowCount(): Promise<number> {
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM audit_events`);
  return n;
}

/** The archive's file and manifest, fetched over the API into the work dir. */
async function download(a: ArchiveInfo): Promise<{ file: string; manifestFile: string; signed: SignedManifest; body: Buffer }> {
  const r = await httpCall(`${modgate!.url}${a.file}`, { headers: bearer });
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toBe('application/x-ndjson');
  expect(r.headers['content-disposition']).toBe(`attachment; filename="modgate-audit-archive-${a.month}-${a.firstSeq}.jsonl"`);
  const m = await httpCall(`${modgate!.url}${a.manifest}`, { headers: bearer });
  expect(m.status).toBe(200);
  const file = join(work, `${a.month}.jsonl`);
  await writeFile(file, r.body);
  await writeFile(`${file}.manifest.json`, m.body);
  return { file, manifestFile: `${file}.manifest.json`, signed: JSON.parse(m.text) as SignedManifest, body: r.body };
}

beforeAll(async () => {
  backends = await createBackends('auditretention');
  work = await mkdtemp(join(tmpdir(), 'modgate-auditretention-'));
  ds = await backends.dataSource();
  repo = testAudit(ds).repo;
  // In time order, as a registry writes them: seq and time rise together.
  for (const m of MONTHS) await repo.append(Array.from({ length: m.rows }, (_, i) => eventAt(m.back, i)));
  for await (const r of repo.stream({})) before.push(r);
  expect(before.map((r) => r.seq)).toEqual(Array.from({ length: 520 }, (_, i) => i + 1));
}, 60_000);

afterAll(async () => {
  await stop();
  await repo?.close();
  await backends?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

it('refuses to archive a month whose chain was edited, and removes nothing', async () => {
  // A superuser with the trigger off edits row 100 (in the oldest month).
  await ds.query(`SET session_replication_role = replica; UPDATE audit_events SET principal = 'mallory' WHERE seq = 100; RESET session_replication_role`);
  try {
    await start();
    const deadline = Date.now() + 30_000;
    while (!/retention refused to archive/.test(modgate!.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(modgate!.output()).toContain(`audit: retention refused to archive ${monthName(4)}: the chain is broken at 100`);
    expect(await admin.ok('GET', '/audit/archives')).toEqual([]);
    expect(await rowCount()).toBeGreaterThanOrEqual(520);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM audit_events WHERE seq <= 520`);
    expect(n).toBe(520);
    expect(await admin.ok('GET', '/audit/verify')).toMatchObject({ ok: false, brokenAt: 100 });
  } finally {
    await stop();
    await ds.query(`SET session_replication_role = replica; UPDATE audit_events SET principal = '${before[99].principal.replace(/'/g, "''")}' WHERE seq = 100; RESET session_replication_role`);
  }
}, 60_000);

it('archives the whole months past the retention, and then removes exactly their rows', async () => {
  await start();
  const archives = await untilArchives(2);
  const [a4, a3] = [MONTHS[0].rows, MONTHS[1].rows];
  expect(archives).toEqual([
    { month: monthName(4), firstSeq: 1, lastSeq: a4, rows: a4, lastHash: before[a4 - 1].hash.toString('hex'), file: '/api/v1/audit/archives/1', manifest: '/api/v1/audit/archives/1/manifest' },
    { month: monthName(3), firstSeq: a4 + 1, lastSeq: a4 + a3, rows: a3, lastHash: before[a4 + a3 - 1].hash.toString('hex'), file: `/api/v1/audit/archives/${a4 + 1}`, manifest: `/api/v1/audit/archives/${a4 + 1}/manifest` },
  ]);
  expect(modgate!.output()).toContain('audit: archived and removed rows past the retention');

  // Gone: every row before last month; kept: last month's, and what this process wrote since.
  const [{ first, old, last }] = await ds.query(
    `SELECT min(seq)::int AS first, count(*) FILTER (WHERE at < $1)::int AS old, count(*) FILTER (WHERE at >= $2 AND at < $3)::int AS last FROM audit_events`,
    [monthStart(2), monthStart(1), monthStart(0)],
  );
  expect({ first, old, last }).toEqual({ first: a4 + a3 + 1, old: 0, last: MONTHS[2].rows });
  const kept = await ds.query(`SELECT seq::int FROM audit_events WHERE seq <= 520 ORDER BY seq`);
  expect(kept.map((r: { seq: number }) => r.seq)).toEqual(before.slice(a4 + a3).map((r) => r.seq));

  // What remains is a whole chain from the archived hash on.
  const v = await admin.ok<{ ok: boolean; fromSeq: number; rows: number; headSeq: number }>('GET', '/audit/verify');
  expect(v).toMatchObject({ ok: true, fromSeq: a4 + a3 });
  expect(v.rows).toBe(await rowCount());
}, 60_000);

it('serves archives that hold exactly the removed rows, link up, and check out offline; one changed byte fails', async () => {
  const archives = await admin.ok<ArchiveInfo[]>('GET', '/audit/archives');
  const { publicKey } = await admin.ok<{ publicKey: string }>('GET', '/audit/public-key');
  const pem = join(work, 'modgate-audit.pem');
  await writeFile(pem, publicKey);
  let previous = GENESIS.toString('hex');
  for (const a of archives) {
    const got = await download(a);
    // Byte for byte the rows as they were in the table.
    const expected = before.slice(a.firstSeq - 1, a.lastSeq);
    expect(got.body.toString('utf8')).toBe(expected.map(jsonlLine).join(''));
    const parsed: AuditRow[] = [];
    for await (const r of parseExport(Readable.from([got.body.toString('utf8')]), 'jsonl')) parsed.push(r);
    expect(parsed).toEqual(expected.map(({ eventId: _id, ...r }) => r)); // exports leave out event ids
    expect(got.signed.manifest).toMatchObject({
      kind: 'modgate-audit-archive',
      format: 'jsonl',
      filters: { month: a.month },
      rows: a.rows,
      firstSeq: a.firstSeq,
      lastSeq: a.lastSeq,
      previousHash: previous,
      lastHash: expected.at(-1)!.hash.toString('hex'),
      continuesFrom: expected.at(-1)!.hash.toString('hex'),
      bytes: got.body.length,
    });
    previous = got.signed.manifest.lastHash!;

    const ok = await runCli(['audit', 'check-export', got.file, got.manifestFile, '--public-key', pem]);
    expect(ok.stdout).toMatch(new RegExp(`^OK: ${a.rows} rows \\(${a.firstSeq}…${a.lastSeq}\\)`));
    expect(ok.code).toBe(0);

    const flipped = Buffer.from(got.body);
    const at = Math.floor(flipped.length / 3);
    flipped[at] = flipped[at] === 0x30 ? 0x31 : 0x30;
    await writeFile(got.file, flipped);
    const bad = await runCli(['audit', 'check-export', got.file, got.manifestFile, '--public-key', pem]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED: the file's SHA-256 or size differs from the manifest/);
  }
  // The live log goes on from the last archive's hash.
  const [{ prev }] = await ds.query(`SELECT encode(prev_hash, 'hex') AS prev FROM audit_events ORDER BY seq LIMIT 1`);
  expect(prev).toBe(previous);
  // Fetching an archive is itself on record.
  const fetched = await ds.query(`SELECT details FROM audit_events WHERE action = 'audit.export' ORDER BY seq`);
  expect(fetched.map((r: { details: string }) => (JSON.parse(r.details) as { archive?: string }).archive)).toEqual(archives.map((a) => `modgate-audit-archive-${a.month}-${a.firstSeq}.jsonl`));
}, 60_000);

it('lists and downloads archives with the modgate CLI, ready for check-export', async () => {
  const env = { MODGATE_REGISTRY: modgate!.url, MODGATE_TOKEN: TEST_ADMIN_TOKEN };
  const archives = await admin.ok<ArchiveInfo[]>('GET', '/audit/archives');
  const listed = await runCli(['audit', 'archives'], { env });
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect(listed.stdout).toBe(archives.map((a) => `${a.month}  ${a.firstSeq}…${a.lastSeq}  ${a.rows} rows  last hash ${a.lastHash}\n`).join(''));
  const file = join(work, 'by-cli.jsonl');
  const got = await runCli(['audit', 'archive', archives[1].month, '-o', file], { env });
  expect(got).toMatchObject({ code: 0, stderr: '' });
  expect(await readFile(file, 'utf8')).toBe(before.slice(archives[1].firstSeq - 1, archives[1].lastSeq).map(jsonlLine).join(''));
  const ok = await runCli(['audit', 'check-export', file, `${file}.manifest.json`, '--public-key', join(work, 'modgate-audit.pem')]);
  expect(ok.stdout).toMatch(new RegExp(`^OK: ${archives[1].rows} rows`));
  const missing = await runCli(['audit', 'archive', '1999-01', '-o', join(work, 'none.jsonl')], { env });
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('no archive 1999-01; "modgate audit archives" lists them');
});

it('keeps archives for auditors only, and answers an unknown one with 404', async () => {
  expect((await httpCall(`${modgate!.url}/api/v1/audit/archives`)).status).toBe(401);
  expect((await httpCall(`${modgate!.url}/api/v1/audit/archives/1/manifest`)).status).toBe(401);
  for (const path of ['/api/v1/audit/archives/99999', '/api/v1/audit/archives/nope/manifest']) {
    const r = await httpCall(`${modgate!.url}${path}`, { headers: bearer });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text)).toEqual({ code: 'not-found', message: expect.stringMatching(/^no (audit archive starts at 99999|such audit archive)$/) });
  }
});

it('runs again without removing anything more; later, last month goes too and the chain still verifies', async () => {
  const retention = new AuditRetention(ds, repo, backends.blobs(), () => AuditSigner.fromDatabase(ds), RETENTION_DAYS, makeLogger('silent'));
  const count = await rowCount();
  await expect(retention.run(NOW)).resolves.toBe(0);
  expect(await rowCount()).toBe(count);
  // 40 days on, last month is past the retention too; this month is not.
  await expect(retention.run(new Date(NOW.getTime() + RETENTION_DAYS * DAY))).resolves.toBe(MONTHS[2].rows);
  const archives = await admin.ok<ArchiveInfo[]>('GET', '/audit/archives');
  expect(archives.map((a) => a.month)).toEqual([monthName(4), monthName(3), monthName(1)]);
  const v = await admin.ok<{ ok: boolean; fromSeq: number; rows: number }>('GET', '/audit/verify');
  expect(v).toMatchObject({ ok: true, fromSeq: 520 });
  expect(v.rows).toBe(await rowCount());
  const third = await download(archives[2]);
  expect(third.signed.manifest.previousHash).toBe(before[MONTHS[0].rows + MONTHS[1].rows - 1].hash.toString('hex'));
  const pem = join(work, 'modgate-audit.pem');
  const ok = await runCli(['audit', 'check-export', third.file, third.manifestFile, '--public-key', pem]);
  expect(ok.code).toBe(0);
  expect(JSON.parse(await readFile(third.manifestFile, 'utf8'))).toEqual(third.signed);
}, 60_000);

it('refuses a DELETE of rows (even with the retention flag, unless archived) or of archives, even for the superuser; a removed or made-up archive is caught by verify', async () => {
  await expect(ds.query(`DELETE FROM audit_events WHERE seq = (SELECT min(seq) FROM audit_events)`)).rejects.toThrow(/audit_events is append-only \(DELETE refused\)/);
  await expect(ds.query(`DELETE FROM audit_archives`)).rejects.toThrow(/audit_archives is append-only \(DELETE refused\)/);
  await expect(ds.query(`UPDATE audit_archives SET rows = rows + 1`)).rejects.toThrow(/audit_archives is append-only \(UPDATE refused\)/);
  // Not even with the retention path's flag, for a row no archive covers.
  const q = ds.createQueryRunner();
  await q.connect();
  try {
    await q.startTransaction();
    await q.query(`SELECT set_config('modgate.audit_prune', 'on', true)`);
    await expect(q.query(`DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)`)).rejects.toThrow(/audit_events is append-only \(DELETE refused\)/);
  } finally {
    await q.rollbackTransaction();
    await q.release();
  }
  const replica = async (sql: string, args: unknown[] = []) => {
    const q = ds.createQueryRunner();
    await q.connect();
    try {
      await q.query(`SET session_replication_role = replica`);
      await q.query(sql, args);
    } finally {
      await q.query(`RESET session_replication_role`);
      await q.release();
    }
  };
  await replica(`CREATE TABLE archives_copy AS SELECT * FROM audit_archives`);

  // The newest archive row removed (triggers off): the log seems to start earlier, where rows are gone.
  await replica(`DELETE FROM audit_archives WHERE last_seq = 520`);
  expect(await admin.ok('GET', '/audit/verify')).toMatchObject({ ok: false, brokenAt: 431, problem: 'rows 431…520 are missing' });
  await replica(`INSERT INTO audit_archives SELECT * FROM archives_copy WHERE last_seq = 520`);
  expect(await admin.ok('GET', '/audit/verify')).toMatchObject({ ok: true });

  // Rows cut from the front and a made-up archive row put in their place:
  // the stored chain links up, but no signed manifest stands behind it.
  const [{ hash }] = await ds.query(`SELECT hash FROM audit_events WHERE seq = 522`);
  await replica(`DELETE FROM audit_events WHERE seq BETWEEN 521 AND 522`);
  await replica(
    `INSERT INTO audit_archives (last_seq, first_seq, last_hash, rows, month, blob_key, manifest_key)
     SELECT 522, 521, $1, 2, month, blob_key, manifest_key FROM archives_copy WHERE last_seq = 520`,
    [hash],
  );
  expect(await admin.ok('GET', '/audit/verify')).toMatchObject({ ok: false, brokenAt: 521, problem: expect.stringMatching(/does not match its signed manifest/) });
});
