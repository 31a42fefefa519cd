import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppLogger } from '../logging/logger';
import type { AuditEvent } from '@modgate/auditlog';
import type { AuditMetrics } from './audit.metrics';
import type { AuditRepository } from './audit.repository';

export interface AuditWriterOptions {
  /** Rows per INSERT. */
  readonly batchSize: number;
  /** How long a download event may wait for its batch. */
  readonly flushMs: number;
  /** Events kept in memory while PostgreSQL is away; beyond this they go to the spill file. */
  readonly maxInMemory: number;
}

const DEFAULTS: AuditWriterOptions = { batchSize: 1000, flushMs: 200, maxInMemory: 20_000 };

interface Pending {
  readonly event: AuditEvent;
  readonly done?: (err?: Error) => void;
}

/**
 * The one audit writer of a process. Download events are queued and written
 * in batches off the request path; security events are written before their
 * request is answered (recordNow). When PostgreSQL is unavailable events stay
 * queued, up to maxInMemory, and then go to spill files under
 * MODGATE_DATA_DIR/audit-spill (appended and fsync'd); everything is written
 * when the database is back, spill files first. At shutdown the queue is
 * flushed, or spilled. Only what is queued in memory is at risk if the
 * process dies hard; that number is the metric modgate_audit_events_at_risk.
 */
export class AuditWriter {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dbDown = false;
  private spillSeq = 0;
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
    metrics.atRisk(() => this.queue.length);
  }

  async start(): Promise<void> {
    await mkdir(this.spillDir, { recursive: true });
    await this.releaseDeadClaims();
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
    this.timer.unref();
    await this.flush();
  }

  /** Queues an event; written within flushMs (hot path: no I/O here). */
  record(event: AuditEvent): void {
    this.queue.push({ event });
    if (this.queue.length >= this.opts.batchSize && !this.flushing) void this.flush();
  }

  /** Queues an event and resolves once it is stored (in PostgreSQL, or durably in a spill file). */
  recordNow(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, done: (err) => (err ? reject(err) : resolve()) });
      void this.flush();
    });
  }

  /** Writes everything queued (looping until empty); never throws. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.queue.length ? this.flush() : undefined));
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Flushes; what cannot be written goes to a spill file. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
    if (this.queue.length) await this.spill(this.queue.splice(0));
  }

  private async drain(): Promise<void> {
    try {
      if (!(await this.replaySpills())) return this.holdWhileDown();
      while (this.queue.length) {
        const batch = this.queue.slice(0, this.opts.batchSize);
        try {
          await this.repo.append(batch.map((p) => p.event));
        } catch (err) {
          this.wentDown(err);
          return this.holdWhileDown();
        }
        this.queue.splice(0, batch.length);
        this.metrics.written(batch.length);
        this.cameBack();
        for (const p of batch) p.done?.();
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'audit: writer failed');
    }
  }

  /**
   * The database is away: security events (someone waits for them) and the
   * overflow beyond maxInMemory go to a spill file now.
   */
  private async holdWhileDown(): Promise<void> {
    const waiting = this.queue.filter((p) => p.done);
    const overflow = this.queue.length - waiting.length - this.opts.maxInMemory;
    const keep = new Set<Pending>();
    let skip = overflow > 0 ? overflow : 0;
    const out: Pending[] = [];
    for (const p of this.queue) {
      if (p.done) out.push(p);
      else if (skip > 0) {
        out.push(p);
        skip--;
      } else keep.add(p);
    }
    if (out.length === 0) return;
    this.queue = this.queue.filter((p) => keep.has(p));
    await this.spill(out);
  }

  private async spill(items: Pending[]): Promise<void> {
    const file = join(this.spillDir, `${this.spillPrefix}-${String(this.spillSeq++).padStart(6, '0')}.jsonl`);
    try {
      const fh = await open(file, 'a', 0o600);
      try {
        await fh.appendFile(items.map((p) => JSON.stringify(p.event)).join('\n') + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.metrics.spilled(items.length);
      this.log.warn({ events: items.length, file }, 'audit: database unavailable; events kept in a spill file');
      for (const p of items) p.done?.();
    } catch (err) {
      // Nowhere to keep them: put them back (they stay at risk) and tell the waiters.
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
    const names = (await readdir(this.spillDir).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl')).sort();
    for (const name of names) {
      const claimed = join(this.spillDir, `${name}.replaying-${process.pid}`);
      try {
        await rename(join(this.spillDir, name), claimed);
      } catch {
        continue; // another process took it
      }
      const events = (await readFile(claimed, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => reviveEvent(JSON.parse(l)));
      try {
        // One transaction per file: a crash never writes part of it twice.
        if (events.length) await this.repo.append(events);
      } catch (err) {
        await rename(claimed, join(this.spillDir, name)).catch(() => undefined);
        this.wentDown(err);
        return false;
      }
      await unlink(claimed);
      this.metrics.written(events.length);
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
  }

  private cameBack(): void {
    if (this.dbDown) this.log.info('audit: writing to PostgreSQL again');
    this.dbDown = false;
  }
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

function reviveEvent(e: AuditEvent & { at: string }): AuditEvent {
  return { ...e, at: new Date(e.at) };
}
