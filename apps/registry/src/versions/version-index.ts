import { ModuleVersionRepository } from './module-version.repository';
import { VersionRecord } from './version-record';

/**
 * In-memory index of stored versions, so the hot path (a cached .info, .mod
 * or .zip) never waits on PostgreSQL. Stored versions never change, so an
 * entry never goes stale; it is filled at start, on ingest and on a database
 * hit (another instance may have stored the version). Bounded: the oldest
 * entries are dropped past `capacity` and simply come back from the database.
 */
export class VersionIndex {
  private readonly entries = new Map<string, VersionRecord>();

  constructor(
    private readonly repo: ModuleVersionRepository,
    private readonly capacity = 500_000,
  ) {}

  async warm(): Promise<number> {
    const rows = await this.repo.recent(this.capacity);
    for (let i = rows.length - 1; i >= 0; i--) this.remember(rows[i]);
    return rows.length;
  }

  /** The stored version, from memory or the database; null when not stored. */
  async find(path: string, version: string): Promise<VersionRecord | null> {
    const hit = this.peek(path, version);
    if (hit) return hit;
    const row = await this.repo.findVersion(path, version);
    if (row) this.remember(row);
    return row;
  }

  peek(path: string, version: string): VersionRecord | undefined {
    return this.entries.get(key(path, version));
  }

  remember(v: VersionRecord): void {
    const k = key(v.path, v.version);
    this.entries.delete(k);
    this.entries.set(k, v);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /**
   * The stored versions of a module held in memory: what `list` falls back on
   * while PostgreSQL is away (a scan; only then).
   */
  versionsOf(path: string): string[] {
    const prefix = `${path}@`;
    const out: string[] = [];
    for (const [k, v] of this.entries) if (k.startsWith(prefix) && v.path === path) out.push(v.version);
    return out;
  }

  forget(path: string, version: string): void {
    this.entries.delete(key(path, version));
  }

  get size(): number {
    return this.entries.size;
  }
}

function key(path: string, version: string): string {
  return `${path}@${version}`;
}
