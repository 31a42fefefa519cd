import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Client, type ClientConfig, type Notification } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { LOGGER, type AppLogger } from '../logging/logger';

/**
 * What changed, so caches of verified credentials can drop what it affects.
 * 'all' is sent after a missed stretch of notifications (listener reconnect)
 * and when a change touches many users at once (a team deleted).
 */
export type AuthEvent = { kind: 'token'; id: string } | { kind: 'user'; id: string } | { kind: 'all' } | { kind: 'keys' };

export const AUTH_CHANNEL = 'modgate_auth';

/**
 * Revocation that is effective at once everywhere: a change is applied to
 * this process's caches synchronously, then sent to every other instance
 * with pg_notify on the shared database. The LISTEN side runs on a pg
 * connection of its own (a pooled one could be handed to a query and miss
 * notifications), reconnecting with backoff when it drops.
 */
@Injectable()
export class AuthEvents implements OnModuleInit, OnModuleDestroy {
  private readonly origin = randomUUID();
  private readonly listeners = new Set<(e: AuthEvent) => void>();
  private client: Client | null = null;
  private stopped = false;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | null = null;
  private connected = false;

  constructor(
    private readonly ds: DataSource,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  /** True while notifications from other instances arrive; caches must not be trusted otherwise. */
  get listening(): boolean {
    return this.connected;
  }

  subscribe(fn: (e: AuthEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Applies here at once, then tells the other instances. Call after the change is committed. */
  async publish(event: AuthEvent): Promise<void> {
    this.deliver(event);
    try {
      await this.ds.query('SELECT pg_notify($1, $2)', [AUTH_CHANNEL, JSON.stringify({ o: this.origin, e: event })]);
    } catch (err) {
      // The change itself is committed; other instances catch up within their cache time.
      this.log.warn({ err, event: event.kind }, 'auth change not broadcast');
    }
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    this.connected = false;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const c = new Client({ ...connectionConfig(this.ds), application_name: 'modgate-auth-listen' });
    c.on('notification', (n) => this.onNotification(n));
    c.on('error', (err) => {
      this.log.warn({ err: err.message }, 'auth listener connection failed');
      this.lost(c);
    });
    c.on('end', () => this.lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${AUTH_CHANNEL}`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'auth listener cannot connect; retrying');
      await c.end().catch(() => undefined);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    const wasDown = this.client !== null || this.retryMs > 250;
    this.client = c;
    this.connected = true;
    this.retryMs = 250;
    // Anything could have changed while nobody listened.
    if (wasDown) this.deliver({ kind: 'all' });
  }

  private lost(c: Client): void {
    if (this.client !== c) return;
    this.connected = false;
    this.deliver({ kind: 'all' });
    void c.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, wait);
    this.retryTimer.unref();
  }

  private onNotification(n: Notification): void {
    if (n.channel !== AUTH_CHANNEL || !n.payload) return;
    try {
      const msg = JSON.parse(n.payload) as { o: string; e: AuthEvent };
      if (msg.o !== this.origin) this.deliver(msg.e);
    } catch {
      this.deliver({ kind: 'all' });
    }
  }

  private deliver(event: AuthEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch (err) {
        this.log.error({ err }, 'auth event listener failed');
      }
    }
  }
}

/** The listener connects where the DataSource does. */
function connectionConfig(ds: DataSource): ClientConfig {
  const o = ds.options as PostgresConnectionOptions;
  if (o.url) return { connectionString: o.url, ssl: o.ssl as ClientConfig['ssl'] };
  return {
    host: o.host,
    port: o.port,
    user: o.username,
    password: typeof o.password === 'string' ? o.password : undefined,
    database: o.database,
    ssl: o.ssl as ClientConfig['ssl'],
  };
}
