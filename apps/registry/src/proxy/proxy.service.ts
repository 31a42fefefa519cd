import { checkModuleVersion, GoModError, isCanonicalVersion, isValid } from '@modgate/gomod';
import type { BlobStore } from '@modgate/storage';
import { GoproxyError } from '../common/goproxy-error';
import { unavailableError } from '../common/unavailable';
import type { Env } from '../config/env';
import type { ModuleVersionRepository } from '../versions/module-version.repository';
import type { VersionIndex } from '../versions/version-index';
import type { VersionRecord } from '../versions/version-record';
import type { ModRecord, ModuleModStore } from '../versions/module-mod.store';
import type { CacheFillService } from './cache-fill.service';
import { ModCache } from './mod-cache';
import type { OwnedPaths } from '../config/owned-paths';
import { JSON_TYPE, ProxyReply, TEXT } from './proxy-reply';
import type { ProxyMetrics } from './proxy.metrics';
import { UpstreamClient, UpstreamError } from './upstream.client';
import { latestOf, listable } from '../versions/version-choice';
import { listKey, versionKey, type NegativeCache } from '../versions/negative-cache';

/**
 * The GOPROXY read path. Each method tells its story in order: what is
 * stored answers at once (no database round trip for a warm version); a
 * miss is filled from upstream unless the path is ours or the network mode
 * forbids it; every "does not exist" is a 404 the go command can fall
 * through on, every upstream failure a 502/504 with a reason.
 */
export class ProxyService {
  private readonly infoBodies = new WeakMap<VersionRecord | ModRecord, Buffer>();

  constructor(
    private readonly env: Env,
    private readonly index: VersionIndex,
    private readonly repo: ModuleVersionRepository,
    private readonly fill: CacheFillService,
    private readonly upstream: UpstreamClient,
    private readonly blobs: BlobStore,
    private readonly mods: ModCache,
    private readonly modStore: ModuleModStore,
    private readonly owned: OwnedPaths,
    private readonly metrics: ProxyMetrics,
    private readonly negative: NegativeCache,
  ) {}

  /** `client`: the address asking, held to its share of uncached fills. */
  async info(path: string, version: string, client?: string): Promise<ProxyReply> {
    if (!isCanonicalVersion(version)) return this.revisionInfo(path, version);
    const v = await this.meta(path, version, client);
    const body = this.infoBody(v);
    return { kind: 'info', contentType: JSON_TYPE, body, size: body.length, etag: `"${v.modHash}.info"`, immutable: true };
  }

  async mod(path: string, version: string, client?: string): Promise<ProxyReply> {
    const v = await this.meta(path, version, client);
    // A public version's go.mod may be held from before its zip was (the same
    // bytes, checked at ingest): no blob read, so it is served while the blob store is away.
    const data = 'mod' in v ? v.mod : (this.modStore.peek(path, version)?.mod ?? (await this.mods.get(v, () => this.blobs.read(v.modKey))));
    return { kind: 'mod', contentType: TEXT, body: data, size: data.length, etag: `"${v.modHash}"`, immutable: true };
  }

  async zip(path: string, version: string, client?: string): Promise<ProxyReply> {
    const v = await this.version(path, version, client);
    const open = async (range?: { start: number; end: number }) => (await this.blobs.open(v.zipKey, range)).body as NodeJS.ReadableStream as import('node:stream').Readable;
    return { kind: 'zip', contentType: 'application/zip', body: open, size: v.zipSize, etag: `"${v.zipHash}"`, immutable: true };
  }

  async list(path: string): Promise<ProxyReply> {
    return this.orRememberedAbsent(listKey(path), () => this.listNow(path));
  }

  private async listNow(path: string): Promise<ProxyReply> {
    const stored = await this.storedVersions(path);
    let versions = stored;
    if (this.mayAskUpstream(path)) {
      try {
        const { data } = await this.upstream.get(path, '@v/list');
        versions = [...stored, ...data.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => isValid(l))];
      } catch (err) {
        this.upstreamFailureOr404(err, stored.length > 0, `${path}@v/list`);
      }
    }
    const tagged = listable(versions);
    if (tagged.length === 0 && stored.length === 0 && !this.mayAskUpstream(path)) throw this.notHeld(path);
    const body = tagged.length ? `${tagged.join('\n')}\n` : '';
    return { kind: 'list', contentType: TEXT, body, size: Buffer.byteLength(body), immutable: false };
  }

  async latest(path: string): Promise<ProxyReply> {
    if (this.mayAskUpstream(path)) {
      try {
        const { data } = await this.upstream.get(path, '@latest');
        const body = checkInfoJson(data, null);
        return { kind: 'latest', contentType: JSON_TYPE, body, size: Buffer.byteLength(body), immutable: false };
      } catch (err) {
        this.upstreamFailureOr404(err, true, `${path}@latest`);
      }
    }
    const stored = await this.repo.listVersions(path);
    const best = latestOf(stored);
    if (!best) throw this.notHeld(path);
    const body = this.infoBody(stored.find((v) => v.version === best)!);
    return { kind: 'latest', contentType: JSON_TYPE, body, size: body.length, immutable: false };
  }

  /** Versions stored for a module; from memory while PostgreSQL is away (cached builds keep resolving). */
  private async storedVersions(path: string): Promise<string[]> {
    try {
      return (await this.repo.listVersions(path)).map((v) => v.version);
    } catch (err) {
      const fromMemory = unavailableError(err) ? [...this.index.versionsOf(path), ...this.modStore.versionsOf(path)] : [];
      if (fromMemory.length === 0) throw err;
      return fromMemory;
    }
  }

  /**
   * What .info and .mod need: a stored version, or its go.mod alone
   * (module_mods), fetched from upstream now without the zip; 404 when it
   * cannot exist here.
   */
  private async meta(path: string, version: string, client?: string): Promise<VersionRecord | ModRecord> {
    const hot = this.index.peek(path, version) ?? this.modStore.peek(path, version);
    if (hot) {
      this.metrics.cacheHit();
      return hot;
    }
    return this.orRememberedAbsent(versionKey(path, version), () => this.metaMiss(path, version, client));
  }

  private async metaMiss(path: string, version: string, client?: string): Promise<VersionRecord | ModRecord> {
    checkVersionOr404(path, version);
    const stored = (await this.index.find(path, version)) ?? (await this.modStore.find(path, version));
    if (stored) {
      this.metrics.cacheHit();
      return stored;
    }
    this.metrics.cacheMiss();
    if (!this.mayAskUpstream(path)) throw await this.missing(path, version);
    this.knownAbsent(versionKey(path, version));
    return this.fallbackOnOutage(path, version, () => this.fill.fillMod(path, version, client));
  }

  /** A stored version, or one filled from upstream now; 404 when it cannot exist here. */
  private async version(path: string, version: string, client?: string): Promise<VersionRecord> {
    const hot = this.index.peek(path, version);
    if (hot) {
      this.metrics.cacheHit();
      return hot;
    }
    return this.orRememberedAbsent(versionKey(path, version), () => this.versionMiss(path, version, client));
  }

  private async versionMiss(path: string, version: string, client?: string): Promise<VersionRecord> {
    checkVersionOr404(path, version);
    const stored = await this.index.find(path, version);
    if (stored) {
      this.metrics.cacheHit();
      return stored;
    }
    this.metrics.cacheMiss();
    if (!this.mayAskUpstream(path)) throw await this.missing(path, version);
    this.knownAbsent(versionKey(path, version));
    return this.fallbackOnOutage(path, version, () => this.fill.fill(path, version, client));
  }

  /**
   * A "not found" answered moments ago is answered again without asking
   * the database or an upstream (see NegativeCache); a new one is kept.
   * Outages (fallback mode's "upstream is unavailable") are not kept.
   */
  private async orRememberedAbsent<T>(key: string, lookup: () => Promise<T>): Promise<T> {
    this.knownAbsent(key);
    try {
      return await lookup();
    } catch (err) {
      if (err instanceof GoproxyError && err.kind === 'not-found' && !/unavailable/.test(err.message)) this.negative.remember(key, err);
      throw err;
    }
  }

  /**
   * Throws the remembered "not found" for key, if any. Checked again right
   * before a fill: a fill that failed while this request was looking in the
   * database has just left its answer here.
   */
  private knownAbsent(key: string): void {
    const known = this.negative.get(key);
    if (known === undefined) return;
    this.metrics.negativeHit();
    // The error made when the answer was first given: building a new one
    // (a stack trace) would cost more than the rest of this answer.
    throw known;
  }

  /** In fallback mode an unreachable upstream means "not here" (404), not a failure. */
  private async fallbackOnOutage<T>(path: string, version: string, fill: () => Promise<T>): Promise<T> {
    try {
      return await fill();
    } catch (err) {
      if (this.env.networkMode === 'fallback' && err instanceof GoproxyError && (err.kind === 'bad-upstream' || err.kind === 'upstream-timeout') && /unreachable|stalled|within|answered 5/.test(err.message)) {
        throw new GoproxyError('not-found', `not found: ${path}@${version} is not cached and the upstream is unavailable`);
      }
      throw err;
    }
  }

  /** `@v/<revision>.info` (branch, commit, +meta): asked of the upstream, never cached. */
  private async revisionInfo(path: string, rev: string): Promise<ProxyReply> {
    if (!this.mayAskUpstream(path)) throw new GoproxyError('not-found', `not found: ${path}@${rev}: unknown revision (only canonical versions are served from this registry's store)`);
    try {
      const { data } = await this.upstream.get(path, UpstreamClient.versionSuffix(rev, 'info'));
      const body = checkInfoJson(data, null);
      return { kind: 'info', contentType: JSON_TYPE, body, size: Buffer.byteLength(body), immutable: false };
    } catch (err) {
      this.upstreamFailureOr404(err, false, `${path}@${rev}`);
      throw new GoproxyError('not-found', `not found: ${path}@${rev}: unknown revision`);
    }
  }

  private mayAskUpstream(path: string): boolean {
    return this.upstream.configured && this.env.networkMode !== 'offline' && !this.owned.owns(path);
  }

  /**
   * Upstream said "not here" → returns (the caller answers from the store or
   * with 404). Upstream failed → in fallback mode returns when the store can
   * answer; otherwise throws 502/504 with the reason.
   */
  private upstreamFailureOr404(err: unknown, storeCanAnswer: boolean, what: string): void {
    if (!(err instanceof UpstreamError)) throw err;
    if (err.failure.kind === 'not-found') {
      if (storeCanAnswer) return;
      throw new GoproxyError('not-found', /^not found/i.test(err.message) ? err.message : `not found: ${what}: ${err.message}`);
    }
    if (this.env.networkMode === 'fallback') {
      if (storeCanAnswer) return;
      throw new GoproxyError('not-found', `not found: ${what} is not cached and the upstream is unavailable`);
    }
    throw new GoproxyError(err.failure.timeout ? 'upstream-timeout' : 'bad-upstream', `${what}: ${err.message}`);
  }

  /** A version that is not stored: 410 with the reason when an admin deleted it, else 404. */
  private async missing(path: string, version: string): Promise<GoproxyError> {
    const t = this.owned.owns(path) ? await this.repo.findTombstone(path, version) : null;
    if (t) return new GoproxyError('gone', `gone: ${path}@${version} was deleted from this registry on ${t.deletedAt.toISOString().slice(0, 10)} by ${t.deletedBy}: ${t.reason}`);
    return this.notHeld(path, version);
  }

  private notHeld(path: string, version?: string): GoproxyError {
    const what = version ? `${path}@${version}` : path;
    if (this.owned.owns(path)) return new GoproxyError('not-found', `not found: ${what} has not been published to this registry`);
    if (this.env.networkMode === 'offline') return new GoproxyError('not-found', `not found: ${what} is not cached (offline mode)`);
    if (!this.upstream.configured) return new GoproxyError('not-found', `not found: ${what} is not in this registry and no upstream is configured`);
    return new GoproxyError('not-found', `not found: ${what}: no versions upstream or in this registry`);
  }

  /** The .info bytes of a stored version, made once (stored versions never change). */
  private infoBody(v: VersionRecord | ModRecord): Buffer {
    let body = this.infoBodies.get(v);
    if (!body) {
      body = Buffer.from(JSON.stringify(v.time ? { Version: v.version, Time: rfc3339(v.time) } : { Version: v.version }));
      this.infoBodies.set(v, body);
    }
    return body;
  }
}

function checkVersionOr404(path: string, version: string): void {
  try {
    checkModuleVersion(path, version);
  } catch (err) {
    if (err instanceof GoModError) throw new GoproxyError('not-found', `not found: ${err.message}`);
    throw err;
  }
}

function rfc3339(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/** Relayed `.info`/`@latest` JSON must name a valid version; re-serialised to what we checked. */
function checkInfoJson(data: Buffer, expect: string | null): string {
  let info: { Version?: unknown; Time?: unknown };
  try {
    info = JSON.parse(data.toString('utf8'));
  } catch {
    throw new GoproxyError('bad-upstream', 'upstream sent invalid JSON for a version query');
  }
  if (typeof info.Version !== 'string' || !isCanonicalVersion(info.Version) || (expect && info.Version !== expect)) {
    throw new GoproxyError('bad-upstream', 'upstream answered a version query without a canonical Version');
  }
  return JSON.stringify(typeof info.Time === 'string' ? { Version: info.Version, Time: info.Time } : { Version: info.Version });
}
