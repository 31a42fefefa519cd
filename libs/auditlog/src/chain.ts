import { createHash } from 'node:crypto';
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

/** hash = SHA-256(prev_hash || canonical row). */
export function chainHash(prev: Buffer, seq: number, e: AuditEvent): Buffer {
  return createHash('sha256').update(prev).update(canonicalRow(seq, e), 'utf8').digest();
}

/** Places events after (lastSeq, lastHash): their rows, in order. */
export function chainRows(lastSeq: number, lastHash: Buffer, events: readonly AuditEvent[]): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = lastHash;
  let seq = lastSeq;
  for (const e of events) {
    seq++;
    const hash = chainHash(prev, seq, e);
    rows.push({ ...e, seq, prevHash: prev, hash });
    prev = hash;
  }
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
