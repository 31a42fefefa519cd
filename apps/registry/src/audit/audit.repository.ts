import { randomUUID } from 'node:crypto';
import { Client, Pool, type PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { COPY_AUDIT_EVENTS, copyLine } from './copy-rows';
import { chainEach, type AuditEvent, type AuditOutcome, type AuditRow, type ExportFormat } from '@modgate/auditlog';

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
  private readonly pool: Pool;

  /** Appends use a small pool of their own with timeouts (see transaction), exports a connection each; the rest goes through TypeORM's. */
  constructor(
    private readonly ds: DataSource,
    private readonly databaseUrl: string = (ds.options as { url?: string }).url ?? '',
  ) {
    this.pool = new Pool({
      connectionString: databaseUrl,
      max: 2,
      application_name: 'modgate-audit',
      connectionTimeoutMillis: 3000,
      query_timeout: 10_000,
      statement_timeout: 8000,
      idle_in_transaction_session_timeout: 15_000,
    });
    // A connection that dies while idle is replaced; never crash on it.
    this.pool.on('error', () => undefined);
  }

  /**
   * Appends events to the chain, in one transaction, and returns how many
   * rows were added. Events that may have been stored already (`mayBeStored`:
   * a retry after a write whose outcome is unknown, a replayed spill file)
   * are looked up first and skipped if they are; a batch that was never
   * tried before skips that lookup (the common case: the writer's queue).
   */
  async append(events: readonly AuditEvent[], { mayBeStored = true }: { mayBeStored?: boolean } = {}): Promise<number> {
    return this.transaction(async (client) => {
      const [head] = (await client.query(`SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE`)).rows;
      const withIds = events.map((e) => (e.eventId ? e : { ...e, eventId: randomUUID() }));
      const fresh = mayBeStored ? await this.notStoredYet(client, withIds) : withIds;
      if (fresh.length === 0) return 0;
      const lines = new Array<string>(fresh.length);
      let i = 0;
      const lastHash = chainEach(Number(head.last_seq), (head.last_hash as Buffer).toString('hex'), fresh, (seq, e, prev, hash) => (lines[i++] = copyLine(seq, e, prev, hash)));
      await copyIn(client, COPY_AUDIT_EVENTS, lines.join(''));
      await client.query(`UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1`, [Number(head.last_seq) + fresh.length, Buffer.from(lastHash, 'hex')]);
      return fresh.length;
    });
  }

  /**
   * The events of a batch that may have been stored before that are not
   * stored yet, and each once. Looked up within the batch's time range
   * (the `at` index), so the lookup costs the batch, not the table.
   */
  private async notStoredYet(client: PoolClient, events: AuditEvent[]): Promise<AuditEvent[]> {
    let from = Infinity;
    let to = -Infinity;
    for (const e of events) {
      from = Math.min(from, e.at.getTime());
      to = Math.max(to, e.at.getTime());
    }
    const found = await client.query(`SELECT event_id FROM audit_events WHERE at >= $1 AND at <= $2 AND event_id = ANY($3::uuid[])`, [
      new Date(from),
      new Date(to),
      events.map((e) => e.eventId),
    ]);
    const seen = new Set(found.rows.map((r: { event_id: string }) => String(r.event_id)));
    return events.filter((e) => !seen.has(e.eventId!) && (seen.add(e.eventId!), true));
  }

  /**
   * The writer's transactions run on a pool of their own with short
   * timeouts, so a database that stops answering fails a write quickly
   * (and the writer spills) instead of holding requests. A connection that
   * saw an error is dropped, not reused: a COPY cut short by a timeout
   * leaves it in a state no ROLLBACK is sure to clear.
   */
  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      broken = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
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
   * An export's bytes as PostgreSQL renders them (COPY … TO STDOUT: no row
   * passes through JavaScript), in seq order, inside one read-only snapshot
   * on a connection of its own (an export may run for minutes). `into`
   * receives the number of rows and the first and last matching rows of
   * that snapshot once the last chunk is out. Stopping early (the client
   * went away) closes the connection, which ends the COPY.
   */
  async *exportBytes(f: AuditFilter, format: ExportFormat, into: ExportedRange): AsyncGenerator<Buffer> {
    const client = new Client({ connectionString: this.databaseUrl, application_name: 'modgate-audit-export', connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    let done = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { where, args } = whereOf(f);
      // The range first (an aggregate: no LIMIT for the planner to misjudge),
      // so the COPY below can walk the primary key from its first row to its last.
      const [range] = (await client.query(`SELECT min(seq) AS first, max(seq) AS last, count(*) AS n FROM audit_events ${where}`, args)).rows as Array<{ first: string | null; last: string | null; n: string }>;
      if (range.first === null || range.last === null) {
        await client.query('COMMIT');
        Object.assign(into, { rows: 0, first: null, last: null });
        done = true;
        return;
      }
      const [last] = (await client.query(`SELECT encode(hash, 'hex') AS hash FROM audit_events WHERE seq = $1`, [range.last])).rows as Array<{ hash: string }>;
      const bounded = whereOf({ ...f, afterSeq: Math.max(f.afterSeq ?? 0, Number(range.first) - 1), upToSeq: Math.min(f.upToSeq ?? Infinity, Number(range.last)) });
      // In seq order from the first byte: an index walk, never a sort of the whole range first.
      await client.query('SET LOCAL enable_sort = off');
      // COPY takes no parameters: the filter's values go in as literals.
      const select = `SELECT ${format === 'csv' ? CSV_COLUMNS : JSONL_LINE} FROM audit_events ${inline(bounded.where, bounded.args, client)} ORDER BY seq`;
      // JSON Lines: one text column per line, written as CSV whose quote and
      // delimiter never occur in JSON text (PostgreSQL escapes every control
      // character), so each line comes out exactly as rendered.
      const copy = client.query(copyTo(`COPY (${select}) TO STDOUT WITH (FORMAT csv${format === 'csv' ? '' : `, DELIMITER E'\\x02', QUOTE E'\\x01'`})`));
      for await (const chunk of copy as AsyncIterable<Buffer>) yield chunk;
      await client.query('COMMIT');
      const rows = (copy as unknown as { rowCount: number }).rowCount;
      // One snapshot: the count and the COPY agree, or something is badly wrong.
      if (rows !== Number(range.n)) throw new Error(`audit export: ${rows} rows copied, ${range.n} counted in the same snapshot`);
      Object.assign(into, { rows, first: Number(range.first), last: { seq: Number(range.last), hash: last.hash } });
      done = true;
    } finally {
      if (done) await client.end().catch(() => undefined);
      else (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
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
      const removed = Number(Array.isArray(res) ? res[1] : 0);
      // Exactly the archived rows, or nothing (the transaction rolls back).
      if (removed !== a.rows) throw new Error(`audit: retention would remove ${removed} rows, the archive holds ${a.rows}; nothing removed`);
      return removed;
    });
  }

  async archives(): Promise<ArchiveRow[]> {
    const rows = await this.ds.query(`SELECT * FROM audit_archives ORDER BY last_seq`);
    return rows.map((r: Record<string, unknown>) => ({
      firstSeq: Number(r.first_seq),
      lastSeq: Number(r.last_seq),
      lastHash: (r.last_hash as Buffer).toString('hex'),
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

/** A month retention archived to the blob store and removed. */
export interface ArchiveRow {
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Chain hash (hex) of the last archived row: where the rest of the log continues from. */
  readonly lastHash: string;
  readonly month: string;
  readonly rows: number;
  readonly blobKey: string;
  readonly manifestKey: string;
}

/** What an export covered, known once its last byte is out. */
export interface ExportedRange {
  rows: number;
  first: number | null;
  last: { seq: number; hash: string } | null;
}

const AT_UTC = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** JSON text of a nullable column (strings escaped by PostgreSQL, as JSON.stringify does). */
const j = (col: string) => `COALESCE(to_json(${col})::text, 'null')`;

/**
 * format.ts's jsonlLine, rendered by PostgreSQL: the same keys in the same
 * order, compact, the same escapes; only strings go through to_json (hex,
 * times, numbers and uuids need none), which makes it about twice as fast
 * as json_build_object.
 */
const JSONL_LINE = `'{"seq":' || seq || ',"at":"' || ${AT_UTC} || '","principalKind":' || ${j('principal_kind')}
  || ',"principalId":' || COALESCE('"' || principal_id || '"', 'null') || ',"principal":' || ${j('principal')}
  || ',"tokenId":' || ${j('token_id')} || ',"teams":' || array_to_json(teams)::text || ',"sourceIp":' || ${j('source_ip')}
  || ',"userAgent":' || ${j('user_agent')} || ',"requestId":' || ${j('request_id')} || ',"action":' || ${j('action')}
  || ',"module":' || ${j('module')} || ',"version":' || ${j('version')} || ',"outcome":' || ${j('outcome')}
  || ',"status":' || COALESCE(status::text, 'null') || ',"reason":' || ${j('reason')} || ',"bytes":' || COALESCE(bytes::text, 'null')
  || ',"details":' || ${j('details')} || ',"prevHash":"' || encode(prev_hash, 'hex') || '","hash":"' || encode(hash, 'hex') || '"}'`;

/** format.ts's COLUMNS, in order: COPY's CSV quotes what needs it, null is an empty field, '' is "". */
const CSV_COLUMNS = `seq, ${AT_UTC}, principal_kind, principal_id, principal, token_id, array_to_json(teams)::text, source_ip, user_agent,
  request_id, action, module, version, outcome, status, reason, bytes, details, encode(prev_hash, 'hex'), encode(hash, 'hex')`;

/** A WHERE clause with its $n parameters replaced by quoted literals (for COPY, which takes none). */
function inline(where: string, args: unknown[], client: Client): string {
  return where.replace(/\$(\d+)/g, (_, n: string) => {
    const v = args[Number(n) - 1];
    return client.escapeLiteral(v instanceof Date ? v.toISOString() : String(v));
  });
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

/** COPY … FROM STDIN of one text payload; resolves when PostgreSQL has taken it all. */
function copyIn(client: PoolClient, sql: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(text);
  });
}
