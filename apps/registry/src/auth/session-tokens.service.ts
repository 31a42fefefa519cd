import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { GoproxyError } from '../common/goproxy-error';
import type { Env } from '../config/env';
import { requireAdmin } from '../identity/actor';
import type { AuthEvents } from '../identity/auth-events';
import { isUuid } from '../identity/pg-errors';
import type { UsersRepository } from '../identity/users.repository';
import { credentialMessage } from './auth-messages';
import { JWT_AUDIENCE, JWT_ISSUER } from './jwt.strategy';
import type { Principal, Scope } from './principal';
import type { SigningKeyStore } from './signing-key-store';

/** What a session may do at most, when it is exchanged from a credential that is itself limited. */
export interface SessionLimits {
  /**
   * The token the session is made from: the JWT carries its id (`tid`),
   * scopes (`scp`) and team restriction (`teams`, when it has one), and
   * authentication honours them and refuses the session once the token is
   * revoked or expired (see AuthenticationService).
   */
  readonly token?: { readonly id: string; readonly scopes: readonly Scope[]; readonly teamIds: readonly string[] | null } | null;
  /** The session must not outlive this (the token's or the presented session's expiry). */
  readonly notAfter?: Date | null;
}

export interface IssuedSession {
  accessToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

/**
 * ModGate-issued JWT access tokens for API sessions (after an OIDC sign-in,
 * or exchanged for a token or session at POST /api/v1/auth/token).
 * Short-lived (MODGATE_JWT_TTL_SECONDS) and not stored: disabling the user
 * stops them, revoking the token a session was made from stops that session,
 * and key rotation starts a new key without cutting the sessions signed with
 * the old one.
 */
export class SessionTokensService {
  constructor(
    private readonly keys: SigningKeyStore,
    private readonly users: UsersRepository,
    private readonly events: AuthEvents,
    private readonly env: Env,
  ) {}

  async issue(userId: string, limits: SessionLimits = {}): Promise<IssuedSession> {
    const user = isUuid(userId) ? await this.users.findById(userId) : null;
    if (!user) throw new GoproxyError('not-found', `no user with id ${userId.slice(0, 64)}`);
    if (user.disabled) throw new GoproxyError('forbidden', `the account ${user.login} is disabled; ask a ModGate admin`);
    const key = this.keys.signingKey();
    let expiresIn = this.env.auth.jwtTtlSeconds;
    if (limits.notAfter) {
      expiresIn = Math.min(expiresIn, Math.floor((limits.notAfter.getTime() - Date.now()) / 1000));
      if (expiresIn < 1) throw new GoproxyError('unauthorized', credentialMessage('session-expired'));
    }
    const t = limits.token;
    const claims = t ? { tid: t.id, scp: [...t.scopes], ...(t.teamIds ? { teams: [...t.teamIds] } : {}) } : {};
    const accessToken = jwt.sign({ login: user.login, ...claims }, key.secret, {
      algorithm: 'HS256',
      keyid: key.kid,
      subject: user.id,
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      expiresIn,
      jwtid: randomUUID(),
    });
    return { accessToken, expiresIn, tokenType: 'Bearer' };
  }

  /** New sessions are signed with a new key from now on, here and (by NOTIFY) on every instance. */
  async rotateKey(actor: Principal): Promise<{ kid: string }> {
    requireAdmin(actor, 'rotating the session signing key');
    const kid = await this.keys.rotate();
    await this.events.publish({ kind: 'keys' });
    return { kid };
  }
}
