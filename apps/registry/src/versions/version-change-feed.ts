import type { DataSource } from 'typeorm';
import { PgListener } from '../database/pg-listener';
import type { AppLogger } from '../logging/logger';
import type { NegativeCache } from './negative-cache';
import type { VersionIndex } from './version-index';

export const VERSIONS_CHANNEL = 'modgate_versions';

/**
 * Deleting a version must reach every instance's in-memory index at once:
 * stored versions are otherwise never re-checked. A deletion is announced
 * with NOTIFY; each instance LISTENs and forgets the version. Storing one
 * is announced too, so that no instance keeps answering "not found" for it. Notifications
 * sent while the LISTEN was down are lost, so on every (re)listen the
 * tombstones written since the last one are replayed.
 */
export class VersionChangeFeed {
  private readonly listener: PgListener | null;
  private since = new Date(0);

  constructor(
    private readonly ds: DataSource,
    private readonly index: VersionIndex,
    private readonly negative: NegativeCache,
    databaseUrl: string | null,
    private readonly log: AppLogger,
  ) {
    this.listener = databaseUrl
      ? new PgListener(
          {
            connection: { connectionString: databaseUrl, application_name: 'modgate-versions', keepAlive: true },
            channel: VERSIONS_CHANNEL,
            maxRetryMs: 5000,
            retryMessage: 'versions: cannot listen for deletions; retrying',
          },
          {
            message: (payload) => this.onMessage(payload),
            listening: (again) => {
              // Announcements of stored versions sent meanwhile are lost: forget every "not found".
              if (again) this.negative.clearAll();
              void this.replay().catch((err) => this.log.warn({ err: (err as Error).message }, 'versions: replaying deletions failed'));
            },
            lost: (err) => log.warn({ err: err?.message }, 'versions: deletion listener disconnected; reconnecting'),
          },
          log,
        )
      : null;
  }

  start(): Promise<void> {
    return this.listener?.start() ?? Promise.resolve();
  }

  stop(): Promise<void> {
    return this.listener?.stop() ?? Promise.resolve();
  }

  /** Announces a deletion (already forgotten here) to every instance. */
  async deleted(path: string, version: string): Promise<void> {
    await this.ds.query('SELECT pg_notify($1, $2)', [VERSIONS_CHANNEL, JSON.stringify({ path, version })]);
  }

  /**
   * A version was stored (publish or cache fill): every instance drops its
   * cached "not found" for it at once. Best effort: a lost notification
   * costs at most the negative cache's lifetime.
   */
  stored(path: string, version: string): void {
    this.negative.clear(path, version);
    void this.ds.query('SELECT pg_notify($1, $2)', [VERSIONS_CHANNEL, JSON.stringify({ path, version, stored: true })]).catch(() => undefined);
  }

  private onMessage(payload: string | undefined): void {
    try {
      const { path, version, stored } = JSON.parse(payload ?? '') as { path?: unknown; version?: unknown; stored?: unknown };
      if (typeof path !== 'string' || typeof version !== 'string') return;
      this.negative.clear(path, version);
      if (stored !== true) this.index.forget(path, version);
    } catch {
      // Not ours to understand: ignore.
    }
  }

  private async replay(): Promise<void> {
    // A minute of overlap covers clock skew between the database and here.
    const from = new Date(this.since.getTime() - 60_000);
    this.since = new Date();
    const rows: Array<{ path: string; version: string }> = await this.ds.query(
      `SELECT m.path, t.version FROM version_tombstones t JOIN modules m ON m.id = t.module_id WHERE t.deleted_at >= $1`,
      [from],
    );
    for (const r of rows) this.index.forget(r.path, r.version);
  }
}
