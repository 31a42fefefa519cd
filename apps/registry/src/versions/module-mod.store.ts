import { DataSource } from 'typeorm';
import { moduleIdFor } from './module-version.repository';

/** A public version's go.mod and .info time, stored before (or without) its zip. */
export interface ModRecord {
  readonly path: string;
  readonly version: string;
  readonly time: Date | null;
  readonly mod: Buffer;
  readonly modHash: string;
}

/**
 * module_mods behind an in-memory map: like the version index, entries never
 * go stale (rows are immutable), so memory answers warm requests and the
 * database the rest (another instance may have stored the row).
 */
export class ModuleModStore {
  private readonly entries = new Map<string, ModRecord>();
  private bytes = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly budget = 64 << 20,
  ) {}

  /** Versions held in memory for a module (see VersionIndex.versionsOf). */
  versionsOf(path: string): string[] {
    const out: string[] = [];
    for (const r of this.entries.values()) if (r.path === path) out.push(r.version);
    return out;
  }

  peek(path: string, version: string): ModRecord | undefined {
    return this.entries.get(`${path}@${version}`);
  }

  async find(path: string, version: string): Promise<ModRecord | null> {
    const hit = this.peek(path, version);
    if (hit) return hit;
    const rows = await this.ds.query(
      `SELECT mm.version_time, mm.mod, mm.mod_hash FROM module_mods mm JOIN modules m ON m.id = mm.module_id
       WHERE m.path = $1 AND mm.version = $2`,
      [path, version],
    );
    if (!rows.length) return null;
    return this.remember({ path, version, time: rows[0].version_time, mod: rows[0].mod, modHash: rows[0].mod_hash });
  }

  /** Stores the row unless one exists; returns the stored row (a concurrent writer's wins). */
  async insertOnce(r: ModRecord, origin: string): Promise<ModRecord> {
    const stored = await this.ds.transaction(async (em) => {
      const id = await moduleIdFor(em, r.path);
      await em.query(
        `INSERT INTO module_mods (module_id, version, version_time, mod, mod_hash, origin) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (module_id, version) DO NOTHING`,
        [id, r.version, r.time, r.mod, r.modHash, origin],
      );
      const [row] = await em.query(`SELECT version_time, mod, mod_hash FROM module_mods WHERE module_id = $1 AND version = $2`, [id, r.version]);
      return { path: r.path, version: r.version, time: row.version_time, mod: row.mod, modHash: row.mod_hash };
    });
    return this.remember(stored);
  }

  private remember(r: ModRecord): ModRecord {
    const key = `${r.path}@${r.version}`;
    if (!this.entries.has(key)) {
      this.entries.set(key, r);
      this.bytes += r.mod.length;
      for (const [k, e] of this.entries) {
        if (this.bytes <= this.budget) break;
        this.entries.delete(k);
        this.bytes -= e.mod.length;
      }
    }
    return r;
  }
}
