import { PERMISSION_RANK, TEAM_ROLE_GRANTS, type Permission, type Principal, type TeamRole } from '../auth/principal';
import type { Rule } from './rule';
import type { RuleSet } from './rule-set';

/**
 * The access decision, pure: no I/O, no clock. The principal is taken as
 * given: disabled users, expired or revoked tokens never get here, because
 * the authentication service refuses them with 401 first.
 *
 * Order of the checks, each one final:
 * 1. anonymous: only reads of public modules, and only with anonymous reads
 *    enabled; everything else is "unauthenticated" (401, never 403);
 * 2. token scopes: a read-only token cannot publish, even an admin's;
 * 3. global admin (not for a team-restricted token): everything;
 * 4. public path: any signed-in caller reads; nobody publishes or administers;
 * 5. owned path: the rules of the most specific matching pattern decide
 *    together; a member gets min(rule permission, team role grant);
 *    no matching rule → admins only. A read refused on a path above a
 *    subtree the caller may read is answered 404 (prefixProbe).
 *
 * Auditors are plain users here: they read the audit log, not modules.
 */
export interface AccessContext {
  /** The path is under MODGATE_PRIVATE: the registry owns it. */
  readonly owned: boolean;
  /** MODGATE_ANONYMOUS_READ: unauthenticated reads of public modules. */
  readonly anonymousRead: boolean;
}

/** How a denial must be answered: 401, 403 or 404. */
export type Denial = 'unauthenticated' | 'forbidden' | 'not-found';

export interface Decision {
  readonly allowed: boolean;
  /** One short sentence, lower case, for 403 bodies and explain. */
  readonly reason: string;
  /** The rule that granted or denied, when a rule decided. */
  readonly rule?: Rule;
  readonly needed: Permission;
  readonly denial?: Denial;
}

export interface Explanation {
  readonly path: string;
  readonly owned: boolean;
  /** Every matching rule, most specific first. */
  readonly matching: readonly Rule[];
  /** The rules of the most specific matching pattern (empty: none matches). */
  readonly deciding: readonly Rule[];
  readonly decisions: Readonly<Record<Permission, Decision>>;
}

export const PERMISSIONS: readonly Permission[] = ['read', 'publish', 'admin'];

const ROLE_RANK: Record<TeamRole, number> = {
  reader: maxRank(TEAM_ROLE_GRANTS.reader),
  publisher: maxRank(TEAM_ROLE_GRANTS.publisher),
  maintainer: maxRank(TEAM_ROLE_GRANTS.maintainer),
};

// Allowed decisions that do not depend on the path are shared: the hot path
// allocates nothing for them.
const byPerm = <T>(f: (p: Permission) => T): Record<Permission, T> => ({ read: f('read'), publish: f('publish'), admin: f('admin') });
const ADMIN_OK = byPerm((needed) => freeze({ allowed: true, reason: 'global admin', needed }));
const PUBLIC_READ = freeze({ allowed: true, reason: 'public module: every signed-in user may read it', needed: 'read' });
const ANONYMOUS_READ = freeze({ allowed: true, reason: 'public module: anonymous reads are enabled', needed: 'read' });
const grantCache = new WeakMap<Rule, Partial<Record<Permission, Decision>>>();

export function decide(rules: RuleSet, who: Principal, needed: Permission, path: string, ctx: AccessContext): Decision {
  if (who.kind === 'anonymous') {
    if (needed === 'read' && !ctx.owned && ctx.anonymousRead) return ANONYMOUS_READ;
    const what = needed === 'read' ? (ctx.owned ? 'private modules need' : 'this registry needs') : needed === 'publish' ? 'publishing needs' : 'administering needs';
    return deny(needed, 'unauthenticated', `${what} credentials`);
  }
  if (!who.scopes.has(needed)) return deny(needed, 'forbidden', `the token lacks the ${needed} scope`);
  if (who.role === 'admin' && who.teamRestriction === null) return ADMIN_OK[needed];
  if (!ctx.owned) {
    if (needed === 'read') return PUBLIC_READ;
    return deny(needed, 'forbidden', `it is a public module path (not under MODGATE_PRIVATE); only private modules can be ${needed === 'publish' ? 'published' : 'administered'} here`);
  }
  const { deciding, below } = rules.lookup(path);
  let best: Rule | null = null;
  let bestLevel = 0;
  for (const r of deciding) {
    const level = grantLevel(who, r);
    if (level > bestLevel) {
      best = r;
      bestLevel = level;
    }
  }
  if (best && bestLevel >= PERMISSION_RANK[needed]) return granted(best, needed);
  if (needed === 'read') {
    const probe = prefixProbe(who, below);
    if (probe) return probe;
  }
  if (deciding.length === 0) return deny(needed, 'forbidden', who.role === 'admin' ? 'the token is restricted to teams and no access rule of theirs covers it' : 'no access rule covers it; ask a registry admin to add one');
  return deniedByRules(who, needed, deciding, best);
}

export function explain(rules: RuleSet, who: Principal, path: string, ctx: AccessContext): Explanation {
  const { matching, deciding } = rules.lookup(path);
  return { path, owned: ctx.owned, matching, deciding, decisions: byPerm((p) => decide(rules, who, p, path, ctx)) };
}

/** What one rule gives this caller: a permission rank, 0 for nothing. */
export function grantLevel(who: Principal, r: Rule): number {
  if (who.teamRestriction !== null && !who.teamRestriction.has(r.teamId)) return 0;
  return memberLevel(who, r);
}

/**
 * The go command resolves an import path by probing every prefix of it; a
 * 403 on a prefix fails the command whenever no longer prefix is a module,
 * and then hides the real "not found" or "no matching versions" (see
 * queryPrefixModules in cmd/go/internal/modload/query.go). So a read the
 * caller may not do, of a path above a subtree the caller may read
 * (`corp.example.com` for a member of a team with a rule on
 * `corp.example.com/payments`), is answered 404 — decided from the rules
 * alone, whether or not anything is stored there, so existence is never
 * revealed. Paths *below* a readable module need no such care: rules cover
 * whole subtrees, so they are readable and the service answers 404.
 */
function prefixProbe(who: Principal, below: readonly Rule[]): Decision | null {
  const open = below.find((r) => grantLevel(who, r) >= PERMISSION_RANK.read);
  if (!open) return null;
  return { allowed: false, denial: 'not-found', needed: 'read', rule: open, reason: `no module here is visible to you (your access starts at ${open.pattern})` };
}

function granted(r: Rule, needed: Permission): Decision {
  let perRule = grantCache.get(r);
  if (!perRule) grantCache.set(r, (perRule = {}));
  // The reason names the team, not the caller's role: it can be shared by
  // every caller the rule grants.
  return (perRule[needed] ??= freeze({ allowed: true, needed, rule: r, reason: `granted to team ${r.teamName} by rule ${r.pattern} (${r.permission})` }));
}

/** Why the deciding rules give this caller too little, naming the team that owns the path. */
function deniedByRules(who: Principal, needed: Permission, deciding: readonly Rule[], best: Rule | null): Decision {
  const rank = PERMISSION_RANK[needed];
  // A team the caller belongs to that would grant enough, but the token is
  // restricted to other teams: that is the one thing to tell them.
  const excluded = deciding.find((r) => who.teamRestriction !== null && !who.teamRestriction.has(r.teamId) && memberLevel(who, r) >= rank);
  if (excluded) return deny(needed, 'forbidden', `it belongs to team ${excluded.teamName}, and the token is restricted to other teams`, excluded);
  if (best) {
    const reason =
      PERMISSION_RANK[best.permission] < rank
        ? `rule ${best.pattern} gives team ${best.teamName} only ${best.permission}`
        : `your role in team ${best.teamName} is ${who.teams.get(best.teamId)}, which cannot ${verb(needed)}`;
    return deny(needed, 'forbidden', reason, best);
  }
  const names = deciding.map((r) => r.teamName);
  const owners = names.length === 1 ? `team ${names[0]}` : `teams ${names.join(', ')}`;
  return deny(needed, 'forbidden', `it belongs to ${owners}; ask ${names.length === 1 ? `a ${names[0]}` : 'their'} maintainer for access`, deciding[0]);
}

/** What a rule would give the caller without the token's team restriction. */
function memberLevel(who: Principal, r: Rule): number {
  const role = who.teams.get(r.teamId);
  return role ? Math.min(PERMISSION_RANK[r.permission], ROLE_RANK[role]) : 0;
}

function deny(needed: Permission, denial: Denial, reason: string, rule?: Rule): Decision {
  return rule ? { allowed: false, denial, needed, reason, rule } : { allowed: false, denial, needed, reason };
}

/** The word for a permission in messages: "may not administer". */
export function verb(p: Permission): string {
  return p === 'admin' ? 'administer' : p;
}

function maxRank(perms: readonly Permission[]): number {
  return Math.max(...perms.map((p) => PERMISSION_RANK[p]));
}

function freeze(d: Decision): Decision {
  return Object.freeze(d);
}
