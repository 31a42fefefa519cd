import { GoModError } from '@modgate/gomod';
import { GoproxyError } from '../common/goproxy-error';
import { redact } from '../config/upstreams';
import type { AppLogger } from '../logging/logger';
import { IngestService, VersionConflict } from '../versions/ingest.service';
import type { VersionIndex } from '../versions/version-index';
import type { VersionRecord } from '../versions/version-record';
import type { ProxyMetrics } from './proxy.metrics';
import { SingleFlight } from './singleflight';
import { UpstreamClient, UpstreamError } from './upstream.client';
import type { VersionLock } from './version-lock';

/** Checks an upstream version between fetch and store (checksum database, later policy). */
export type VersionVerifier = (path: string, version: string, hashes: { zipHash: string; modHash: string }) => Promise<void>;

/**
 * Fills the cache with one public module version: one fill per
 * module@version (in-process singleflight plus a cross-process advisory
 * lock), fetched from the upstream that answers `.info`, verified, stored
 * through the ingest service. Detached from the request that asked: a client
 * hanging up does not abort a fill that others may be waiting for.
 */
export class CacheFillService {
  private readonly flights = new SingleFlight<VersionRecord>();

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly ingest: IngestService,
    private readonly index: VersionIndex,
    private readonly lock: VersionLock,
    private readonly metrics: ProxyMetrics,
    private readonly log: AppLogger,
    private readonly verify: VersionVerifier | null = null,
  ) {}

  fill(path: string, version: string): Promise<VersionRecord> {
    const key = `${path}@${version}`;
    return this.flights.do(key, () =>
      this.lock.withLock(key, async () => {
        // Another process may have stored it while we waited for the lock.
        const stored = await this.index.find(path, version);
        if (stored) return stored;
        return this.fetchAndStore(path, version);
      }),
    );
  }

  private async fetchAndStore(path: string, version: string): Promise<VersionRecord> {
    const started = Date.now();
    try {
      const info = await this.upstream.get(path, UpstreamClient.versionSuffix(version, 'info'));
      const time = parseInfo(info.data, path, version);
      const mod = await this.upstream.get(path, UpstreamClient.versionSuffix(version, 'mod'), info.upstream);
      const zip = await this.upstream.open(path, UpstreamClient.versionSuffix(version, 'zip'), info.upstream);
      const { record } = await this.ingest.ingest({
        path,
        version,
        time,
        mod: mod.data,
        zip: zip.body,
        origin: { kind: 'upstream', name: redact(info.upstream.url) },
        verify: this.verify ? (h) => this.verify!(path, version, h) : undefined,
      });
      this.metrics.fills.inc({ outcome: 'stored' });
      this.log.info({ module: path, version, upstream: record.origin, ms: Date.now() - started, bytes: record.zipSize }, 'cached from upstream');
      return record;
    } catch (err) {
      this.metrics.fills.inc({ outcome: err instanceof UpstreamError && err.failure.kind === 'not-found' ? 'not-found' : 'failed' });
      throw translate(err, path, version);
    }
  }
}

/** `.info` must be JSON naming this exact version; Time is optional. */
function parseInfo(data: Buffer, path: string, version: string): Date | null {
  let info: { Version?: unknown; Time?: unknown };
  try {
    info = JSON.parse(data.toString('utf8'));
  } catch {
    throw new GoproxyError('bad-upstream', `upstream sent an invalid .info for ${path}@${version}; nothing was cached`);
  }
  if (info.Version !== version) throw new GoproxyError('bad-upstream', `upstream .info for ${path}@${version} names version ${String(info.Version)}; nothing was cached`);
  if (typeof info.Time !== 'string') return null;
  const t = new Date(info.Time);
  return Number.isNaN(t.getTime()) ? null : t;
}

function translate(err: unknown, path: string, version: string): Error {
  if (err instanceof GoproxyError) return err;
  if (err instanceof UpstreamError) {
    if (err.failure.kind === 'not-found') return new GoproxyError('not-found', `not found: ${path}@${version}: ${err.message}`);
    return new GoproxyError(err.failure.timeout ? 'upstream-timeout' : 'bad-upstream', `fetching ${path}@${version}: ${err.message}`);
  }
  if (err instanceof GoModError) return new GoproxyError('bad-upstream', `upstream sent a bad module ${path}@${version}: ${err.message}; nothing was cached`);
  if (err instanceof VersionConflict) return new GoproxyError('bad-upstream', `upstream content for ${path}@${version} differs from the stored copy; serving refused`);
  const msg = err instanceof Error ? err.message : String(err);
  if (/upstream/.test(msg)) return new GoproxyError(/stalled|within/.test(msg) ? 'upstream-timeout' : 'bad-upstream', `fetching ${path}@${version}: ${msg}; nothing was cached`);
  return err as Error;
}
