import { Client, type ClientConfig } from 'pg';
import type { AppLogger } from '../logging/logger';

/** What a PgListener reports; each feature decides what it means for it. */
export interface PgListenerHandlers {
  /** A notification arrived on the channel (payload as sent; undefined when none). */
  message(payload: string | undefined): void;
  /**
   * LISTEN is in place. `again`: not the first attempt since start (an
   * attempt failed or the connection dropped), so notifications sent
   * meanwhile are lost.
   */
  listening(again: boolean): void;
  /** The listening connection dropped (err: what pg reported, if anything); a reconnect follows. */
  lost(err?: Error): void;
}

export interface PgListenerOptions {
  /** Where to connect; give it an application_name so it shows in pg_stat_activity. */
  readonly connection: ClientConfig;
  /** A fixed identifier (it goes into LISTEN as is). */
  readonly channel: string;
  /** The cap of the reconnect backoff, which starts at 250 ms and doubles. */
  readonly maxRetryMs: number;
  /** Logged (warn, with the error's message) when connecting or LISTEN fails. */
  readonly retryMessage: string;
}

const FIRST_RETRY_MS = 250;

/**
 * LISTEN on one channel over a connection of its own: a pooled connection
 * would lose the LISTEN when returned to the pool (or be handed to a query
 * and miss notifications). When the connection breaks it is rebuilt with a
 * backoff, and each new LISTEN reports `listening(true)`, so the owner can
 * make up for what was missed. Never throws: a database that is away is
 * retried, not fatal.
 */
export class PgListener {
  private client: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retryMs = FIRST_RETRY_MS;
  private missed = false;
  private stopped = false;

  constructor(
    private readonly opts: PgListenerOptions,
    private readonly on: PgListenerHandlers,
    private readonly log: AppLogger,
  ) {}

  /** True while LISTEN is in place on a live connection. */
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
    if (this.stopped) return;
    const { channel } = this.opts;
    const c = new Client(this.opts.connection);
    // Listeners stay attached for the client's life: an 'error' without one would crash the process.
    c.on('error', (err) => this.lost(c, err));
    c.on('end', () => this.lost(c));
    c.on('notification', (n) => {
      if (n.channel === channel) this.on.message(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, this.opts.retryMessage);
      // Not awaited: ending a connection that never opened may never settle.
      void c.end().catch(() => undefined);
      this.retry();
      return;
    }
    if (this.stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    const again = this.missed;
    this.client = c;
    this.retryMs = FIRST_RETRY_MS;
    this.missed = false;
    this.on.listening(again);
  }

  private lost(c: Client, err?: Error): void {
    if (this.client !== c) return; // an old or never-established connection
    this.client = null;
    this.on.lost(err);
    void c.end().catch(() => undefined);
    this.retry();
  }

  private retry(): void {
    this.missed = true;
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.retryMs);
    // Reconnecting must not keep a shutting-down process alive.
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs);
  }
}
