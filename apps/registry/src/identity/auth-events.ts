import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { ClientConfig } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { PgListener } from '../database/pg-listener';
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
 * with pg_notify on the shared database. The LISTEN side is a PgListener (a
 * pg connection of its own, reconnecting with backoff when it drops); when
 * it drops and again once it is back, every cache is told to drop everything.
 */
@Injectable()
export class AuthEvents implements OnModuleInit, OnModuleDestroy {
  private readonly origin = randomUUID();
  private readonly listeners = new Set<(e: AuthEvent) => void>();
  private listener: PgListener | null = null;

  constructor(
    private readonly ds: DataSource,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  /** True while notifications from other instances arrive; caches must not be trusted otherwise. */
  get listening(): boolean {
    return this.listener?.isListening ?? false;
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
    this.listener = new PgListener(
      {
        connection: { ...connectionConfig(this.ds), application_name: 'modgate-auth-listen' },
        channel: AUTH_CHANNEL,
        maxRetryMs: 10_000,
        retryMessage: 'auth listener cannot connect; retrying',
      },
      {
        message: (payload) => this.onNotification(payload),
        // Anything could have changed while nobody listened.
        listening: (again) => {
          if (again) this.deliver({ kind: 'all' });
        },
        lost: (err) => {
          if (err) this.log.warn({ err: err.message }, 'auth listener connection failed');
          this.deliver({ kind: 'all' });
        },
      },
      this.log,
    );
    await this.listener.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.listener?.stop();
  }

  private onNotification(payload: string | undefined): void {
    if (!payload) return;
    try {
      const msg = JSON.parse(payload) as { o: string; e: AuthEvent };
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
