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
import type { AuthThrottle } from './auth-throttle';
import { CredentialCache } from './credential-cache';
import { looksLikeJwt, parseAuthorization } from './credentials';
import type { JwtStrategy } from './jwt.strategy';
import { ANONYMOUS, type Principal, type Scope } from './principal';
import type { TokenUsage } from './token-usage';
import type { UserPrincipals } from './user-principals';

/** A token row as authentication keeps it: the DB facts plus the principal they make (null if unusable). */
interface TokenEntry {
  auth: TokenForAuth;
  principal: Principal | null;
}

/** A credential check that failed for a reason the holder should read. */
class Rejected extends Error {
  constructor(problem: CredentialProblem, who: { login?: string | null; prefix?: string | null } = {}, message?: string) {
    super(message ?? credentialMessage(problem, who));
  }
}

/**
 * Who is asking, for GOPROXY and API requests alike. A warm request with a
 * token costs a Map lookup and one sha256: verified tokens are cached for
 * at most MODGATE_AUTH_CACHE_SECONDS, and every revocation, disable, role or
 * membership change drops them at once here and, through NOTIFY, elsewhere.
 */
export class AuthenticationService {
  private readonly tokens: CredentialCache<TokenEntry | null>;
  /** A private passport instance: the global one is shared by every app in the process (tests run two). */
  private readonly passport = new passport.Passport();

  constructor(
    private readonly repo: TokensRepository,
    private readonly principals: UserPrincipals,
    jwtStrategy: JwtStrategy,
    private readonly throttle: AuthThrottle,
    private readonly usage: TokenUsage,
    events: AuthEvents,
    env: Env,
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
    const cred = parseAuthorization(req.headers.authorization);
    if (cred.kind === 'none') return ANONYMOUS;
    const api = isApiRequest(req);
    const ip = req.ip ?? 'unknown';
    const login = cred.kind === 'basic' ? cred.login : null;
    this.throttle.check(ip, login);
    try {
      let principal: Principal;
      if (cred.kind === 'malformed') throw new Rejected('malformed');
      if (cred.kind === 'basic') {
        if (api) throw new Rejected('basic-on-api');
        principal = await this.byToken(cred.password, cred.login, ip);
      } else if (cred.value.startsWith('mg_')) {
        principal = await this.byToken(cred.value, null, ip);
      } else if (looksLikeJwt(cred.value)) {
        principal = await this.bySession(cred.value);
      } else {
        throw new Rejected('malformed');
      }
      this.throttle.succeeded(login);
      return principal;
    } catch (err) {
      if (!(err instanceof Rejected)) throw err;
      // The same credentials from the same address: Go's automatic repeat is one failure.
      const fingerprint = createHash('sha256').update(`${ip}\n${String(req.headers.authorization)}`).digest('base64');
      const delay = this.throttle.failed(ip, login, fingerprint);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      throw unauthorized(err.message, api);
    }
  }

  principalForUser(userId: string, via: 'jwt' | 'token', token?: { id: string; scopes: Scope[]; teamIds: string[] | null }): Promise<Principal> {
    return this.principals.forUser(userId, via, token);
  }

  private async byToken(value: string, login: string | null, ip: string): Promise<Principal> {
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
    return entry.principal;
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

  /** Runs the passport-jwt strategy on the bare token (not the Fastify request: passport decorates what it gets). */
  private bySession(raw: string): Promise<Principal> {
    return new Promise<Principal>((resolve, reject) => {
      const fakeReq = { headers: { authorization: `Bearer ${raw}` } };
      const run = this.passport.authenticate('jwt', { session: false }, (err: unknown, user: Principal | false, info: unknown) => {
        if (err) {
          // Unknown or disabled user: UserPrincipals worded it already.
          reject(err instanceof GoproxyError && err.kind === 'unauthorized' ? new Rejected('session-invalid', {}, err.message) : err);
          return;
        }
        if (user) return resolve(user);
        if (info instanceof TokenExpiredError) return reject(new Rejected('session-expired'));
        if (info instanceof Error && info.name !== 'JsonWebTokenError' && info.name !== 'UnknownSigningKey' && info.name !== 'NotBeforeError') {
          // The key lookup itself failed (database down): not the caller's fault.
          return reject(new GoproxyError('unavailable', 'cannot check the session right now; try again'));
        }
        reject(new Rejected('session-invalid'));
      });
      run(fakeReq, {}, (err: unknown) => reject(err ?? new Error('passport ended without a decision')));
    });
  }
}
