import { DataSource, type EntityManager } from 'typeorm';
import { NewVersion, VersionRecord } from './version-record';

/**
 * Named queries over modules and module_versions. Returns plain records;
 * nothing above this class builds SQL.
 */
export class ModuleVersionRepository {
  constructor(private readonly ds: DataSource) {}

  async findVersion(path: string, version: string): Promise<VersionRecord | null> {
    const rows = await this.ds.query(`${SELECT} WHERE m.path = $1 AND v.version = $2`, [path, version]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Every stored version of a module (any order). */
  async listVersions(path: string): Promise<VersionRecord[]> {
    const rows = await this.ds.query(`${SELECT} WHERE m.path = $1`, [path]);
    return rows.map(toRecord);
  }

  /** Newest first, for warming the in-memory index at start. */
  async recent(limit: number): Promise<VersionRecord[]> {
    const rows = await this.ds.query(`${SELECT} ORDER BY v.stored_at DESC LIMIT $1`, [limit]);
    return rows.map(toRecord);
  }

  async countVersions(): Promise<number> {
    const [{ n }] = await this.ds.query(`SELECT count(*)::int AS n FROM module_versions`);
    return n;
  }

  /**
   * Inserts the version unless one with the same path and version exists.
   * Returns the row that is stored afterwards and whether it is ours; a
   * concurrent writer's row wins without an error, so the caller can compare.
   */
  async insertVersionOnce(v: NewVersion): Promise<{ inserted: boolean; record: VersionRecord }> {
    return this.ds.transaction(async (em) => {
      const moduleId = await moduleIdFor(em, v.path);
      const inserted = await em.query(
        `INSERT INTO module_versions
           (module_id, version, version_time, mod_size, zip_size, mod_hash, zip_hash, mod_key, zip_key, origin_kind, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (module_id, version) DO NOTHING
         RETURNING stored_at`,
        [moduleId, v.version, v.time, v.modSize, v.zipSize, v.modHash, v.zipHash, v.modKey, v.zipKey, v.originKind, v.origin],
      );
      if (inserted.length === 1) return { inserted: true, record: { ...v, storedAt: inserted[0].stored_at } };
      const rows = await em.query(`${SELECT} WHERE v.module_id = $1 AND v.version = $2`, [moduleId, v.version]);
      return { inserted: false, record: toRecord(rows[0]) };
    });
  }

  /** Removes a version row (cache purge, admin); its blobs are the caller's business. */
  async deleteVersion(path: string, version: string): Promise<VersionRecord | null> {
    const rows = await this.ds.query(
      `DELETE FROM module_versions v USING modules m
       WHERE v.module_id = m.id AND m.path = $1 AND v.version = $2
       RETURNING m.path, v.*`,
      [path, version],
    );
    const first = Array.isArray(rows[0]) ? rows[0][0] : rows[0];
    return first ? toRecord(first) : null;
  }
}

/**
 * The modules row's id for a path, created if missing (inside the caller's
 * transaction). DO UPDATE rather than DO NOTHING so RETURNING always yields it.
 */
export async function moduleIdFor(em: Pick<EntityManager, 'query'>, path: string): Promise<string> {
  const [{ id }] = await em.query(
    `INSERT INTO modules (path) VALUES ($1)
     ON CONFLICT (path) DO UPDATE SET path = EXCLUDED.path
     RETURNING id`,
    [path],
  );
  return id;
}

const SELECT = `
  SELECT m.path, v.version, v.version_time, v.mod_size, v.zip_size, v.mod_hash, v.zip_hash,
         v.mod_key, v.zip_key, v.origin_kind, v.origin, v.stored_at
  FROM module_versions v JOIN modules m ON m.id = v.module_id`;

interface Row {
  path: string;
  version: string;
  version_time: Date | null;
  mod_size: number;
  zip_size: string | number;
  mod_hash: string;
  zip_hash: string;
  mod_key: string;
  zip_key: string;
  origin_kind: VersionRecord['originKind'];
  origin: string;
  stored_at: Date;
}

function toRecord(r: Row): VersionRecord {
  return {
    path: r.path,
    version: r.version,
    time: r.version_time,
    modSize: r.mod_size,
    zipSize: Number(r.zip_size),
    modHash: r.mod_hash,
    zipHash: r.zip_hash,
    modKey: r.mod_key,
    zipKey: r.zip_key,
    originKind: r.origin_kind,
    origin: r.origin,
    storedAt: r.stored_at,
  };
}
