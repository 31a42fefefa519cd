import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { chainRows, type AuditEvent, type AuditOutcome, type AuditRow } from '@modgate/auditlog';

export interface AuditFilter {
  readonly from?: Date;
  readonly to?: Date;
  readonly principal?: string;
  readonly team?: string;
  /** Module path prefix (element boundaries: `a/b` matches `a/b` and `a/b/c`). */
  readonly module?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  /** Only rows with seq greater than this (cursor). */
  readonly afterSeq?: number;
  /** Only rows with seq up to this (a snapshot of the head). */
  readonly upToSeq?: number;
}

/**
 * Named queries over the audit chain. Appending is the one write: under
 * the lock on audit_head's single row, so concurrent writers (threads or
 * processes) get consecutive sequence numbers and each row's prev_hash is
 * the hash of the row before it.
 */
export class AuditRepository {
  private readonly pool: Pool | null;

  /** With databaseUrl, appends use a small pool of their own with timeouts (see transaction). */
  constructor(
    private readonly ds: DataSource,
    databaseUrl: string | null = null,
  ) {
    this.pool = databaseUrl
      ? new Pool({
          connectionString: databaseUrl,
          max: 2,
          application_name: 'modgate-audit',
          connectionTimeoutMillis: 3000,
          query_timeout: 10_000,
          statement_timeout: 8000,
          idle_in_transaction_session_timeout: 15_000,
        })
      : null;
    // A connection that dies while idle is replaced; never crash on it.
    this.pool?.on('error', () => undefined);
  }

  /**
   * Appends events to the chain, in one transaction; events whose id is
   * already stored (a retry after a timeout, a replayed spill file) are
   * skipped. Returns how many rows were added.
   */
  async append(events: readonly AuditEvent[]): Promise<number> {
    return this.transaction(async (query) => {
      const [head] = await query(`SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE`);
      // Always: a write whose outcome was unknown (a timeout during COMMIT),
      // an overflow spilled while its batch was being written, a replayed
      // spill file. Cheap: the lookup covers only the batch's time window.
      const fresh = await this.notStoredYet(query, events.map((e) => (e.eventId ? e : { ...e, eventId: randomUUID() })));
      if (fresh.length === 0) return 0;
      const rows = chainRows(Number(head.last_seq), head.last_hash, fresh);
      // One JSON parameter for the whole batch: PostgreSQL parses it faster
      // than twenty array parameters, and JSON.stringify is native.
      const batch = JSON.stringify(
        rows.map((r) => ({
          s: r.seq, e: r.eventId, t: r.at.toISOString(), k: r.principalKind, pi: r.principalId, p: r.principal, ti: r.tokenId, tm: r.teams,
          ip: r.sourceIp, ua: r.userAgent, ri: r.requestId, a: r.action, m: r.module, v: r.version, o: r.outcome, st: r.status, rs: r.reason,
          b: r.bytes, d: r.details, ph: r.prevHash.toString('hex'), h: r.hash.toString('hex'),
        })),
      );
      await query(
        `INSERT INTO audit_events (seq, event_id, at, principal_kind, principal_id, principal, token_id, teams, source_ip, user_agent, request_id,
                                   action, module, version, outcome, status, reason, bytes, details, prev_hash, hash)
         SELECT s, e, t, k, pi, p, ti, tm, ip, ua, ri, a, m, v, o, st, rs, b, d, decode(ph, 'hex'), decode(h, 'hex')
         FROM json_to_recordset($1::json) AS r(s bigint, e uuid, t timestamptz, k text, pi uuid, p text, ti text, tm text[], ip text, ua text, ri text,
                                               a text, m text, v text, o text, st int, rs text, b bigint, d text, ph text, h text)`,
        [batch],
      );
      const last = rows[rows.length - 1];
      await query(`UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1`, [last.seq, last.hash]);
      return rows.length;
    });
  }

  /**
   * The events of a batch that may have been stored before (a retry after a
   * write whose outcome is unknown, a replayed spill file) that are not
   * stored yet, and each once. Looked up within the batch's time range.
   */
  private async notStoredYet(query: (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>, events: AuditEvent[]): Promise<AuditEvent[]> {
    let from = Infinity;
    let to = -Infinity;
    for (const e of events) {
      from = Math.min(from, e.at.getTime());
      to = Math.max(to, e.at.getTime());
    }
    const found = await query(`SELECT event_id FROM audit_events WHERE at >= $1 AND at <= $2 AND event_id = ANY($3::uuid[])`, [
      new Date(from),
      new Date(to),
      events.map((e) => e.eventId),
    ]);
    const seen = new Set(found.map((r) => String(r.event_id)));
    return events.filter((e) => !seen.has(e.eventId!) && (seen.add(e.eventId!), true));
  }

  /**
   * The writer's transactions run on a pool of their own with short
   * timeouts, so a database that stops answering fails a write quickly
   * (and the writer spills) instead of holding requests.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of raw SQL, typed where they are read
  private async transaction<T>(fn: (query: (sql: string, params?: unknown[]) => Promise<any[]>) => Promise<T>): Promise<T> {
    if (!this.pool) return this.ds.transaction((em) => fn((sql, params) => em.query(sql, params)));
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(async (sql, params) => (await client.query(sql, params)).rows);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool?.end() ?? Promise.resolve();
  }

  async head(): Promise<{ seq: number; hash: Buffer }> {
    const [h] = await this.ds.query(`SELECT last_seq, last_hash FROM audit_head WHERE id = 1`);
    return { seq: Number(h.last_seq), hash: h.last_hash };
  }

  /** One page in seq order (keyset: pass the last seq as afterSeq for the next). */
  async page(f: AuditFilter, limit: number): Promise<AuditRow[]> {
    const { where, args } = whereOf(f);
    args.push(limit);
    const rows = await this.ds.query(`SELECT * FROM audit_events ${where} ORDER BY seq LIMIT $${args.length}`, args);
    return rows.map(toRow);
  }

  /** Every matching row in seq order, a page at a time: constant memory for any range. */
  async *stream(f: AuditFilter, pageSize = 5000): AsyncGenerator<AuditRow> {
    let next = this.page({ ...f, afterSeq: f.afterSeq ?? 0 }, pageSize);
    for (;;) {
      const rows = await next;
      // The next page is fetched while this one is consumed: the database and
      // the encoding overlap. At most two pages are held.
      if (rows.length === pageSize) next = this.page({ ...f, afterSeq: rows[rows.length - 1].seq }, pageSize);
      for (const r of rows) yield r;
      if (rows.length < pageSize) return;
    }
  }

  /**
   * Export lines in JSON Lines, rendered by PostgreSQL (the same fields and
   * values as format.ts's rowJson, in a JSON spelling of its own), a page at
   * a time with the next page prefetched: the fast path of exports.
   */
  async *jsonLines(f: AuditFilter, pageSize = 10_000): AsyncGenerator<{ seq: number; hash: string; line: string }> {
    const fetch = (after: number) => {
      const { where, args } = whereOf({ ...f, afterSeq: after });
      args.push(pageSize);
      return this.ds.query(
        `SELECT seq AS n, encode(hash, 'hex') AS hash, json_build_object(
           'seq', seq, 'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'principalKind', principal_kind, 'principalId', principal_id, 'principal', principal, 'tokenId', token_id,
           'teams', teams, 'sourceIp', source_ip, 'userAgent', user_agent, 'requestId', request_id,
           'action', action, 'module', module, 'version', version, 'outcome', outcome, 'status', status,
           'reason', reason, 'bytes', bytes, 'details', details,
           'prevHash', encode(prev_hash, 'hex'), 'hash', encode(hash, 'hex'))::text AS line
         -- The page first, then the JSON: never rendered for rows outside it,
         -- whatever plan the planner picks for the page.
         FROM (SELECT * FROM audit_events ${where} ORDER BY seq LIMIT $${args.length}) AS page ORDER BY seq`,
        args,
      ) as Promise<Array<{ n: string; hash: string; line: string }>>;
    };
    let next = fetch(f.afterSeq ?? 0);
    for (;;) {
      const rows = await next;
      if (rows.length === pageSize) next = fetch(Number(rows[rows.length - 1].n));
      for (const r of rows) yield { seq: Number(r.n), hash: r.hash, line: r.line };
      if (rows.length < pageSize) return;
    }
  }

  /** The chain hash of the row at seq, or null when there is no such row. */
  async hashAt(seq: number): Promise<Buffer | null> {
    const [r] = await this.ds.query(`SELECT hash FROM audit_events WHERE seq = $1`, [seq]);
    return r ? r.hash : null;
  }

  /** Signed manifests of finished exports (for the verify cross-check). */
  async exportManifests(): Promise<string[]> {
    const rows = await this.ds.query(`SELECT manifest FROM audit_exports WHERE manifest IS NOT NULL ORDER BY created_at`);
    return rows.map((r: { manifest: string }) => r.manifest);
  }

  /** Where the stored chain starts: after the last archived (pruned) row, else the genesis. */
  async anchor(): Promise<{ seq: number; hash: Buffer } | null> {
    const [a] = await this.ds.query(`SELECT last_seq, last_hash FROM audit_archives ORDER BY last_seq DESC LIMIT 1`);
    return a ? { seq: Number(a.last_seq), hash: a.last_hash } : null;
  }

  /** The highest seq of a row older than `before`, after `afterSeq`. */
  async lastSeqBefore(before: Date, afterSeq: number): Promise<number | null> {
    const [r] = await this.ds.query(`SELECT max(seq) AS seq FROM audit_events WHERE at < $1 AND seq > $2`, [before, afterSeq]);
    return r.seq === null ? null : Number(r.seq);
  }

  async firstRowAfter(seq: number): Promise<AuditRow | null> {
    const rows = await this.page({ afterSeq: seq }, 1);
    return rows[0] ?? null;
  }

  /**
   * The retention path, the only delete: records the archive (the hash the
   * rest of the chain starts from) and removes the archived rows, in one
   * transaction with modgate.audit_prune set for it alone.
   */
  async prune(a: { firstSeq: number; lastSeq: number; lastHash: Buffer; rows: number; month: string; blobKey: string; manifestKey: string }): Promise<number> {
    return this.ds.transaction(async (em) => {
      await em.query(`SELECT set_config('modgate.audit_prune', 'on', true)`);
      await em.query(
        `INSERT INTO audit_archives (last_seq, first_seq, last_hash, rows, month, blob_key, manifest_key) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [a.lastSeq, a.firstSeq, a.lastHash, a.rows, a.month, a.blobKey, a.manifestKey],
      );
      const res = await em.query(`DELETE FROM audit_events WHERE seq >= $1 AND seq <= $2`, [a.firstSeq, a.lastSeq]);
      return Number(Array.isArray(res) ? res[1] : 0);
    });
  }

  async archives(): Promise<Array<{ firstSeq: number; lastSeq: number; month: string; rows: number; blobKey: string; manifestKey: string }>> {
    const rows = await this.ds.query(`SELECT * FROM audit_archives ORDER BY last_seq`);
    return rows.map((r: Record<string, unknown>) => ({
      firstSeq: Number(r.first_seq),
      lastSeq: Number(r.last_seq),
      month: r.month as string,
      rows: Number(r.rows),
      blobKey: r.blob_key as string,
      manifestKey: r.manifest_key as string,
    }));
  }

  async saveExportManifest(id: string, createdBy: string, manifest: string | null): Promise<void> {
    await this.ds.query(
      `INSERT INTO audit_exports (id, manifest, created_by) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET manifest = EXCLUDED.manifest`,
      [id, manifest, createdBy],
    );
  }

  async exportManifest(id: string): Promise<{ manifest: string | null; createdBy: string } | null> {
    const [r] = await this.ds.query(`SELECT manifest, created_by FROM audit_exports WHERE id = $1`, [id]);
    return r ? { manifest: r.manifest, createdBy: r.created_by } : null;
  }

  /** Counts for a compliance review, per UTC day. */
  async summary(from: Date, to: Date): Promise<{
    downloads: Array<{ day: string; module: string; team: string | null; principal: string; count: number; bytes: number }>;
    denied: Array<{ day: string; module: string | null; principal: string; action: string; count: number }>;
    publishes: Array<{ day: string; module: string; version: string; principal: string; outcome: string }>;
  }> {
    const downloads = await this.ds.query(
      `SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, module, t.team, principal,
              count(*)::int AS count, COALESCE(sum(bytes), 0)::bigint AS bytes
       FROM audit_events LEFT JOIN LATERAL unnest(CASE WHEN cardinality(teams) = 0 THEN ARRAY[NULL]::text[] ELSE teams END) AS t(team) ON true
       WHERE at >= $1 AND at < $2 AND action LIKE 'download.%' AND outcome = 'allowed' AND status < 400
       GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      [from, to],
    );
    const denied = await this.ds.query(
      `SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, module, principal, action, count(*)::int AS count
       FROM audit_events WHERE at >= $1 AND at < $2 AND outcome = 'denied'
       GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      [from, to],
    );
    const publishes = await this.ds.query(
      `SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, module, version, principal, outcome
       FROM audit_events WHERE at >= $1 AND at < $2 AND action = 'publish' ORDER BY seq`,
      [from, to],
    );
    return {
      downloads: downloads.map((r: { bytes: string | number }) => ({ ...r, bytes: Number(r.bytes) })),
      denied,
      publishes,
    };
  }
}

function whereOf(f: AuditFilter): { where: string; args: unknown[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  const add = (sql: (n: number) => string, v: unknown) => {
    args.push(v);
    parts.push(sql(args.length));
  };
  if (f.afterSeq !== undefined) add((n) => `seq > $${n}`, f.afterSeq);
  if (f.upToSeq !== undefined) add((n) => `seq <= $${n}`, f.upToSeq);
  if (f.from) add((n) => `at >= $${n}`, f.from);
  if (f.to) add((n) => `at < $${n}`, f.to);
  if (f.principal) add((n) => `principal = $${n}`, f.principal);
  if (f.team) add((n) => `$${n} = ANY(teams)`, f.team);
  if (f.action) add((n) => (f.action!.endsWith('.*') ? `action LIKE $${n}` : `action = $${n}`), f.action.endsWith('.*') ? `${f.action.slice(0, -1)}%` : f.action);
  if (f.outcome) add((n) => `outcome = $${n}`, f.outcome);
  if (f.module) {
    add((n) => `(module = $${n}`, f.module);
    args.push(`${f.module.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`);
    parts[parts.length - 1] += ` OR module LIKE $${args.length})`;
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
}

interface Row {
  seq: string;
  event_id: string;
  at: Date;
  principal_kind: AuditRow['principalKind'];
  principal_id: string | null;
  principal: string;
  token_id: string | null;
  teams: string[];
  source_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  action: string;
  module: string | null;
  version: string | null;
  outcome: AuditOutcome;
  status: number | null;
  reason: string | null;
  bytes: string | null;
  details: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

function toRow(r: Row): AuditRow {
  return {
    seq: Number(r.seq),
    eventId: r.event_id,
    at: r.at,
    principalKind: r.principal_kind,
    principalId: r.principal_id,
    principal: r.principal,
    tokenId: r.token_id,
    teams: r.teams,
    sourceIp: r.source_ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    action: r.action,
    module: r.module,
    version: r.version,
    outcome: r.outcome,
    status: r.status,
    reason: r.reason,
    bytes: r.bytes === null ? null : Number(r.bytes),
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
