import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from '@modgate/storage';
import type { DataSource } from 'typeorm';
import { Counter } from 'prom-client';
import type { AppLogger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';

const HOUR = 3_600_000;

/**
 * What a kill -9 in the middle of a cache fill, a publish or an upload
 * leaves behind: spool files of the ingest service, temp parts of the fs
 * blob store, incomplete S3 multipart uploads, whole blobs whose version row
 * was never written. None of them is ever visible
 * as a version (a version exists once its row is written, after its
 * blobs); they only take space. Removed at start and every hour once older
 * than an hour, so work in progress is never touched.
 */
export class LeftoverSweep {
  private timer: NodeJS.Timeout | null = null;
  private readonly removed: Counter<'kind'>;

  constructor(
    private readonly ds: DataSource,
    private readonly spoolDir: string,
    private readonly blobs: BlobStore,
    metrics: Metrics,
    private readonly log: AppLogger,
    private readonly maxAgeMs = HOUR,
  ) {
    this.removed = new Counter({ name: 'modgate_leftovers_removed_total', help: 'Crash leftovers removed by the sweep (spool files, blob temp parts, incomplete multipart uploads)', labelNames: ['kind'], registers: [metrics.registry] });
  }

  start(): void {
    void this.run();
    this.timer = setInterval(() => void this.run(), HOUR);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Module blobs older than `before` that no version row refers to: a crash
   * between storing the blobs and writing the row (each attempt writes keys
   * of its own, so nothing else can ever refer to them).
   */
  private async unreferenced(before: Date): Promise<string[]> {
    const out: string[] = [];
    let batch: string[] = [];
    const check = async () => {
      if (!batch.length) return;
      const rows: Array<{ k: string }> = await this.ds.query(
        `SELECT k FROM unnest($1::text[]) AS k
         WHERE NOT EXISTS (SELECT 1 FROM module_versions v WHERE v.mod_key = k)
           AND NOT EXISTS (SELECT 1 FROM module_versions v WHERE v.zip_key = k)`,
        [batch],
      );
      out.push(...rows.map((r) => r.k));
      batch = [];
    };
    for await (const key of this.blobs.listOlderThan('modules/', before)) {
      batch.push(key);
      if (batch.length >= 500) await check();
    }
    await check();
    return out;
  }

  async run(now = Date.now()): Promise<string[]> {
    const before = new Date(now - this.maxAgeMs);
    const gone: string[] = [];
    for (const name of await readdir(this.spoolDir).catch(() => [] as string[])) {
      const file = join(this.spoolDir, name);
      const st = await stat(file).catch(() => null);
      if (!st || st.mtime >= before) continue;
      await rm(file, { force: true, recursive: true }).catch(() => undefined);
      gone.push(`spool ${name}`);
      this.removed.inc({ kind: 'spool' });
    }
    try {
      for (const key of await this.unreferenced(before)) {
        await this.blobs.delete(key);
        gone.push(`blob ${key} (no version refers to it)`);
        this.removed.inc({ kind: 'orphan-blob' });
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'sweep: could not check module blobs against the database');
    }
    try {
      for (const what of await this.blobs.sweepIncomplete(before)) {
        gone.push(what);
        this.removed.inc({ kind: this.blobs.kind === 's3' ? 'multipart' : 'blob-tmp' });
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'sweep: could not list incomplete uploads in the blob store');
    }
    if (gone.length) this.log.info({ removed: gone.length, items: gone.slice(0, 50) }, 'sweep: removed crash leftovers');
    return gone;
  }
}
