import { compare } from '@modgate/gomod';
import type { AccessService } from '../access/access.service';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import type { Page, Paged } from '../identity/paging';
import type { OwnedPaths } from '../config/owned-paths';
import { versionView, type VersionView } from '../publish/version-view';
import type { ModuleVersionRepository, Tombstone } from '../versions/module-version.repository';
import { moduleStatus } from '../versions/version-choice';
import type { CatalogueRepository, ModuleFilter } from './catalogue.repository';

export interface ModuleListFilter extends ModuleFilter {
  /** owned: private paths (MODGATE_PRIVATE); cached: public modules of the pull-through cache. */
  readonly kind?: 'owned' | 'cached';
  /** Team id or name: modules whose access rules name that team. */
  readonly team?: string;
}

export interface ModuleSummary {
  readonly module: string;
  readonly owned: boolean;
  /** Teams of the rules that decide access to the path (owned modules). */
  readonly teams: string[];
  readonly versions: number;
  readonly lastStoredAt: string | null;
}

export interface ModuleDetail {
  readonly module: string;
  readonly owned: boolean;
  readonly teams: string[];
  /** What `@latest` answers (the highest non-retracted release, …). */
  readonly latest: string | null;
  /** The "Deprecated:" message of the go.mod that speaks for the module. */
  readonly deprecated: string | null;
  /** Newest first. */
  readonly versions: VersionView[];
  readonly deleted: Array<{ version: string; deletedAt: string; deletedBy: string; reason: string; zipHash: string }>;
}

/**
 * What the registry holds, as the caller may see it: the modules they may
 * read, each with its versions, hashes, origin, publisher, retractions and
 * deprecation as the go command reads them.
 */
export class CatalogueService {
  constructor(
    private readonly catalogue: CatalogueRepository,
    private readonly versions: ModuleVersionRepository,
    private readonly access: AccessService,
    private readonly owned: OwnedPaths,
  ) {}

  /**
   * Filtering by access and team happens here, after the query: rules are
   * globs that SQL cannot match. Fine for the modules of one company; a
   * cache of millions of public modules would want SQL paging first.
   */
  async list(who: Principal, f: ModuleListFilter, page: Page): Promise<Paged<ModuleSummary>> {
    const rows = await this.catalogue.modules(f);
    const readable = this.access.allowedPaths(who, 'read', rows.map((r) => r.path));
    const items: ModuleSummary[] = [];
    for (const r of rows) {
      if (!readable.has(r.path)) continue;
      const owned = this.owned.owns(r.path);
      if ((f.kind === 'owned' && !owned) || (f.kind === 'cached' && owned)) continue;
      const teams = owned ? this.teamsOf(who, r.path) : [];
      if (f.team && !teams.some((t) => t.id === f.team || t.name === f.team)) continue;
      items.push({ module: r.path, owned, teams: teams.map((t) => t.name), versions: r.versions, lastStoredAt: r.lastStoredAt?.toISOString() ?? null });
    }
    return { items: items.slice(page.offset, page.offset + page.limit), total: items.length, limit: page.limit, offset: page.offset };
  }

  async module(who: Principal, path: string): Promise<ModuleDetail> {
    this.access.require(who, 'read', path);
    const [records, tombstones] = await Promise.all([this.versions.listVersions(path), this.versions.listTombstones(path)]);
    if (records.length === 0 && tombstones.length === 0) throw new GoproxyError('not-found', `no versions of ${path} are stored in this registry`);
    const status = moduleStatus(records);
    const owned = this.owned.owns(path);
    return {
      module: path,
      owned,
      teams: owned ? this.teamsOf(who, path).map((t) => t.name) : [],
      latest: status.latest,
      deprecated: status.deprecated,
      versions: records.sort((a, b) => compare(b.version, a.version)).map((v) => versionView(v, status.retracted.get(v.version))),
      deleted: tombstones.sort((a, b) => compare(b.version, a.version)).map(deletedView),
    };
  }

  async version(who: Principal, path: string, version: string): Promise<VersionView> {
    this.access.require(who, 'read', path);
    const records = await this.versions.listVersions(path);
    const v = records.find((r) => r.version === version);
    if (!v) {
      const t = await this.versions.findTombstone(path, version);
      if (t) throw new GoproxyError('gone', `${path}@${version} was deleted on ${t.deletedAt.toISOString()} by ${t.deletedBy}: ${t.reason}`);
      throw new GoproxyError('not-found', `${path}@${version} is not stored in this registry`);
    }
    return versionView(v, moduleStatus(records).retracted.get(version));
  }

  private teamsOf(who: Principal, path: string): Array<{ id: string; name: string }> {
    const seen = new Map<string, string>();
    for (const r of this.access.explain(who, path).deciding) seen.set(r.teamId, r.teamName);
    return [...seen].map(([id, name]) => ({ id, name }));
  }
}

function deletedView(t: Tombstone): ModuleDetail['deleted'][number] {
  return { version: t.version, deletedAt: t.deletedAt.toISOString(), deletedBy: t.deletedBy, reason: t.reason, zipHash: t.zipHash };
}
