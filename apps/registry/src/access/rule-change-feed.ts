import { Client } from 'pg';
import type { AppLogger } from '../logging/logger';
import { ACCESS_CHANNEL } from './access-rule.repository';

export interface RuleChangeHandlers {
  /** A notification arrived on ACCESS_CHANNEL. */
  changed(payload: string): void;
  /** LISTEN is (again) in place: notifications sent meanwhile are lost, so reload. */
  listening(): void;
}

const FIRST_RETRY_MS = 250;

/**
 * LISTEN on ACCESS_CHANNEL over a connection of its own: a pooled connection
 * would lose the LISTEN when returned to the pool. When the connection
 * breaks it is rebuilt with a backoff capped at maxRetryMs, and each new
 * LISTEN reports `listening()`, so a reload covers what was missed. Never
 * throws: a database that is away is retried, not fatal.
 */
export class RuleChangeFeed {
  private client: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retryMs = FIRST_RETRY_MS;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly on: RuleChangeHandlers,
    private readonly log: AppLogger,
    private readonly maxRetryMs = 5000,
  ) {}

  get isListening(): boolean {
    return this.client !== null;
  }

  /** Resolves once listening or after the first attempt failed (retries continue). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const c = new Client({ connectionString: this.url, application_name: 'modgate-access', keepAlive: true });
    // Listeners stay attached for the client's life: an 'error' without one would crash the process.
    c.on('error', (err) => this.lost(c, err));
    c.on('end', () => this.lost(c));
    c.on('notification', (n) => {
      if (n.channel === ACCESS_CHANNEL) this.on.changed(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${ACCESS_CHANNEL}`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'access rules: cannot listen for changes; retrying');
      // Not awaited: ending a connection that never opened may never settle.
      void c.end().catch(() => undefined);
      this.retry();
      return;
    }
    if (this.stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
    this.retryMs = FIRST_RETRY_MS;
    this.on.listening();
  }

  private lost(c: Client, err?: Error): void {
    if (this.client !== c) return; // an old or never-established connection
    this.client = null;
    this.log.warn({ err: err?.message }, 'access rules: change listener disconnected; reconnecting');
    void c.end().catch(() => undefined);
    this.retry();
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.retryMs);
    // Reconnecting must not keep a shutting-down process alive.
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, this.maxRetryMs);
  }
}
