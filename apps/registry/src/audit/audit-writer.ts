import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from '@modgate/auditlog';
import type { AppLogger } from '../logging/logger';
import type { AuditMetrics } from './audit.metrics';
import type { AuditRepository } from './audit.repository';

export interface AuditWriterOptions {
  /** Rows per INSERT. */
  readonly batchSize: number;
  /** How long a download event may wait for its batch. */
  readonly flushMs: number;
  /** Events kept in memory while PostgreSQL is away; beyond this they go to the spill file. */
  readonly maxInMemory: number;
  /** How long a security event may wait for PostgreSQL before it is spilled instead. */
  readonly durableWithinMs: number;
}

const DEFAULTS: AuditWriterOptions = { batchSize: 2000, flushMs: 200, maxInMemory: 20_000, durableWithinMs: 2000 };
const MAX_BACKOFF_MS = 5000;

interface Pending {
  readonly event: AuditEvent;
  done?: (err?: Error) => void;
  /** In a write that failed: it may have been stored all the same (a timeout during COMMIT). */
  tried?: boolean;
}

/**
 * The one audit writer of a process. Download events are queued and written
 * in batches off the request path; security events are stored before their
 * request is answered (recordNow). When PostgreSQL is away or slow, events
 * stay queued up to maxInMemory and then go to spill files under
 * MODGATE_DATA_DIR/audit-spill (written whole, fsync'd, renamed into place);
 * a security event that cannot be written within durableWithinMs is spilled
 * at once. Spill files are written first when the database answers again
 * (by this process or the next one to start). Every event carries an id, so
 * a write retried after a timeout or replayed from a spill file is never
 * stored twice. At shutdown the queue is flushed, or spilled. Only what is
 * queued in memory is at risk if the process dies hard: that number is the
 * metric modgate_audit_events_at_risk.
 */
export class AuditWriter {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dbDown = false;
  private backoffMs = 0;
  private retryAt = 0;
  private spillSeq = 0;
  private spilling: Promise<void> = Promise.resolve();
  private overflowing = false;
  private inSpill = 0;
  private appendStartedAt = 0;
  private readonly opts: AuditWriterOptions;
  private readonly spillPrefix = `${process.pid}-${Date.now()}`;

  constructor(
    private readonly repo: AuditRepository,
    private readonly spillDir: string,
    private readonly metrics: AuditMetrics,
    private readonly log: AppLogger,
    opts: Partial<AuditWriterOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
    // Queued, or on the way to a spill file but not yet on disk.
    metrics.atRisk(() => this.queue.length + this.inSpill);
  }

  async start(): Promise<void> {
    await mkdir(this.spillDir, { recursive: true });
    await this.releaseDeadClaims();
    this.timer = setInterval(() => {
      if (this.stalled()) this.spillOverflow();
      void this.flush();
    }, this.opts.flushMs);
    this.timer.unref();
    await this.flush();
  }

  /** Queues an event; written within flushMs (hot path: no I/O here). */
  record(event: AuditEvent): void {
    this.queue.push({ event: withId(event) });
    // Over the bound while PostgreSQL is away or stalled (or far over it in
    // any case): one spill at a time takes all that is over, so a burst makes
    // a file per disk write, not per event. A writer that is merely behind
    // under load catches up from memory (spilling would cost it more work).
    if (this.queue.length > this.opts.maxInMemory && (this.stalled() || this.queue.length > this.opts.maxInMemory * 10)) this.spillOverflow();
    else if (this.queue.length >= this.opts.batchSize && !this.flushing) void this.flush();
  }

  /** Resolves once the event is stored: in PostgreSQL, or durably in a spill file. */
  recordNow(event: AuditEvent): Promise<void> {
    const e = withId(event);
    if (this.dbDown) return this.spillNow([{ event: e }]);
    return new Promise((resolve, reject) => {
      const p: Pending = { event: e };
      const timer = setTimeout(() => {
        // PostgreSQL is slow to answer: keep the event in a file instead (the
        // write in flight may still land; the event id makes that harmless).
        p.done = undefined;
        this.queue = this.queue.filter((q) => q !== p);
        this.spillNow([{ event: e }]).then(resolve, reject);
      }, this.opts.durableWithinMs);
      p.done = (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.queue.push(p);
      void this.flush(true);
    });
  }

  /** Writes everything queued (looping until empty, or until the database fails); never throws. */
  flush(now = false): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!now && Date.now() < this.retryAt) return Promise.resolve();
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Flushes; what cannot be written goes to a spill file. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.retryAt = 0;
    await this.flush(true);
    await this.spilling;
    if (this.queue.length) await this.spillNow(this.queue.splice(0));
    await this.repo.close();
  }

  private async drain(): Promise<void> {
    try {
      if (!(await this.replaySpills())) return;
      while (this.queue.length) {
        const batch = this.queue.slice(0, this.opts.batchSize);
        this.appendStartedAt = Date.now();
        let added: number;
        try {
          added = await this.appendIsolating(
            batch.map((p) => p.event),
            batch.some((p) => p.tried),
          );
        } catch (err) {
          for (const p of batch) p.tried = true;
          this.wentDown(err);
          return;
        } finally {
          this.appendStartedAt = 0;
        }
        const written = new Set(batch);
        this.queue = this.queue.filter((p) => !written.has(p));
        this.metrics.written(added);
        this.cameBack();
        for (const p of batch) p.done?.();
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'audit: writer failed');
    }
  }

  /**
   * Appends; an event the database refuses as data (SQLSTATE class 22 or
   * 23: it can never be stored as it is) is found by halving the batch and
   * set aside in a rejected-*.jsonl file with an error log line, so one
   * bad event cannot stop the log. Other errors mean the database is away.
   */
  private async appendIsolating(events: AuditEvent[], mayBeStored: boolean): Promise<number> {
    try {
      return await this.repo.append(events, { mayBeStored });
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (events.length === 1) {
        await this.reject(events[0], err);
        return 0;
      }
      // The refused transaction stored nothing: the halves are as fresh as the whole.
      const mid = Math.ceil(events.length / 2);
      return (await this.appendIsolating(events.slice(0, mid), mayBeStored)) + (await this.appendIsolating(events.slice(mid), mayBeStored));
    }
  }

  private async reject(e: AuditEvent, err: unknown): Promise<void> {
    this.metrics.failure();
    this.log.error({ err: (err as Error).message, action: e.action, eventId: e.eventId }, 'audit: the database refused an event; kept in a rejected-*.jsonl file for inspection');
    const fh = await open(join(this.spillDir, `rejected-${this.spillPrefix}.jsonl`), 'a', 0o600).catch(() => null);
    await fh?.appendFile(`${JSON.stringify(e)}\n`).catch(() => undefined);
    await fh?.close();
  }

  /** PostgreSQL refused the last write, or the one in flight has hung for longer than a security event may wait. */
  private stalled(): boolean {
    return this.dbDown || (this.appendStartedAt > 0 && Date.now() - this.appendStartedAt > this.opts.durableWithinMs);
  }

  /** Past maxInMemory the oldest queued download events go to a spill file. */
  private spillOverflow(): void {
    const over = this.queue.length - this.opts.maxInMemory;
    if (over <= 0 || this.overflowing) return;
    this.overflowing = true;
    const out: Pending[] = [];
    const keep: Pending[] = [];
    for (const p of this.queue) (out.length < over && !p.done ? out : keep).push(p);
    this.queue = keep;
    this.inSpill += out.length;
    this.spilling = this.spilling.then(() => ((this.inSpill -= out.length), this.spillNow(out))).finally(() => {
      this.overflowing = false;
      // What arrived meanwhile.
      if (this.queue.length > this.opts.maxInMemory) this.spillOverflow();
    });
  }

  /**
   * Writes events to a new spill file: to a temp name, fsync'd, then renamed,
   * so a reader never sees half a file. Resolves the waiters once it is on disk.
   */
  private async spillNow(items: Pending[]): Promise<void> {
    if (items.length === 0) return;
    this.inSpill += items.length;
    try {
      await this.writeSpill(items);
    } finally {
      this.inSpill -= items.length;
    }
  }

  private async writeSpill(items: Pending[]): Promise<void> {
    const name = `${this.spillPrefix}-${String(this.spillSeq++).padStart(6, '0')}.jsonl`;
    const tmp = join(this.spillDir, `${name}.tmp`);
    try {
      await mkdir(this.spillDir, { recursive: true });
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(items.map((p) => JSON.stringify(p.event)).join('\n') + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.spillDir, name));
      this.metrics.spilled(items.length);
      this.log.warn({ events: items.length, file: name }, 'audit: database unavailable; events kept in a spill file');
      for (const p of items) p.done?.();
    } catch (err) {
      // Nowhere to keep them: back in the queue (at risk) and tell the waiters.
      await unlink(tmp).catch(() => undefined);
      this.queue.unshift(...items.filter((p) => !p.done));
      for (const p of items) p.done?.(new Error('the audit log cannot be written (database and spill directory unavailable)'));
      this.log.error({ err: (err as Error).message }, 'audit: cannot write a spill file');
    }
  }

  /**
   * Writes spill files (this process's and any left by a dead one) oldest
   * first, each in one transaction, then removes it. A file is claimed by
   * renaming it, so two processes never replay the same one. False when the
   * database is (still) away.
   */
  private async replaySpills(): Promise<boolean> {
    const names = (await readdir(this.spillDir).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl') && !n.startsWith('rejected-')).sort();
    for (const name of names) {
      const claimed = join(this.spillDir, `${name}.replaying-${process.pid}`);
      try {
        await rename(join(this.spillDir, name), claimed);
      } catch {
        continue; // another process took it
      }
      const { events, torn } = parseSpill(await readFile(claimed, 'utf8').catch(() => ''));
      if (torn) this.log.warn({ file: name, dropped: torn }, 'audit: spill file ends in a torn line (a crash while writing it); that line is dropped');
      let added = 0;
      try {
        // One transaction per file where it can be; event ids make a retry of any part harmless.
        if (events.length) added = await this.appendIsolating(events, true);
      } catch (err) {
        await rename(claimed, join(this.spillDir, name)).catch(() => undefined);
        this.wentDown(err);
        return false;
      }
      await unlink(claimed);
      this.metrics.written(added);
      this.cameBack();
      this.log.info({ events: events.length, file: name }, 'audit: spilled events written');
    }
    return true;
  }

  /** A process that died while replaying a file leaves it claimed: give it back. */
  private async releaseDeadClaims(): Promise<void> {
    for (const name of await readdir(this.spillDir).catch(() => [] as string[])) {
      const m = /^(.*\.jsonl)\.replaying-(\d+)$/.exec(name);
      if (!m || isAlive(Number(m[2]))) continue;
      await rename(join(this.spillDir, name), join(this.spillDir, m[1])).catch(() => undefined);
    }
  }

  private wentDown(err: unknown): void {
    this.metrics.failure();
    if (!this.dbDown) this.log.warn({ err: (err as Error).message, queued: this.queue.length }, 'audit: cannot write to PostgreSQL; keeping events');
    this.dbDown = true;
    // Back off while it is away: no storm of reconnects from a busy writer.
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(this.opts.flushMs, this.backoffMs * 2));
    this.retryAt = Date.now() + this.backoffMs;
    // Waiters are not kept waiting for an unknown time.
    const waiting = this.queue.filter((p) => p.done);
    if (waiting.length) {
      this.queue = this.queue.filter((p) => !p.done);
      this.inSpill += waiting.length;
      this.spilling = this.spilling.then(() => ((this.inSpill -= waiting.length), this.spillNow(waiting)));
    }
  }

  private cameBack(): void {
    if (this.dbDown) this.log.info('audit: writing to PostgreSQL again');
    this.dbDown = false;
    this.backoffMs = 0;
    this.retryAt = 0;
  }
}

function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

// Event ids: this process's random UUID with a counter in its last 48 bits
// (74 random bits left: no clash between processes), cheap to make per event.
const idBase = randomUUID().slice(0, 24);
let idCounter = 0;

function withId(e: AuditEvent): AuditEvent {
  if (e.eventId) return e;
  (e as { eventId?: string }).eventId = idBase + (idCounter++).toString(16).padStart(12, '0');
  return e;
}

/** Events of a spill file; a last line cut short by a crash is dropped, a bad line in the middle skipped. */
function parseSpill(text: string): { events: AuditEvent[]; torn: number } {
  const events: AuditEvent[] = [];
  let torn = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as AuditEvent & { at: string };
      events.push({ ...e, at: new Date(e.at) });
    } catch {
      torn++;
    }
  }
  return { events, torn };
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false; // our own claim from an earlier life of this pid
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
