import { DataSource, type EntityManager } from 'typeorm';
import type { Retraction } from '@modgate/gomod';
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
           (module_id, version, version_time, mod_size, zip_size, mod_hash, zip_hash, mod_key, zip_key, origin_kind, origin,
            publisher_id, retract, deprecated)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
         -- A deleted version stays deleted: its tombstone keeps it from coming back.
         WHERE NOT EXISTS (SELECT 1 FROM version_tombstones t WHERE t.module_id = $1 AND t.version = $2)
         ON CONFLICT (module_id, version) DO NOTHING
         RETURNING stored_at`,
        [
          moduleId, v.version, v.time, v.modSize, v.zipSize, v.modHash, v.zipHash, v.modKey, v.zipKey, v.originKind, v.origin,
          v.publisherId, v.retract === null ? null : JSON.stringify(v.retract), v.deprecated,
        ],
      );
      if (inserted.length === 1) return { inserted: true, record: { ...v, storedAt: inserted[0].stored_at } };
      const rows = await em.query(`${SELECT} WHERE v.module_id = $1 AND v.version = $2`, [moduleId, v.version]);
      if (rows.length === 0) throw new VersionDeleted(await tombstoneOf(em, moduleId, v.path, v.version));
      return { inserted: false, record: toRecord(rows[0]) };
    });
  }

  /**
   * Removes a version row and leaves its tombstone, in one transaction, so
   * the version can never be stored again. Its blobs are the caller's
   * business. Null when no such version is stored.
   */
  async deleteVersion(path: string, version: string, by: string, reason: string): Promise<VersionRecord | null> {
    return this.ds.transaction(async (em) => {
      const rows = await em.query(
        `DELETE FROM module_versions v USING modules m
         WHERE v.module_id = m.id AND m.path = $1 AND v.version = $2
         RETURNING m.path, v.*`,
        [path, version],
      );
      const first = Array.isArray(rows[0]) ? rows[0][0] : rows[0];
      if (!first) return null;
      await em.query(
        `INSERT INTO version_tombstones (module_id, version, zip_hash, mod_hash, deleted_by, reason) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (module_id, version) DO NOTHING`,
        [first.module_id, version, first.zip_hash, first.mod_hash, by, reason],
      );
      return toRecord(first);
    });
  }

  /** The tombstone of a deleted version, or null. */
  async findTombstone(path: string, version: string): Promise<Tombstone | null> {
    const rows = await this.ds.query(
      `SELECT t.* FROM version_tombstones t JOIN modules m ON m.id = t.module_id WHERE m.path = $1 AND t.version = $2`,
      [path, version],
    );
    return rows.length ? toTombstone(path, rows[0]) : null;
  }

  /** Every tombstone of a module. */
  async listTombstones(path: string): Promise<Tombstone[]> {
    const rows = await this.ds.query(
      `SELECT t.* FROM version_tombstones t JOIN modules m ON m.id = t.module_id WHERE m.path = $1`,
      [path],
    );
    return rows.map((r: TombstoneRow) => toTombstone(path, r));
  }
}

/** What is left of a deleted version: enough to say why and to refuse it forever. */
export interface Tombstone {
  readonly path: string;
  readonly version: string;
  readonly zipHash: string;
  readonly modHash: string;
  readonly deletedBy: string;
  readonly reason: string;
  readonly deletedAt: Date;
}

/** The version was deleted: it can never be stored again. */
export class VersionDeleted extends Error {
  constructor(readonly tombstone: Tombstone) {
    super(`${tombstone.path}@${tombstone.version} was deleted on ${tombstone.deletedAt.toISOString()} by ${tombstone.deletedBy} (${tombstone.reason}) and can never be published again; publish a new version`);
    this.name = 'VersionDeleted';
  }
}

interface TombstoneRow {
  version: string;
  zip_hash: string;
  mod_hash: string;
  deleted_by: string;
  reason: string;
  deleted_at: Date;
}

function toTombstone(path: string, r: TombstoneRow): Tombstone {
  return { path, version: r.version, zipHash: r.zip_hash, modHash: r.mod_hash, deletedBy: r.deleted_by, reason: r.reason, deletedAt: r.deleted_at };
}

async function tombstoneOf(em: Pick<EntityManager, 'query'>, moduleId: string, path: string, version: string): Promise<Tombstone> {
  const [row] = await em.query(`SELECT * FROM version_tombstones WHERE module_id = $1 AND version = $2`, [moduleId, version]);
  return toTombstone(path, row);
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
         v.mod_key, v.zip_key, v.origin_kind, v.origin, v.publisher_id, v.retract, v.deprecated, v.stored_at
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
  publisher_id: string | null;
  retract: Retraction[] | null;
  deprecated: string | null;
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
    publisherId: r.publisher_id ?? null,
    retract: r.retract ?? null,
    deprecated: r.deprecated ?? null,
    storedAt: r.stored_at,
  };
}
