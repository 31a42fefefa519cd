import type { VersionRecord } from '../versions/version-record';

/** One stored version as the API shows it (publish answers, catalogue). */
export interface VersionView {
  readonly module: string;
  readonly version: string;
  /** The `.info` Time. */
  readonly time: string | null;
  /** The go.sum hashes: `<module> <version> h1:…` and `<module> <version>/go.mod h1:…`. */
  readonly zipHash: string;
  readonly modHash: string;
  readonly zipSize: number;
  readonly modSize: number;
  /** published (upload), upstream (pull-through cache) or import. */
  readonly origin: 'published' | 'upstream' | 'import';
  /** The publisher's login, the upstream URL or the importer. */
  readonly source: string;
  readonly storedAt: string;
  readonly retracted: boolean;
  readonly retraction: string | null;
}

export function versionView(v: VersionRecord, retraction?: string): VersionView {
  return {
    module: v.path,
    version: v.version,
    time: v.time ? v.time.toISOString() : null,
    zipHash: v.zipHash,
    modHash: v.modHash,
    zipSize: v.zipSize,
    modSize: v.modSize,
    origin: v.originKind === 'publish' ? 'published' : v.originKind,
    source: v.origin,
    storedAt: v.storedAt.toISOString(),
    retracted: retraction !== undefined,
    retraction: retraction ?? null,
  };
}
