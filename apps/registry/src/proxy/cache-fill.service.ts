import { GoModError, hashGoMod, parseGoMod } from '@modgate/gomod';
import { GoproxyError } from '../common/goproxy-error';
import { redact } from '../config/upstreams';
import type { AppLogger } from '../logging/logger';
import { IngestService, MAX_GOMOD_SIZE, VersionConflict } from '../versions/ingest.service';
import type { ModRecord, ModuleModStore } from '../versions/module-mod.store';
import type { Upstream } from '../config/upstreams';
import type { VersionIndex } from '../versions/version-index';
import type { VersionRecord } from '../versions/version-record';
import type { ProxyMetrics } from './proxy.metrics';
import type { FillLimiter } from './fill-limiter';
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
  private readonly modFlights = new SingleFlight<ModRecord>();

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly ingest: IngestService,
    private readonly index: VersionIndex,
    private readonly lock: VersionLock,
    private readonly mods: ModuleModStore,
    private readonly metrics: ProxyMetrics,
    private readonly log: AppLogger,
    private readonly verify: VersionVerifier | null = null,
    private readonly limiter: FillLimiter | null = null,
  ) {}

  /**
   * `client` (the address asking) is held to its share of concurrent fills
   * (FillLimiter); a request for a fill already started or waiting joins it
   * and takes no share.
   */
  fill(path: string, version: string, client = 'internal'): Promise<VersionRecord> {
    const key = `${path}@${version}`;
    return this.flights.do(key, () =>
      this.limited(client, () =>
        this.lock.withLock(key, async () => {
          // Another process may have stored it while we waited for the lock.
          const stored = await this.index.find(path, version);
          if (stored) return stored;
          return this.fetchAndStore(path, version);
        }),
      ),
    );
  }

  private limited<T>(client: string, fn: () => Promise<T>): Promise<T> {
    return this.limiter ? this.limiter.run(client, fn) : fn();
  }

  /**
   * A public version's .info and .mod only (what graph resolution reads):
   * checked and kept in module_mods, so the zip is fetched only when asked for.
   */
  fillMod(path: string, version: string, client = 'internal'): Promise<ModRecord> {
    const key = `${path}@${version}`;
    return this.modFlights.do(key, () => this.limited(client, () => this.lock.withLock(`mod ${key}`, async () => {
      // Another process may have stored it (or the whole version) meanwhile.
      const stored = await this.mods.find(path, version);
      if (stored) return stored;
      try {
        const meta = await this.fetchMeta(path, version);
        const r = await this.mods.insertOnce({ path, version, time: meta.time, mod: meta.mod, modHash: hashGoMod(meta.mod) }, redact(meta.upstream.url));
        this.metrics.fills.inc({ outcome: 'mod-stored' });
        return r;
      } catch (err) {
        this.metrics.fills.inc({ outcome: err instanceof UpstreamError && err.failure.kind === 'not-found' ? 'not-found' : 'failed' });
        throw translate(err, path, version);
      }
    })));
  }

  /** .info then .mod from the first upstream that has the version; checked before anything is kept. */
  private async fetchMeta(path: string, version: string): Promise<{ upstream: Upstream; time: Date | null; mod: Buffer }> {
    const info = await this.upstream.get(path, UpstreamClient.versionSuffix(version, 'info'));
    const time = parseInfo(info.data, path, version);
    const mod = await this.upstream.get(path, UpstreamClient.versionSuffix(version, 'mod'), info.upstream);
    if (mod.data.length > MAX_GOMOD_SIZE) throw new GoproxyError('bad-upstream', `upstream .mod for ${path}@${version} is larger than 16 MiB; nothing was cached`);
    let declared: string | null;
    try {
      declared = parseGoMod(mod.data).module;
    } catch (err) {
      if (err instanceof GoModError) throw new GoproxyError('bad-upstream', `upstream .mod for ${path}@${version} is not a go.mod (${err.message}); nothing was cached`);
      throw err;
    }
    if (declared !== path) throw new GoproxyError('bad-upstream', `upstream .mod for ${path}@${version} declares module "${declared ?? ''}"; nothing was cached`);
    return { upstream: info.upstream, time, mod: mod.data };
  }

  private async fetchAndStore(path: string, version: string): Promise<VersionRecord> {
    const started = Date.now();
    try {
      // What clients were already served (.info, .mod) is what the zip must match.
      const known = await this.mods.find(path, version);
      const meta = known ? null : await this.fetchMeta(path, version);
      const zip = await this.upstream.open(path, UpstreamClient.versionSuffix(version, 'zip'), meta?.upstream);
      const { record } = await this.ingest.ingest({
        path,
        version,
        time: known ? known.time : meta!.time,
        mod: known ? known.mod : meta!.mod,
        zip: zip.body,
        origin: { kind: 'upstream', name: redact(zip.upstream.url) },
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
