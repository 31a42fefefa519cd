import { checkModuleVersion, GoModError, isPseudoVersion } from '@modgate/gomod';
import type { BlobStore } from '@modgate/storage';
import type { AccessService } from '../access/access.service';
import { refusalOf, type AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { requireAdmin } from '../identity/actor';
import type { AppLogger } from '../logging/logger';
import type { OwnedPaths } from '../config/owned-paths';
import { IngestService, MAX_ZIP_SIZE, VersionConflict } from '../versions/ingest.service';
import { ModuleVersionRepository, VersionDeleted } from '../versions/module-version.repository';
import type { VersionChangeFeed } from '../versions/version-change-feed';
import type { VersionIndex } from '../versions/version-index';
import type { VersionRecord } from '../versions/version-record';

export interface PublishRequest {
  readonly path: string;
  readonly version: string;
  /** The module zip, streamed (never held in memory). */
  readonly zip: NodeJS.ReadableStream;
  /** Content-Length, when the client sent one. */
  readonly size: number | null;
  /** `.info` Time: the upload time unless given (e.g. the tag's commit time). */
  readonly time: Date | null;
  readonly allowPseudo: boolean;
}

export interface PublishResult {
  readonly record: VersionRecord;
  /** False: the same bytes were already published (idempotent). */
  readonly created: boolean;
}

/**
 * The only way a private version comes into existence. The story, in order:
 * the path must be ours, the caller may publish there, the version is one
 * Go accepts, it was never deleted; then the ingest service validates the
 * whole zip while spooling it and stores it once. Nothing is stored unless
 * every check passed; a version never changes once stored.
 */
export class PublishService {
  constructor(
    private readonly owned: OwnedPaths,
    private readonly access: AccessService,
    private readonly ingest: IngestService,
    private readonly repo: ModuleVersionRepository,
    private readonly index: VersionIndex,
    private readonly blobs: BlobStore,
    private readonly feed: VersionChangeFeed,
    private readonly audit: AuditService,
    private readonly log: AppLogger,
  ) {}

  /** publish, recorded in the audit log (success or refusal) before the answer. */
  async publish(who: Principal, req: PublishRequest): Promise<PublishResult> {
    const at = { module: req.path, version: req.version };
    let result: PublishResult;
    try {
      result = await this.store(who, req);
    } catch (err) {
      await this.audit.security(who, 'publish', { ...at, ...refusalOf(err) });
      throw err;
    }
    const { record, created } = result;
    await this.audit.security(who, 'publish', {
      ...at,
      outcome: 'allowed',
      status: created ? 201 : 200,
      bytes: record.zipSize,
      reason: created ? null : 'the same bytes were published before',
      details: { zipHash: record.zipHash, modHash: record.modHash, created },
    });
    return result;
  }

  /** delete, recorded in the audit log before the answer. */
  async delete(who: Principal, path: string, version: string, reason: string): Promise<VersionRecord> {
    try {
      const gone = await this.remove(who, path, version, reason);
      await this.audit.security(who, 'version.delete', { module: path, version, outcome: 'allowed', status: 200, reason, details: { zipHash: gone.zipHash, modHash: gone.modHash } });
      return gone;
    } catch (err) {
      await this.audit.security(who, 'version.delete', { module: path, version, ...refusalOf(err) });
      throw err;
    }
  }

  private async store(who: Principal, req: PublishRequest): Promise<PublishResult> {
    const { path, version } = req;
    this.requireOwned(path, 'published');
    this.access.require(who, 'publish', path);
    checkVersion(path, version, req.allowPseudo);
    if (req.size !== null && req.size > MAX_ZIP_SIZE) {
      throw new GoproxyError('too-large', `module zip is ${req.size} bytes; the limit is ${MAX_ZIP_SIZE} bytes (500 MiB)`);
    }
    const tomb = await this.repo.findTombstone(path, version);
    if (tomb) throw new GoproxyError('conflict', new VersionDeleted(tomb).message);

    let result: PublishResult;
    try {
      result = await this.ingest.ingest({
        path,
        version,
        // Whole seconds, like the times of tags and upstream .info files.
        time: req.time ?? new Date(Math.floor(Date.now() / 1000) * 1000),
        zip: req.zip,
        origin: { kind: 'publish', name: who.login },
        publisherId: who.userId,
      });
    } catch (err) {
      throw publishError(err);
    }
    const { record, created } = result;
    if (created) this.log.info({ module: path, version, by: who.login, zipHash: record.zipHash, bytes: record.zipSize }, 'published');
    return result;
  }

  /**
   * Admin only: removes a published version and leaves a tombstone, so it
   * answers 410 with the reason and can never be published again.
   */
  private async remove(who: Principal, path: string, version: string, reason: string): Promise<VersionRecord> {
    requireAdmin(who, 'deleting a module version');
    this.requireOwned(path, 'deleted');
    const gone = await this.repo.deleteVersion(path, version, who.login, reason);
    if (!gone) {
      const tomb = await this.repo.findTombstone(path, version);
      if (tomb) throw new GoproxyError('gone', `${path}@${version} was already deleted on ${tomb.deletedAt.toISOString()} by ${tomb.deletedBy}`);
      throw new GoproxyError('not-found', `${path}@${version} has not been published to this registry`);
    }
    this.index.forget(path, version);
    await this.feed.deleted(path, version);
    // The row is gone first, so no reader is sent to a missing blob for long;
    // a blob left behind by a failed delete is garbage, never served.
    const left = (await Promise.allSettled([this.blobs.delete(gone.zipKey), this.blobs.delete(gone.modKey)])).filter((r) => r.status === 'rejected');
    this.log.warn({ module: path, version, by: who.login, reason, blobsLeft: left.length }, 'module version deleted');
    return gone;
  }

  private requireOwned(path: string, what: string): void {
    if (!this.owned.owns(path)) {
      const patterns = this.owned.patterns.length ? `MODGATE_PRIVATE is ${this.owned.patterns.join(',')}` : 'MODGATE_PRIVATE is not set';
      throw new GoproxyError('bad-request', `${path} is not a private module path of this registry (${patterns}); only paths under MODGATE_PRIVATE can be ${what}`);
    }
  }
}

/** Canonical semver with the right major version for the path; pseudo-versions only when asked for. */
function checkVersion(path: string, version: string, allowPseudo: boolean): void {
  try {
    checkModuleVersion(path, version);
  } catch (err) {
    if (err instanceof GoModError) throw new GoproxyError('bad-request', err.message);
    throw err;
  }
  if (isPseudoVersion(version) && !allowPseudo) {
    throw new GoproxyError('bad-request', `${version} is a pseudo-version; publish a tagged version (vX.Y.Z), or add ?allowPseudo=true if you mean it`);
  }
}

/** The ingest service's refusals as API answers: 400 for the request, 413 for size, 422 for content, 409 for history. */
function publishError(err: unknown): unknown {
  if (err instanceof GoModError) {
    const kind = err.code === 'too-large' ? 'too-large' : err.code === 'invalid-zip' || err.code === 'invalid-gomod' ? 'unprocessable' : 'bad-request';
    return new GoproxyError(kind, err.message);
  }
  if (err instanceof VersionConflict) return new GoproxyError('conflict', err.message);
  if (err instanceof VersionDeleted) return new GoproxyError('conflict', err.message);
  return err;
}
