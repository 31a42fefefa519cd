import type { Retraction } from '@modgate/gomod';

/** A stored module version as the rest of ModGate sees it (plain data). */
export interface VersionRecord {
  readonly path: string;
  readonly version: string;
  readonly time: Date | null;
  readonly modSize: number;
  readonly zipSize: number;
  readonly modHash: string;
  readonly zipHash: string;
  readonly modKey: string;
  readonly zipKey: string;
  readonly originKind: 'upstream' | 'publish' | 'import';
  /** The upstream URL (credentials redacted), the publisher's login, or the importer. */
  readonly origin: string;
  /** The publishing account (publish only). */
  readonly publisherId: string | null;
  /** The retract directives of this version's go.mod (null: stored before they were recorded). */
  readonly retract: readonly Retraction[] | null;
  /** The go.mod's "Deprecated:" message, if any. */
  readonly deprecated: string | null;
  readonly storedAt: Date;
}

export type NewVersion = Omit<VersionRecord, 'storedAt'>;
