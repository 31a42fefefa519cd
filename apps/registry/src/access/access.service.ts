import type { AuditService } from '../audit/audit.service';
import { BASIC_CHALLENGE, noCredentialsMessage } from '../auth/auth-messages';
import type { Permission, Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import type { PgListener } from '../database/pg-listener';
import type { AppLogger } from '../logging/logger';
import type { OwnedPaths } from '../config/owned-paths';
import { AccessRuleRepository, DuplicateRule, UnknownTeam } from './access-rule.repository';
import { patternProblem, type Rule } from './rule';
import { ruleChangeFeed } from './rule-change-feed';
import { decide, explain, PERMISSIONS, verb, type AccessContext, type Decision, type Explanation } from './rule-engine';
import { RuleSet } from './rule-set';

export interface AccessOptions {
  readonly anonymousRead: boolean;
  /** Where to LISTEN for rule changes; null: poll every pollMs instead. */
  readonly databaseUrl: string | null;
  /** The registry's host name for the 401 .netrc hint (from MODGATE_PUBLIC_URL); else the request's. */
  readonly defaultHost?: string;
  /** Reload period while not listening (no LISTEN connection); at most 5 s. */
  readonly pollMs?: number;
  /** Reload period even while listening: rules also change by cascade (a team deleted) without a notification. */
  readonly backstopMs?: number;
}

export interface Page {
  readonly limit: number;
  readonly offset: number;
}

export interface RulePage extends Page {
  readonly items: Rule[];
  readonly total: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MEMO_LIMIT = 20_000;

/**
 * Who may do what to which module path. Every rule is held in memory (a
 * RuleSet snapshot), so a check costs no database round trip; the snapshot
 * is replaced after a change made here, when another process announces one
 * on the `modgate_access` channel, when the listener reconnects, and by a
 * slow backstop timer. Rule changes are for registry admins only.
 */
export class AccessService {
  private rules = new RuleSet([]);
  private readonly ownedMemo = new Map<string, boolean>();
  private readonly feed: PgListener | null;
  private readonly timers: NodeJS.Timeout[] = [];
  private queued: Promise<void> | null = null;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: AccessRuleRepository,
    private readonly owned: OwnedPaths,
    private readonly opts: AccessOptions,
    private readonly log: AppLogger,
    private readonly audit: AuditService | null = null,
  ) {
    this.feed = opts.databaseUrl ? ruleChangeFeed(opts.databaseUrl, () => void this.refresh().catch(() => undefined), log) : null;
  }

  /**
   * Listens first, then loads every rule (failing loudly: no access
   * decisions without rules), so no change can fall between load and LISTEN.
   * The listener's own "listening" reload and this one are the same reload.
   */
  async start(): Promise<void> {
    await this.feed?.start();
    await this.refresh();
    const poll = Math.min(this.opts.pollMs ?? 5000, 5000);
    this.every(poll, () => this.feed === null || !this.feed.isListening);
    this.every(this.opts.backstopMs ?? 60_000, () => true);
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.feed?.stop();
  }

  /**
   * Reloads the rule set. Calls while a reload is queued share it; a call
   * during a running reload queues one more, so a change committed after the
   * running query started is never missed.
   */
  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.tail.then(async () => {
      this.queued = null;
      const rules = await this.repo.listAll();
      this.rules = new RuleSet(rules, MEMO_LIMIT);
    });
    this.queued = next;
    this.tail = next.catch((err) => this.log.warn({ err: (err as Error).message }, 'access rules: reload failed; keeping the previous rules'));
    return next;
  }

  /** The number of rules in memory (health, metrics, tests). */
  get ruleCount(): number {
    return this.rules.size;
  }

  decide(who: Principal, perm: Permission, path: string): Decision {
    return decide(this.rules, who, perm, path, this.context(path));
  }

  /**
   * Throws unless `who` may `perm` `path`: 401 with WWW-Authenticate for
   * anonymous callers, 403 naming the owning team, or 404 for a prefix probe
   * above the caller's subtree (see rule-engine.ts). `host` (the request's
   * Host) goes into the .netrc hint.
   */
  require(who: Principal, perm: Permission, path: string, host?: string): void {
    const d = this.decide(who, perm, path);
    if (!d.allowed) throw this.refusal(who, perm, path, d, host);
  }

  /**
   * For routes that serve public data without a module path (checksum
   * database relay): any signed-in caller with the read scope; anonymous
   * callers only with MODGATE_ANONYMOUS_READ. `what` names it in messages.
   */
  requirePublicRead(who: Principal, what: string, host?: string): void {
    const ctx: AccessContext = { owned: false, anonymousRead: this.opts.anonymousRead };
    const d = decide(this.rules, who, 'read', what, ctx);
    if (!d.allowed) throw this.refusal(who, 'read', what, d, host);
  }

  explain(who: Principal, path: string): Explanation {
    return explain(this.rules, who, path, this.context(path));
  }

  /** The paths of `paths` that `who` may `perm`, decided in memory in one pass. */
  allowedPaths(who: Principal, perm: Permission, paths: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const p of paths) if (this.decide(who, perm, p).allowed) out.add(p);
    return out;
  }

  async listRules(page: Page): Promise<RulePage> {
    if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > 1000) throw new GoproxyError('bad-request', 'limit must be a whole number from 1 to 1000');
    if (!Number.isInteger(page.offset) || page.offset < 0) throw new GoproxyError('bad-request', 'offset must be a whole number, 0 or more');
    const { items, total } = await this.repo.listPage(page.limit, page.offset);
    return { items, total, limit: page.limit, offset: page.offset };
  }

  async getRule(id: string): Promise<Rule> {
    return (await this.repo.findRule(checkId(id))) ?? notFound(id);
  }

  createRule(input: { pattern: string; teamId: string; permission: Permission }, actor: Principal): Promise<Rule> {
    return this.audited(actor, 'admin.access-rule.create', () => this.insertRule(input, actor), null, input);
  }

  private async insertRule(input: { pattern: string; teamId: string; permission: Permission }, actor: Principal): Promise<Rule> {
    this.assertRuleAdmin(actor);
    checkPattern(input.pattern);
    checkPermission(input.permission);
    if (!UUID.test(input.teamId)) throw new GoproxyError('bad-request', 'teamId must be a team id (uuid)');
    const rule = await this.write(() => this.repo.insertRule(input, 'created'), input.pattern);
    this.log.info({ actor: actor.login, rule }, 'access rule created');
    return rule;
  }

  updateRule(id: string, patch: { permission?: Permission; pattern?: string }, actor: Principal): Promise<Rule> {
    return this.audited(actor, 'admin.access-rule.update', () => this.changeRule(id, patch, actor), id, patch);
  }

  private async changeRule(id: string, patch: { permission?: Permission; pattern?: string }, actor: Principal): Promise<Rule> {
    this.assertRuleAdmin(actor);
    checkId(id);
    if (patch.pattern === undefined && patch.permission === undefined) throw new GoproxyError('bad-request', 'nothing to change: give pattern and/or permission');
    if (patch.pattern !== undefined) checkPattern(patch.pattern);
    if (patch.permission !== undefined) checkPermission(patch.permission);
    const rule = (await this.write(() => this.repo.updateRule(id, patch, 'updated'), patch.pattern)) ?? notFound(id);
    this.log.info({ actor: actor.login, rule }, 'access rule updated');
    return rule;
  }

  deleteRule(id: string, actor: Principal): Promise<Rule> {
    return this.audited(actor, 'admin.access-rule.delete', () => this.removeRule(id, actor), id, null, true);
  }

  /** A rule change recorded in the audit log (no audit: tests of the engine alone). */
  private audited(actor: Principal, action: string, run: () => Promise<Rule>, id: string | null, request: unknown, gone = false): Promise<Rule> {
    if (!this.audit) return run();
    return this.audit.change(actor, action, run, {
      before: id ? () => this.getRule(id) : undefined,
      after: (r) => (gone ? null : r),
      extra: request ? { details: request } : {},
    });
  }

  private async removeRule(id: string, actor: Principal): Promise<Rule> {
    this.assertRuleAdmin(actor);
    checkId(id);
    const rule = (await this.write(() => this.repo.deleteRule(id, 'deleted'), undefined)) ?? notFound(id);
    this.log.info({ actor: actor.login, rule }, 'access rule deleted');
    return rule;
  }

  /** Runs a change, maps constraint violations, and reloads before answering (read-your-writes). */
  private async write<T>(change: () => Promise<T>, pattern: string | undefined): Promise<T> {
    let result: T;
    try {
      result = await change();
    } catch (err) {
      if (err instanceof DuplicateRule) throw new GoproxyError('conflict', `this team already has a rule for ${pattern}; change that rule's permission instead`);
      if (err instanceof UnknownTeam) throw new GoproxyError('not-found', 'not found: no such team');
      throw err;
    }
    // The change is committed; if this reload fails, the notification, the
    // listener's reconnect or the backstop timer brings the rules up to date.
    await this.refresh().catch(() => undefined);
    return result;
  }

  private assertRuleAdmin(actor: Principal): void {
    if (actor.kind === 'anonymous') throw this.refusal(actor, 'admin', 'access rules', { allowed: false, needed: 'admin', reason: 'credentials needed' });
    if (actor.role !== 'admin' || actor.teamRestriction !== null || !actor.scopes.has('admin')) {
      const why = actor.role !== 'admin' ? 'only registry admins may' : actor.teamRestriction !== null ? 'the token is restricted to teams' : 'the token lacks the admin scope';
      throw new GoproxyError('forbidden', `forbidden: ${actor.login} may not change access rules: ${why}`);
    }
  }

  private refusal(who: Principal, perm: Permission, path: string, d: Decision, host?: string): GoproxyError {
    if (who.kind === 'anonymous' || d.denial === 'unauthenticated') {
      // The same 401 text as the authentication layer's; the configured public
      // host wins over the request's Host, which is echoed, so only a clean
      // host name is used, without the port (Go 1.19 matches .netrc by name).
      const h = this.opts.defaultHost ?? netrcHost(host) ?? 'this registry';
      return new GoproxyError('unauthorized', noCredentialsMessage(h), { 'www-authenticate': BASIC_CHALLENGE });
    }
    if (d.denial === 'not-found') return new GoproxyError('not-found', `not found: ${path}: ${d.reason}`);
    return new GoproxyError('forbidden', `forbidden: ${who.login} may not ${verb(perm)} ${path}: ${d.reason}`);
  }

  private context(path: string): AccessContext {
    let owned = this.ownedMemo.get(path);
    if (owned === undefined) {
      owned = this.owned.owns(path);
      if (this.ownedMemo.size >= MEMO_LIMIT) this.ownedMemo.clear();
      this.ownedMemo.set(path, owned);
    }
    // Two shared objects instead of one per request.
    return owned ? (this.opts.anonymousRead ? OWNED_ANON : OWNED) : this.opts.anonymousRead ? PUBLIC_ANON : PUBLIC;
  }

  private every(ms: number, when: () => boolean): void {
    const t = setInterval(() => {
      if (when()) void this.refresh().catch(() => undefined);
    }, ms);
    t.unref();
    this.timers.push(t);
  }
}

const OWNED: AccessContext = Object.freeze({ owned: true, anonymousRead: false });
const OWNED_ANON: AccessContext = Object.freeze({ owned: true, anonymousRead: true });
const PUBLIC: AccessContext = Object.freeze({ owned: false, anonymousRead: false });
const PUBLIC_ANON: AccessContext = Object.freeze({ owned: false, anonymousRead: true });

function netrcHost(host: string | undefined): string | null {
  const name = (host ?? '').replace(/:\d+$/, '');
  return /^[A-Za-z0-9.-]{1,253}$/.test(name) || /^\[[0-9a-fA-F:.]+\]$/.test(name) ? name : null;
}

function checkPattern(pattern: string): void {
  const problem = typeof pattern === 'string' ? patternProblem(pattern) : 'pattern must be a string';
  if (problem) throw new GoproxyError('bad-request', `invalid pattern: ${problem}`);
}

function checkPermission(p: Permission): void {
  if (!PERMISSIONS.includes(p)) throw new GoproxyError('bad-request', 'permission must be read, publish or admin');
}

function checkId(id: string): string {
  if (!UUID.test(id)) throw new GoproxyError('not-found', `not found: no access rule ${JSON.stringify(String(id).slice(0, 64))}`);
  return id;
}

function notFound(id: string): never {
  throw new GoproxyError('not-found', `not found: no access rule ${id}`);
}
