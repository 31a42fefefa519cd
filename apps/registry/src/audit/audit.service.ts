import type { FastifyRequest } from 'fastify';
import { ANONYMOUS, type Principal } from '../auth/principal';
import { canonicalJson, type AuditEvent, type AuditOutcome } from '@modgate/auditlog';
import type { AuditWriter } from './audit-writer';
import { currentOrigin, originOf, type RequestOrigin } from './request-context';

export interface AuditFields {
  readonly module?: string | null;
  readonly version?: string | null;
  readonly outcome: AuditOutcome;
  readonly status?: number | null;
  readonly reason?: string | null;
  readonly bytes?: number | null;
  readonly details?: unknown;
}

/** What the request paths call: one method per kind of event. */
export class AuditService {
  constructor(
    private readonly writer: AuditWriter,
    readonly enabled: boolean,
  ) {}

  /** A GOPROXY download (allowed, denied or failed): queued, written in a batch. */
  download(req: FastifyRequest, who: Principal, action: string, module: string | null, version: string | null, status: number, bytes: number, reason: string | null): void {
    if (!this.enabled) return;
    this.writer.record(downloadEvent(who, originOf(req), action, { module, version, outcome: outcomeOf(status), status, reason, bytes }));
  }

  /**
   * A security event (publish, delete, login, token, admin change): stored
   * before the caller answers. The origin comes from the request given, or
   * from the request being served (request-context.ts).
   */
  async security(who: Principal, action: string, f: AuditFields, req?: FastifyRequest): Promise<void> {
    if (!this.enabled) return;
    await this.writer.recordNow(event(who, req ? originOf(req) : currentOrigin(), action, f));
  }

  /**
   * Runs an admin change and records it, done or refused, before returning:
   * the object before (loaded first) and after, secrets redacted. A refusal
   * is recorded under `refusedAction` when given (token.refused).
   */
  async change<T>(who: Principal, action: string, run: () => Promise<T>, o: { before?: () => Promise<unknown>; after?: (r: T) => unknown; refusedAction?: string; extra?: Partial<AuditFields> } = {}): Promise<T> {
    const before = this.enabled && o.before ? await o.before().catch(() => null) : null;
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await this.security(who, o.refusedAction ?? action, { ...o.extra, ...refusalOf(err), details: { ...detailsOf(o.extra), before: redact(before), after: null } });
      throw err;
    }
    const after = o.after ? o.after(result) : result;
    await this.security(who, action, { outcome: 'allowed', status: 200, ...o.extra, details: { ...detailsOf(o.extra), before: redact(before), after: redact(after ?? null) } });
    return result;
  }
}

function detailsOf(extra: Partial<AuditFields> | undefined): Record<string, unknown> {
  return extra?.details && typeof extra.details === 'object' ? { request: redact(extra.details) } : {};
}

/** The fields of a refused or failed change. */
export function refusalOf(err: unknown): { outcome: AuditOutcome; status: number; reason: string } {
  const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 500;
  return { outcome: outcomeOf(status) === 'denied' ? 'denied' : 'error', status, reason: err instanceof Error ? err.message : String(err) };
}

/** The principal of an audit row about an account that is not (yet) the caller: a sign-in. */
export function accountPrincipal(u: { id: string; login: string; kind?: 'user' | 'service' }): Principal {
  return { ...ANONYMOUS, kind: u.kind ?? 'user', userId: u.id, login: u.login, via: 'jwt', scopes: new Set() };
}

/** allowed below 400; denied for 401, 403 and 429; error otherwise (404 and 410 included). */
export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'allowed';
  if (status === 401 || status === 403 || status === 429) return 'denied';
  return 'error';
}

/** Text as PostgreSQL can store it: no NUL, no lone surrogate (callers' bytes end up here). */
function text(s: string | null): string | null {
  return s === null ? null : s.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A download event: module and version come validated, the user agent cleaned; only the reason may hold caller text. */
function downloadEvent(who: Principal, o: RequestOrigin, action: string, f: AuditFields): AuditEvent {
  const e = raw(who, o, action, f);
  return e.reason === null ? e : { ...e, reason: text(e.reason) };
}

function event(who: Principal, o: RequestOrigin, action: string, f: AuditFields): AuditEvent {
  const e = raw(who, o, action, f);
  return {
    ...e,
    principal: text(e.principal)!,
    userAgent: text(e.userAgent),
    requestId: text(e.requestId),
    module: text(e.module),
    version: text(e.version),
    reason: text(e.reason),
    details: text(e.details),
    teams: e.teams.map((t) => text(t)!),
  };
}

function raw(who: Principal, o: RequestOrigin, action: string, f: AuditFields): AuditEvent {
  return {
    at: new Date(),
    principalKind: who.kind,
    principalId: who.userId,
    principal: who.login,
    tokenId: who.tokenId,
    teams: who.teamNames.size ? [...who.teamNames.values()].sort() : [],
    sourceIp: o.sourceIp,
    userAgent: o.userAgent,
    requestId: o.requestId,
    action,
    module: f.module ?? null,
    version: f.version ?? null,
    outcome: f.outcome,
    status: f.status ?? null,
    reason: f.reason ? f.reason.slice(0, 1000) : null,
    bytes: f.bytes ?? null,
    details: f.details === undefined ? null : canonicalJson(f.details),
  };
}

const SECRET_KEYS = /secret|password|private|^token$|^credential/i;

/** Values of secret-looking fields replaced, recursively (ids and prefixes stay). */
export function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEYS.test(k) && typeof x === 'string' && x !== '' ? '[redacted]' : redact(x);
    return out;
  }
  if (typeof v === 'string' && /^mg_[A-Za-z0-9]+_/.test(v)) return '[redacted]';
  return v;
}

