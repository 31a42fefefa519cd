/**
 * One audit event, before it has a place in the chain. Plain data; made on
 * request paths, so building one must stay cheap (no hashing, no I/O).
 */
export type AuditOutcome = 'allowed' | 'denied' | 'error';

export interface AuditEvent {
  /**
   * Unique per event, made when it happens: a write that is retried or
   * replayed from a spill file is recognised and skipped. Not hashed (the
   * chain covers what happened, not how it was delivered).
   */
  readonly eventId?: string;
  readonly at: Date;
  readonly principalKind: 'user' | 'service' | 'anonymous';
  readonly principalId: string | null;
  readonly principal: string;
  /** The token's id, never the token. */
  readonly tokenId: string | null;
  /** Team names of the principal at the time (for per-team queries). */
  readonly teams: readonly string[];
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  /** e.g. download.zip, publish, version.delete, login, token.create, admin.team.update */
  readonly action: string;
  readonly module: string | null;
  readonly version: string | null;
  readonly outcome: AuditOutcome;
  readonly status: number | null;
  readonly reason: string | null;
  readonly bytes: number | null;
  /** Admin changes: {before, after} with secrets redacted. Canonical JSON text. */
  readonly details: string | null;
}

/** A row of the chain: the event, its sequence number and hashes. */
export interface AuditRow extends AuditEvent {
  readonly seq: number;
  readonly prevHash: Buffer;
  readonly hash: Buffer;
}
