import { Pool, type PoolClient } from 'pg';

/**
 * One cache fill per module@version across every ModGate process sharing the
 * database: a session-level advisory lock, held on a connection of a pool of
 * its own, so fills waiting for locks can never starve the queries they need.
 */
export class VersionLock {
  private readonly pool: Pool;

  constructor(databaseUrl: string, maxConcurrentFills: number) {
    this.pool = new Pool({ connectionString: databaseUrl, max: maxConcurrentFills, application_name: 'modgate-locks' });
    // An idle lock connection that dies is simply replaced; never crash on it.
    this.pool.on('error', () => undefined);
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const client: PoolClient = await this.pool.connect();
    let broken = false;
    try {
      await client.query('SELECT pg_advisory_lock(7007002, hashtext($1))', [key]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(7007002, hashtext($1))', [key]).catch(() => {
          broken = true; // closing the session releases the lock
        });
      }
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
