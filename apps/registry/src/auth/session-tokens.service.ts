import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { GoproxyError } from '../common/goproxy-error';
import type { Env } from '../config/env';
import { requireAdmin } from '../identity/actor';
import type { AuthEvents } from '../identity/auth-events';
import { isUuid } from '../identity/pg-errors';
import type { UsersRepository } from '../identity/users.repository';
import { JWT_AUDIENCE, JWT_ISSUER } from './jwt.strategy';
import type { Principal } from './principal';
import type { SigningKeyStore } from './signing-key-store';

/**
 * ModGate-issued JWT access tokens for API sessions (after an OIDC sign-in
 * or `modgate login`). Short-lived (MODGATE_JWT_TTL_SECONDS) and not stored:
 * disabling the user stops them, and key rotation starts a new key without
 * cutting the sessions signed with the old one.
 */
export class SessionTokensService {
  constructor(
    private readonly keys: SigningKeyStore,
    private readonly users: UsersRepository,
    private readonly events: AuthEvents,
    private readonly env: Env,
  ) {}

  async issue(userId: string): Promise<{ accessToken: string; expiresIn: number; tokenType: 'Bearer' }> {
    const user = isUuid(userId) ? await this.users.findById(userId) : null;
    if (!user) throw new GoproxyError('not-found', `no user with id ${userId.slice(0, 64)}`);
    if (user.disabled) throw new GoproxyError('forbidden', `the account ${user.login} is disabled; ask a ModGate admin`);
    const key = this.keys.signingKey();
    const expiresIn = this.env.auth.jwtTtlSeconds;
    const accessToken = jwt.sign({ login: user.login }, key.secret, {
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
