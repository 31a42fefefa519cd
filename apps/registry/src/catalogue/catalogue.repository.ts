import type { DataSource } from 'typeorm';

/** One module of the catalogue, as stored. */
export interface ModuleSummaryRow {
  readonly path: string;
  readonly versions: number;
  readonly published: number;
  readonly cached: number;
  readonly lastStoredAt: Date | null;
}

export interface ModuleFilter {
  /** Path prefix, matched on element boundaries (`corp.example.com/pay` does not match `…/payments`). */
  readonly prefix?: string;
  /** Substring of the path, case-insensitive. */
  readonly search?: string;
}

/** Named queries behind the catalogue API. */
export class CatalogueRepository {
  constructor(private readonly ds: DataSource) {}

  /** Every module ModGate knows (stored versions, cached go.mod files or tombstones), by path. */
  async modules(f: ModuleFilter): Promise<ModuleSummaryRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.prefix) {
      args.push(f.prefix, `${likeEscape(f.prefix)}/%`);
      where.push(`(m.path = $${args.length - 1} OR m.path LIKE $${args.length})`);
    }
    if (f.search) {
      args.push(`%${likeEscape(f.search)}%`);
      where.push(`m.path ILIKE $${args.length}`);
    }
    const rows = await this.ds.query(
      `SELECT m.path,
              count(v.id)::int AS versions,
              count(v.id) FILTER (WHERE v.origin_kind <> 'upstream')::int AS published,
              count(v.id) FILTER (WHERE v.origin_kind = 'upstream')::int AS cached,
              max(v.stored_at) AS last_stored_at
       FROM modules m LEFT JOIN module_versions v ON v.module_id = m.id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       GROUP BY m.path
       ORDER BY m.path`,
      args,
    );
    return rows.map((r: { path: string; versions: number; published: number; cached: number; last_stored_at: Date | null }) => ({
      path: r.path,
      versions: r.versions,
      published: r.published,
      cached: r.cached,
      lastStoredAt: r.last_stored_at,
    }));
  }
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
