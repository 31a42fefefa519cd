import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import { TokenExpiredError } from 'jsonwebtoken';
import { GoproxyError } from '../common/goproxy-error';
import type { Env } from '../config/env';
import type { AuthEvents } from '../identity/auth-events';
import { parseToken, secretMatches, tokenPrefix } from '../identity/token-secret';
import type { TokenForAuth, TokensRepository } from '../identity/tokens.repository';
import { credentialMessage, isApiRequest, unauthorized, type CredentialProblem } from './auth-messages';
import type { AuditService } from '../audit/audit.service';
import type { AuthThrottle } from './auth-throttle';
import { CredentialCache } from './credential-cache';
import { looksLikeJwt, parseAuthorization, sessionCookie, type Credentials } from './credentials';
import type { JwtStrategy, SessionClaims } from './jwt.strategy';
import { ANONYMOUS, type Principal, type Scope } from './principal';
import type { TokenUsage } from './token-usage';
import { narrowPrincipal, type UserPrincipals } from './user-principals';

/** A token row as authentication keeps it: the DB facts plus the principal they make (null if unusable). */
interface TokenEntry {
  auth: TokenForAuth;
  principal: Principal | null;
}

/** A credential check that failed for a reason the holder should read. */
class Rejected extends Error {
  constructor(
    readonly problem: CredentialProblem,
    who: { login?: string | null; prefix?: string | null } = {},
    message?: string,
  ) {
    super(message ?? credentialMessage(problem, who));
  }
}

/** How a request authenticated, beyond the Principal: what GET /api/v1/auth/session reports and POST /api/v1/auth/token must not exceed. */
export interface CredentialInfo {
  /** 'cookie': the browser session cookie; 'jwt': a session JWT in the Authorization header. */
  readonly via: 'cookie' | 'jwt' | 'token' | 'anonymous';
  /** When the credential stops working by itself (null: never, or anonymous). */
  readonly expiresAt: Date | null;
}

export interface Identified {
  readonly principal: Principal;
  readonly credential: CredentialInfo;
}

const ANONYMOUS_IDENTITY: Identified = Object.freeze({ principal: ANONYMOUS, credential: Object.freeze({ via: 'anonymous', expiresAt: null }) });

/** Token id → public id: fixed for a token's life, so kept without expiry (bounded). */
const MAX_TOKEN_IDS = 10_000;

/**
 * Who is asking, for GOPROXY and API requests alike. A warm request with a
 * token costs a Map lookup and one sha256: verified tokens are cached for
 * at most MODGATE_AUTH_CACHE_SECONDS, and every revocation, disable, role or
 * membership change drops them at once here and, through NOTIFY, elsewhere.
 */
export class AuthenticationService {
  private readonly tokens: CredentialCache<TokenEntry | null>;
  /** Authorization header → what it verified to; valid only while its token entry is cached (see recentlyVerified). */
  private readonly verified = new Map<string, { publicId: string; entry: TokenEntry; login: string | null; api: boolean; identified: Identified }>();
  /** A private passport instance: the global one is shared by every app in the process (tests run two). */
  private readonly passport = new passport.Passport();
  private readonly publicIds = new Map<string, string>();

  constructor(
    private readonly repo: TokensRepository,
    private readonly principals: UserPrincipals,
    jwtStrategy: JwtStrategy,
    private readonly throttle: AuthThrottle,
    private readonly usage: TokenUsage,
    events: AuthEvents,
    env: Env,
    private readonly audit: AuditService,
  ) {
    this.passport.use('jwt', jwtStrategy);
    this.tokens = new CredentialCache<TokenEntry | null>(env.auth.cacheSeconds * 1000, 10_000, () => events.listening);
    events.subscribe((e) => {
      if (e.kind === 'token') this.tokens.invalidate((_k, v) => v?.auth.id === e.id);
      else if (e.kind === 'user') this.tokens.invalidate((_k, v) => v?.auth.userId === e.id);
      else if (e.kind === 'all') this.tokens.invalidate();
    });
  }

  /**
   * No credentials → ANONYMOUS (the access layer decides whether that may
   * read). Bad, expired, revoked or disabled → 401 with a challenge; too
   * many failures → 429 with Retry-After.
   */
  async authenticate(req: FastifyRequest): Promise<Principal> {
    return (await this.identify(req)).principal;
  }

  /**
   * authenticate() with how the caller authenticated. The Authorization
   * header wins; without one, /api requests may use the browser session
   * cookie (see sessionCookie() for when it counts).
   */
  async identify(req: FastifyRequest): Promise<Identified> {
    const fast = this.recentlyVerified(req);
    if (fast) return fast;
    const header = parseAuthorization(req.headers.authorization);
    const cookie = header.kind === 'none' ? sessionCookie(req) : null;
    if (header.kind === 'none' && cookie === null) return ANONYMOUS_IDENTITY;
    const api = isApiRequest(req);
    const ip = req.ip ?? 'unknown';
    const login = header.kind === 'basic' ? header.login : null;
    this.throttle.check(ip, login);
    try {
      const id = await this.check(cookie ?? header, api, ip, cookie === null ? req.headers.authorization : undefined);
      this.throttle.succeeded(login);
      return id;
    } catch (err) {
      if (!(err instanceof Rejected)) throw err;
      // A browser left open past its session is no guess at a credential:
      // it must not lock out its address (often a whole office behind NAT).
      if (err.problem !== 'cookie-expired') {
        // The same credentials from the same address: Go's automatic repeat is one failure.
        const presented = cookie !== null ? `cookie ${cookie}` : String(req.headers.authorization);
        const fingerprint = createHash('sha256').update(`${ip}\n${presented}`).digest('base64');
        const delay = this.throttle.failed(ip, login, fingerprint);
        // A security event, stored before the 401 goes out. The claimed login
        // is the caller's word, so it is the reason, not the principal.
        await this.audit.security(ANONYMOUS, 'auth.failure', { outcome: 'denied', status: 401, reason: `${err.problem}${login ? ` (login "${login.slice(0, 100)}")` : ''}: ${err.message}` }, req);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      }
      throw unauthorized(err.message, api);
    }
  }

  /**
   * The hot path: the same Authorization header verified moments ago, and its
   * token entry still the one in the token cache (so a revocation, a disabled
   * owner or any change, which drop that entry, end this shortcut at once).
   * Skips parsing, base64 and the secret's hash; the throttle still applies.
   * Keys are the raw header values: the process holds them per request
   * anyway, and they live no longer than the token cache's entries.
   */
  private recentlyVerified(req: FastifyRequest): Identified | null {
    const raw = req.headers.authorization;
    if (raw === undefined) return null;
    const v = this.verified.get(raw);
    if (!v || this.tokens.peek(v.publicId) !== v.entry) return null;
    const a = v.entry.auth;
    if (a.expiresAt && a.expiresAt.getTime() <= Date.now()) return null;
    const ip = req.ip ?? 'unknown';
    this.throttle.check(ip, v.login);
    if (!v.api !== !isApiRequest(req)) return null; // Basic is refused on /api: take the full path
    this.usage.record(a.id, ip);
    return v.identified;
  }

  private rememberVerified(raw: string | undefined, publicId: string, entry: TokenEntry, login: string | null, api: boolean, identified: Identified): void {
    if (raw === undefined) return;
    if (this.verified.size >= MAX_TOKEN_IDS) this.verified.clear();
    this.verified.set(raw, { publicId, entry, login, api, identified });
  }

  /** One presented credential: the Authorization header's, or (a string) the session cookie's value. */
  private async check(cred: Credentials | string, api: boolean, ip: string, raw?: string): Promise<Identified> {
    if (typeof cred === 'string') {
      if (!looksLikeJwt(cred)) throw new Rejected('cookie-invalid');
      return this.bySession(cred, 'cookie');
    }
    switch (cred.kind) {
      case 'basic':
        if (api) throw new Rejected('basic-on-api');
        return this.byToken(cred.password, cred.login, ip, raw, api);
      case 'bearer':
        if (cred.value.startsWith('mg_')) return this.byToken(cred.value, null, ip, raw, api);
        if (looksLikeJwt(cred.value)) return this.bySession(cred.value, 'jwt');
        throw new Rejected('malformed');
      default:
        throw new Rejected('malformed');
    }
  }

  principalForUser(userId: string, via: 'jwt' | 'token', token?: { id: string; scopes: Scope[]; teamIds: string[] | null }): Promise<Principal> {
    return this.principals.forUser(userId, via, token);
  }

  private async byToken(value: string, login: string | null, ip: string, raw?: string, api = false): Promise<Identified> {
    const parsed = parseToken(value);
    if (!parsed) throw new Rejected(login ? 'unknown' : 'malformed', { login });
    const prefix = tokenPrefix(parsed.publicId);
    const entry = await this.tokens.get(parsed.publicId, () => this.loadToken(parsed.publicId), (v) => v !== null);
    // A wrong secret is reported like an unknown token: the public id alone proves nothing.
    if (!entry || !secretMatches(parsed.secret, entry.auth.secretHash)) throw new Rejected('unknown', { login, prefix });
    const a = entry.auth;
    if (a.revokedAt) throw new Rejected('revoked', { login: login ?? a.ownerLogin, prefix });
    if (a.expiresAt && a.expiresAt.getTime() <= Date.now()) throw new Rejected('expired', { login: login ?? a.ownerLogin, prefix });
    if (a.ownerDisabled || !entry.principal) throw new Rejected('disabled', { login: a.ownerLogin, prefix });
    if (login !== null && login !== a.ownerLogin) throw new Rejected('login-mismatch', { login, prefix });
    this.usage.record(a.id, ip);
    const identified: Identified = { principal: entry.principal, credential: { via: 'token', expiresAt: a.expiresAt } };
    this.rememberVerified(raw, parsed.publicId, entry, login, api, identified);
    return identified;
  }

  private async loadToken(publicId: string): Promise<TokenEntry | null> {
    const auth = await this.repo.findForAuth(publicId);
    if (!auth) return null;
    if (auth.revokedAt || auth.ownerDisabled) return { auth, principal: null };
    try {
      const principal = await this.principals.forUser(auth.userId, 'token', { id: auth.id, scopes: auth.scopes, teamIds: auth.teamIds });
      return { auth, principal };
    } catch (err) {
      if (err instanceof GoproxyError && err.kind === 'unauthorized') return { auth: { ...auth, ownerDisabled: true }, principal: null };
      throw err;
    }
  }

  /** A verified session JWT → the principal its claims allow, checked against the user (and token) as they are now. */
  private async bySession(raw: string, via: 'cookie' | 'jwt'): Promise<Identified> {
    const claims = await this.verifySession(raw, via);
    let principal: Principal;
    try {
      principal = claims.tid ? await this.byTokenSession(claims) : await this.principals.forUser(claims.sub, 'jwt');
    } catch (err) {
      // Unknown or disabled user: UserPrincipals worded it already.
      if (err instanceof GoproxyError && err.kind === 'unauthorized') throw new Rejected(via === 'cookie' ? 'cookie-invalid' : 'session-invalid', {}, err.message);
      throw err;
    }
    if (!claims.tid && (claims.scp || claims.teams)) principal = narrowPrincipal(principal, { tokenId: null, scopes: claims.scp, teamIds: claims.teams });
    return { principal, credential: { via, expiresAt: claims.expiresAt === null ? null : new Date(claims.expiresAt) } };
  }

  /**
   * A session exchanged from a token lives only as long as that token: the
   * token's entry (shared with Basic/Bearer use, so a revocation, a disable
   * or a membership change drops it at once) must still be good, and the
   * session gets that token's principal, narrowed further by its own claims.
   */
  private async byTokenSession(claims: SessionClaims): Promise<Principal> {
    const publicId = await this.tokenPublicId(claims.tid!);
    const entry = publicId ? await this.tokens.get(publicId, () => this.loadToken(publicId), (v) => v !== null) : null;
    if (!entry || entry.auth.id !== claims.tid || entry.auth.userId !== claims.sub) throw new Rejected('session-invalid');
    const a = entry.auth;
    const prefix = tokenPrefix(publicId!);
    if (a.revokedAt || (a.expiresAt && a.expiresAt.getTime() <= Date.now())) throw new Rejected('session-token-revoked', { prefix });
    if (a.ownerDisabled || !entry.principal) throw new Rejected('disabled', { login: a.ownerLogin });
    return narrowPrincipal(entry.principal, { tokenId: a.id, scopes: claims.scp, teamIds: claims.teams });
  }

  private async tokenPublicId(tokenId: string): Promise<string | null> {
    const known = this.publicIds.get(tokenId);
    if (known) return known;
    const t = await this.repo.findById(tokenId);
    if (!t) return null;
    if (this.publicIds.size >= MAX_TOKEN_IDS) this.publicIds.clear();
    this.publicIds.set(tokenId, t.publicId);
    return t.publicId;
  }

  /** Runs the passport-jwt strategy on the bare token (not the Fastify request: passport decorates what it gets). */
  private verifySession(raw: string, via: 'cookie' | 'jwt'): Promise<SessionClaims> {
    const expired = via === 'cookie' ? 'cookie-expired' : 'session-expired';
    const invalid = via === 'cookie' ? 'cookie-invalid' : 'session-invalid';
    return new Promise<SessionClaims>((resolve, reject) => {
      const fakeReq = { headers: { authorization: `Bearer ${raw}` } };
      const run = this.passport.authenticate('jwt', { session: false }, (err: unknown, claims: SessionClaims | false, info: unknown) => {
        if (err) {
          reject(err instanceof GoproxyError && err.kind === 'unauthorized' ? new Rejected(invalid) : err);
          return;
        }
        if (claims) return resolve(claims);
        if (info instanceof TokenExpiredError) return reject(new Rejected(expired));
        if (info instanceof Error && info.name !== 'JsonWebTokenError' && info.name !== 'UnknownSigningKey' && info.name !== 'NotBeforeError') {
          // The key lookup itself failed (database down): not the caller's fault.
          return reject(new GoproxyError('unavailable', 'cannot check the session right now; try again'));
        }
        reject(new Rejected(invalid));
      });
      run(fakeReq, {}, (err: unknown) => reject(err ?? new Error('passport ended without a decision')));
    });
  }
}
