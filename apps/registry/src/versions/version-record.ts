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
  readonly origin: string;
  readonly storedAt: Date;
}

export type NewVersion = Omit<VersionRecord, 'storedAt'>;
