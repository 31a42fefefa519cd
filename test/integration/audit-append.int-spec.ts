// The audit log's COPY paths against real PostgreSQL. Appending: every field
// comes back exactly as it went in, whatever bytes a caller put in it, the
// chain verifies, and a batch that may have been stored before is written
// once. Exporting: PostgreSQL's JSON Lines are the library's jsonlLine byte
// for byte, its CSV reads back as the stored rows, filters hold.
import { ChainVerifier, csvHeader, GENESIS, jsonlLine, parseExport, type AuditEvent, type AuditRow, type ExportFormat } from '@modgate/auditlog';
import type { DataSource } from 'typeorm';
import { AuditRepository, type AuditFilter, type ExportedRange } from '../../apps/registry/src/audit/audit.repository';
import { createTestDatabase, type TestDatabase } from '../support/database';

let db: TestDatabase;
let ds: DataSource;
let repo: AuditRepository;

beforeAll(async () => {
  db = await createTestDatabase('audit_append');
  ds = await db.open();
  repo = new AuditRepository(ds);
});

afterAll(async () => {
  await repo?.close();
  await ds?.destroy();
  await db?.drop();
});

let n = 0;
function event(over: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  return {
    eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    at: new Date(Date.UTC(2026, 10, 30, 12, 0, 0, n)),
    principalKind: 'user',
    principalId: '11111111-2222-4333-8444-555555555555',
    principal: 'alice',
    tokenId: 'tok1',
    teams: ['payments'],
    sourceIp: '10.0.0.1',
    userAgent: 'Go-http-client/1.1',
    requestId: `req-${n}`,
    action: 'download.zip',
    module: 'corp.example/lib',
    version: 'v1.0.0',
    outcome: 'allowed',
    status: 200,
    reason: null,
    bytes: 1234,
    details: null,
    ...over,
  };
}

async function verify(): Promise<ChainVerifier> {
  const v = new ChainVerifier(0, GENESIS);
  for await (const r of repo.stream({})) v.add(r);
  return v;
}

it('stores every field exactly, for text that COPY reads specially and text that is plain', async () => {
  const nasty = 'tab\there\nnewline\r\\N back\\slash \\. "quoted" {braces} ,comma é ✓ 😀 \u0001';
  const events = [
    event(),
    event({ principal: nasty, userAgent: nasty, reason: nasty, requestId: 'a\\tb', details: JSON.stringify({ before: nasty, after: null }) }),
    event({ teams: ['a"b', 'c\\d', 'e,f', 'g h', '{x}', 'NULL', ''], principalKind: 'anonymous', principalId: null, tokenId: null, sourceIp: null }),
    event({ teams: [], module: null, version: null, status: null, bytes: null, userAgent: null, requestId: null, outcome: 'error', reason: '' }),
    event({ bytes: 2 ** 40, status: 599, action: 'admin.team.update', outcome: 'denied' }),
  ];
  expect(await repo.append(events, { mayBeStored: false })).toBe(events.length);

  const rows = await repo.page({}, 100);
  expect(rows).toHaveLength(events.length);
  rows.forEach((r, i) => {
    const { seq, prevHash, hash, ...stored } = r;
    expect(seq).toBe(i + 1);
    expect(stored).toEqual(events[i]);
    expect(prevHash).toHaveLength(32);
    expect(hash).toHaveLength(32);
  });
  const v = await verify();
  expect(v.broken).toBeNull();
  expect(v.rows).toBe(events.length);
  expect((await repo.head()).hash.equals(v.headHash)).toBe(true);
});

it('skips events already stored when the batch may have been written before, and only then', async () => {
  const before = (await repo.head()).seq;
  const batch = [event(), event(), event()];
  expect(await repo.append(batch.slice(0, 2), { mayBeStored: false })).toBe(2);
  // A retry of the whole batch after an unknown outcome: only the third is new.
  expect(await repo.append(batch, { mayBeStored: true })).toBe(1);
  expect(await repo.append(batch)).toBe(0);
  expect((await repo.head()).seq).toBe(before + 3);
  const v = await verify();
  expect(v.broken).toBeNull();
});

it('refuses a batch with a value the table does not take as a data error, and stores none of it', async () => {
  const before = await repo.head();
  const bad = event({ outcome: 'maybe' as AuditEvent['outcome'] });
  const err = (await repo.append([event(), bad], { mayBeStored: false }).then(() => null, (e: unknown) => e)) as { code?: string } | null;
  expect(err).not.toBeNull();
  expect(String(err?.code)).toMatch(/^2[23]/);
  const after = await repo.head();
  expect(after.seq).toBe(before.seq);
  expect(after.hash.equals(before.hash)).toBe(true);
  // The connection that saw the error is not reused in a broken state.
  expect(await repo.append([event()], { mayBeStored: false })).toBe(1);
  expect((await verify()).broken).toBeNull();
});

async function exported(f: AuditFilter, format: ExportFormat): Promise<{ text: string; range: ExportedRange }> {
  const range: ExportedRange = { rows: -1, first: null, last: null };
  const chunks: Buffer[] = [];
  for await (const c of repo.exportBytes(f, format, range)) chunks.push(c);
  return { text: Buffer.concat(chunks).toString('utf8'), range };
}

async function* once(s: string): AsyncGenerator<string> {
  yield s;
}

describe('exports rendered by PostgreSQL', () => {
  let rows: AuditRow[];
  beforeAll(async () => {
    rows = await repo.page({}, 1000);
    expect(rows.length).toBeGreaterThan(5);
  });

  it('writes JSON Lines exactly as the library does, and says which rows it covered', async () => {
    const { text, range } = await exported({}, 'jsonl');
    expect(text).toBe(rows.map(jsonlLine).join(''));
    expect(range).toEqual({ rows: rows.length, first: rows[0].seq, last: { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash.toString('hex') } });
  });

  it('writes CSV that reads back as the stored rows', async () => {
    const { text, range } = await exported({}, 'csv');
    const back: AuditRow[] = [];
    for await (const r of parseExport(once(csvHeader() + text), 'csv')) back.push(r);
    expect(back.map(({ eventId: _id, ...r }) => r)).toEqual(rows.map(({ eventId: _id, ...r }) => r));
    expect(range.rows).toBe(rows.length);
  });

  it('applies filters, with values that need quoting in SQL, and an empty range', async () => {
    const odd = event({ principal: "o'neil\\ \"x\"", teams: ["t'1"], module: 'corp.example/it\'s', action: 'publish' });
    await repo.append([odd], { mayBeStored: false });
    const all = await repo.page({}, 1000);
    const mine = all.filter((r) => r.principal === odd.principal);
    expect(mine).toHaveLength(1);
    for (const f of [{ principal: odd.principal }, { team: "t'1" }, { module: 'corp.example/it\'s' }, { action: 'publish', from: odd.at, to: new Date(odd.at.getTime() + 1) }]) {
      const { text, range } = await exported(f, 'jsonl');
      expect(text).toBe(jsonlLine(mine[0]));
      expect(range.rows).toBe(1);
    }
    const up = all[2].seq;
    expect((await exported({ upToSeq: up, afterSeq: 1 }, 'jsonl')).text).toBe(all.slice(1, 3).map(jsonlLine).join(''));
    const none = await exported({ principal: 'nobody' }, 'csv');
    expect(none).toEqual({ text: '', range: { rows: 0, first: null, last: null } });
  });
});

it('stops the COPY and closes its connection when the reader stops early (a client that went away)', async () => {
  const many = Array.from({ length: 20_000 }, () => event({ userAgent: 'x'.repeat(200) }));
  await repo.append(many, { mayBeStored: false });
  const range: ExportedRange = { rows: -1, first: null, last: null };
  let chunks = 0;
  for await (const c of repo.exportBytes({}, 'jsonl', range)) {
    expect(c.length).toBeGreaterThan(0);
    if (++chunks === 2) break;
  }
  expect(range.rows).toBe(-1); // not finished: no range reported
  const exporting = async () => Number((await ds.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'modgate-audit-export'`))[0].n);
  for (let i = 0; i < 50 && (await exporting()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await exporting()).toBe(0);
  // And a whole export still works afterwards.
  const { range: whole } = await exported({}, 'csv');
  expect(whole.rows).toBe((await repo.head()).seq);
});
