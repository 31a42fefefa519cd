// The hash chain: the canonical row encoding is a format (pinned here byte for
// byte), rows link to the one before, and ChainVerifier names the first
// sequence number that an edit, a gap or a reordering breaks.
import { createHash } from 'node:crypto';
import { canonicalRow, chainHash, chainRows, ChainVerifier, GENESIS } from './chain';
import type { AuditEvent, AuditRow } from './event';

const T0 = Date.parse('2026-11-20T08:00:00.000Z');

function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    at: new Date(T0 + i * 1234),
    principalKind: 'user',
    principalId: '6f1c2a8e-4b7d-4c3e-9a21-0d5e8f7b1c01',
    principal: i % 2 ? 'alice' : 'bob',
    tokenId: `tok${i % 3}`,
    teams: i % 2 ? ['payments'] : ['platform', 'web'],
    sourceIp: '10.0.0.7',
    userAgent: 'Go-http-client/1.1',
    requestId: `req-${i}`,
    action: i % 4 === 0 ? 'download.zip' : 'download.info',
    module: `corp.example.com/svc/m${i % 5}`,
    version: `v1.${i}.0`,
    outcome: 'allowed',
    status: 200,
    reason: null,
    bytes: i % 4 === 0 ? 4096 * i : null,
    details: null,
    ...over,
  };
}

function chainOf(n: number, startSeq = 0, startHash: Buffer = GENESIS): AuditRow[] {
  return chainRows(startSeq, startHash, Array.from({ length: n }, (_, i) => event(startSeq + i + 1)));
}

function verify(rows: readonly AuditRow[], startSeq = 0, startHash: Buffer = GENESIS): ChainVerifier {
  const v = new ChainVerifier(startSeq, startHash);
  for (const r of rows) if (!v.add(r)) break;
  return v;
}

const sha256 = (...parts: Array<Buffer | string>): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('canonicalRow and chainHash (a format: never change them)', () => {
  const e: AuditEvent = {
    at: new Date('2026-11-20T08:00:00.123Z'),
    principalKind: 'service',
    principalId: null,
    principal: 'ci-bot',
    tokenId: 'k7',
    teams: ['b', 'a'],
    sourceIp: '::1',
    userAgent: 'ua "quoted", ünïcødé ✓',
    requestId: null,
    action: 'publish',
    module: 'corp.example.com/x',
    version: 'v0.1.0',
    outcome: 'denied',
    status: 403,
    reason: '',
    bytes: 9007199254740991,
    details: '{"a":1}',
  };
  const pinned =
    '["42","2026-11-20T08:00:00.123Z","service",null,"ci-bot","k7",["b","a"],"::1","ua \\"quoted\\", ünïcødé ✓",null,' +
    '"publish","corp.example.com/x","v0.1.0","denied",403,"",' +
    '"9007199254740991","{\\"a\\":1}"]';

  it('encodes the fields in their fixed order, seq and bytes as strings, null and "" apart', () => {
    expect(canonicalRow(42, e)).toBe(pinned);
    expect(canonicalRow(42, { ...e, bytes: null })).toContain(',"",null,"{');
  });

  it('hashes SHA-256(prev_hash || canonical row as UTF-8)', () => {
    const prev = Buffer.alloc(32, 0xab);
    expect(chainHash(prev, 42, e).toString('hex')).toBe(sha256(prev, Buffer.from(pinned, 'utf8')).toString('hex'));
  });

  it('starts from a genesis of 32 zero bytes', () => {
    expect(GENESIS).toEqual(Buffer.alloc(32));
  });
});

describe('chainRows', () => {
  it('numbers rows consecutively after the head and links each to the one before', () => {
    const rows = chainOf(10);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows[0].prevHash).toEqual(GENESIS);
    rows.forEach((r, i) => {
      if (i > 0) expect(r.prevHash).toEqual(rows[i - 1].hash);
      expect(r.hash).toEqual(chainHash(r.prevHash, r.seq, r));
      expect(r.hash).toHaveLength(32);
    });
  });

  it('gives the same chain whether written in one batch or several', () => {
    const whole = chainOf(9);
    const a = chainOf(4);
    const b = chainOf(5, 4, a[3].hash);
    expect([...a, ...b].map((r) => r.hash.toString('hex'))).toEqual(whole.map((r) => r.hash.toString('hex')));
  });

  it('returns no rows for no events', () => {
    expect(chainRows(7, GENESIS, [])).toEqual([]);
  });

  it('keeps the event fields as given', () => {
    const [r] = chainRows(0, GENESIS, [event(1)]);
    expect(r).toMatchObject({ ...event(1), seq: 1 });
  });
});

describe('ChainVerifier', () => {
  const N = 12;

  it('accepts an intact chain and reports its head', () => {
    const rows = chainOf(N);
    const v = verify(rows);
    expect(v.broken).toBeNull();
    expect(v.rows).toBe(N);
    expect(v.headSeq).toBe(N);
    expect(v.headHash).toEqual(rows[N - 1].hash);
  });

  it('accepts an empty chain (head = start)', () => {
    const v = verify([]);
    expect([v.broken, v.rows, v.headSeq]).toEqual([null, 0, 0]);
    expect(v.headHash).toEqual(GENESIS);
  });

  it('continues from an anchor (the last archived row)', () => {
    const before = chainOf(5);
    const rest = chainOf(7, 5, before[4].hash);
    const v = verify(rest, 5, before[4].hash);
    expect([v.broken, v.rows, v.headSeq]).toEqual([null, 7, 12]);
    expect(verify(rest, 5, GENESIS).broken).toEqual({ seq: 6, problem: expect.stringMatching(/prev_hash/) });
  });

  // One field of row 7 changed in place, its hashes left as they were.
  const edits: Array<[string, Partial<AuditEvent>]> = [
    ['reason', { reason: 'nothing to see here' }],
    ['reason null → ""', { reason: '' }],
    ['principal', { principal: 'mallory' }],
    ['principalKind', { principalKind: 'service' }],
    ['principalId', { principalId: null }],
    ['tokenId', { tokenId: 'tok9' }],
    ['teams', { teams: ['payments', 'admins'] }],
    ['teams order', { teams: ['web', 'platform'] }],
    ['sourceIp', { sourceIp: '10.0.0.8' }],
    ['userAgent', { userAgent: 'curl/8' }],
    ['requestId', { requestId: 'req-x' }],
    ['at (one millisecond)', { at: new Date(T0 + 7 * 1234 + 1) }],
    ['action', { action: 'download.mod' }],
    ['module', { module: 'corp.example.com/svc/other' }],
    ['version', { version: 'v9.9.9' }],
    ['outcome', { outcome: 'denied' }],
    ['status', { status: 403 }],
    ['bytes', { bytes: 1 }],
    ['details', { details: '{}' }],
  ];
  it.each(edits)('reports an edited row (%s) at its seq', (_name, change) => {
    const rows = chainOf(N);
    rows[6] = { ...rows[6], ...change };
    const v = verify(rows);
    expect(v.broken).toEqual({ seq: 7, problem: expect.stringMatching(/edited/) });
    expect(v.rows).toBe(6);
    expect(v.headSeq).toBe(6);
  });

  it('reports an edited row whose own hash was recomputed at the next row (its link)', () => {
    const rows = chainOf(N);
    const edited = { ...rows[6], reason: 'rewritten' };
    rows[6] = { ...edited, hash: chainHash(edited.prevHash, edited.seq, edited) };
    expect(verify(rows).broken).toEqual({ seq: 8, problem: expect.stringMatching(/prev_hash/) });
  });

  it('reports an edited prev_hash or hash at that row', () => {
    const a = chainOf(N);
    a[3] = { ...a[3], prevHash: Buffer.alloc(32, 1) };
    expect(verify(a).broken?.seq).toBe(4);
    const b = chainOf(N);
    const flipped = Buffer.from(b[3].hash);
    flipped[31] ^= 1;
    b[3] = { ...b[3], hash: flipped };
    expect(verify(b).broken?.seq).toBe(4);
  });

  it('reports a missing row (a gap) at the missing seq', () => {
    const rows = chainOf(N);
    const v = verify([...rows.slice(0, 4), ...rows.slice(5)]);
    expect(v.broken).toEqual({ seq: 5, problem: 'rows 5…5 are missing' });
    expect(v.rows).toBe(4);
  });

  it('reports several missing rows at the first of them', () => {
    const rows = chainOf(N);
    expect(verify([...rows.slice(0, 2), ...rows.slice(6)]).broken).toEqual({ seq: 3, problem: 'rows 3…6 are missing' });
  });

  it('reports a missing first row', () => {
    expect(verify(chainOf(N).slice(1)).broken?.seq).toBe(1);
  });

  it('reports rows read in swapped order at the lower seq', () => {
    const rows = chainOf(N);
    const swapped = [...rows];
    [swapped[3], swapped[8]] = [swapped[8], swapped[3]];
    expect(verify(swapped).broken?.seq).toBe(4);
  });

  it('reports two rows whose contents were swapped (seq and hashes kept in place) at the lower seq', () => {
    const rows = chainOf(N);
    const { seq: s3, prevHash: p3, hash: h3, ...e3 } = rows[3];
    const { seq: s8, prevHash: p8, hash: h8, ...e8 } = rows[8];
    rows[3] = { ...e8, seq: s3, prevHash: p3, hash: h3 };
    rows[8] = { ...e3, seq: s8, prevHash: p8, hash: h8 };
    expect(verify(rows).broken).toEqual({ seq: 4, problem: expect.stringMatching(/edited/) });
  });

  it('reports swapped neighbours (just two fields exchanged) at the lower seq', () => {
    const rows = chainOf(N);
    const [a, b] = [rows[5], rows[6]];
    rows[5] = { ...a, action: b.action, principal: b.principal };
    rows[6] = { ...b, action: a.action, principal: a.principal };
    expect(verify(rows).broken?.seq).toBe(6);
  });

  it('reports a repeated row as out of order', () => {
    const rows = chainOf(N);
    expect(verify([...rows.slice(0, 5), rows[4], ...rows.slice(5)]).broken).toEqual({ seq: 6, problem: 'row 5 is out of order' });
  });

  it('cannot see a removed last row by itself: its head is one short (the caller compares with audit_head)', () => {
    const rows = chainOf(N);
    const v = verify(rows.slice(0, -1));
    expect(v.broken).toBeNull();
    expect(v.headSeq).toBe(N - 1);
    expect(v.headHash).toEqual(rows[N - 2].hash);
  });

  it('stops at the first break: later rows are not checked or counted', () => {
    const rows = chainOf(N);
    rows[2] = { ...rows[2], reason: 'x' };
    rows[9] = { ...rows[9], reason: 'y' };
    const v = new ChainVerifier(0, GENESIS);
    const results = rows.map((r) => v.add(r));
    expect(results).toEqual([true, true, ...Array(N - 2).fill(false)]);
    expect(v.broken?.seq).toBe(3);
    expect(v.rows).toBe(2);
  });
});
