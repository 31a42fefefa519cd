import * as crypto from 'node:crypto';
import type { AuditEvent, AuditRow } from './event';

/** The prev_hash of the first row ever written. */
export const GENESIS = Buffer.alloc(32);

/**
 * The canonical encoding of a row (everything but its hashes): a JSON array
 * in a fixed field order, numbers that may exceed 2^53 as strings, times as
 * ISO 8601 with milliseconds. Anyone with a row and this function can
 * recompute its hash; the order and spelling here are a format, never change them.
 */
export function canonicalRow(seq: number, e: AuditEvent): string {
  return JSON.stringify([
    String(seq),
    e.at.toISOString(),
    e.principalKind,
    e.principalId,
    e.principal,
    e.tokenId,
    e.teams,
    e.sourceIp,
    e.userAgent,
    e.requestId,
    e.action,
    e.module,
    e.version,
    e.outcome,
    e.status,
    e.reason,
    e.bytes === null ? null : String(e.bytes),
    e.details,
  ]);
}

// The writer hashes every download row: one reused buffer, the one-shot
// crypto.hash (Node ≥ 20.12) instead of a Hash object per row, and hex in
// and out on its loop (no Buffer allocated per row).
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'buffer' | 'hex') => Buffer | string }).hash;
let scratch = Buffer.allocUnsafe(16 * 1024);

function sha256(prev: Buffer | string, row: string, out: 'buffer' | 'hex'): Buffer | string {
  if (!oneShot) {
    const h = crypto.createHash('sha256').update(typeof prev === 'string' ? Buffer.from(prev, 'hex') : prev).update(row, 'utf8');
    return out === 'hex' ? h.digest('hex') : h.digest();
  }
  // At most 3 UTF-8 bytes per UTF-16 unit: room for any row, written in one pass.
  const prevLength = typeof prev === 'string' ? prev.length >>> 1 : prev.length;
  const room = prevLength + row.length * 3;
  if (room > scratch.length) scratch = Buffer.allocUnsafe(room * 2);
  if (typeof prev === 'string') scratch.write(prev, 0, prevLength, 'hex');
  else prev.copy(scratch, 0);
  const n = scratch.write(row, prevLength, 'utf8');
  return oneShot('sha256', scratch.subarray(0, prevLength + n), out);
}

/** hash = SHA-256(prev_hash || canonical row). */
export function chainHash(prev: Buffer, seq: number, e: AuditEvent): Buffer {
  return sha256(prev, canonicalRow(seq, e), 'buffer') as Buffer;
}

/**
 * Places events after (lastSeq, lastHash), handing each row's seq and
 * hashes (hex) to `row`: no row objects and no Buffers (the writer's loop).
 * Returns the new head hash, hex.
 */
export function chainEach(lastSeq: number, lastHashHex: string, events: readonly AuditEvent[], row: (seq: number, e: AuditEvent, prevHex: string, hashHex: string) => void): string {
  let prev = lastHashHex;
  let seq = lastSeq;
  for (const e of events) {
    const hash = sha256(prev, canonicalRow(++seq, e), 'hex') as string;
    row(seq, e, prev, hash);
    prev = hash;
  }
  return prev;
}

/** Places events after (lastSeq, lastHash): their rows, in order. */
export function chainRows(lastSeq: number, lastHash: Buffer, events: readonly AuditEvent[]): AuditRow[] {
  const rows: AuditRow[] = [];
  chainEach(lastSeq, lastHash.toString('hex'), events, (seq, e, prevHex, hashHex) => rows.push({ ...e, seq, prevHash: Buffer.from(prevHex, 'hex'), hash: Buffer.from(hashHex, 'hex') }));
  return rows;
}

/**
 * Walks rows in seq order and reports the first that breaks the chain: a
 * gap or reordering in seq, a prev_hash that is not the previous row's
 * hash, or a hash that does not match the row. Constant memory.
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prev: Buffer;
  rows = 0;
  broken: { seq: number; problem: string } | null = null;

  constructor(startSeq: number, startHash: Buffer) {
    this.expectedSeq = startSeq + 1;
    this.prev = startHash;
  }

  /** False once broken (further rows are not checked). */
  add(r: AuditRow): boolean {
    if (this.broken) return false;
    if (r.seq !== this.expectedSeq) return this.fail(this.expectedSeq, r.seq > this.expectedSeq ? `rows ${this.expectedSeq}…${r.seq - 1} are missing` : `row ${r.seq} is out of order`);
    if (!r.prevHash.equals(this.prev)) return this.fail(r.seq, 'its prev_hash is not the hash of the row before');
    if (!chainHash(r.prevHash, r.seq, r).equals(r.hash)) return this.fail(r.seq, 'its content does not match its hash (edited)');
    this.prev = r.hash;
    this.expectedSeq++;
    this.rows++;
    return true;
  }

  get headSeq(): number {
    return this.expectedSeq - 1;
  }

  get headHash(): Buffer {
    return this.prev;
  }

  private fail(seq: number, problem: string): false {
    this.broken = { seq, problem };
    return false;
  }
}
