import { PassportStrategy } from '@nestjs/passport';
import jwt from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { GoproxyError } from '../common/goproxy-error';
import { credentialMessage } from './auth-messages';
import type { Principal } from './principal';
import type { SigningKeyStore } from './signing-key-store';
import type { UserPrincipals } from './user-principals';

export const JWT_ISSUER = 'modgate';
export const JWT_AUDIENCE = 'modgate-api';

/** The kid names no usable key (never issued, or retired longer than a token lives). */
export class UnknownSigningKey extends Error {
  constructor() {
    super('unknown signing key');
    this.name = 'UnknownSigningKey';
  }
}

/**
 * passport-jwt strategy 'jwt' for ModGate-issued API sessions: HS256 only,
 * the key picked by the token's `kid`, issuer and audience fixed, expiry
 * enforced. validate() turns the subject into a fresh (or briefly cached)
 * Principal, so a disabled user's session stops at once.
 */
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    keys: SigningKeyStore,
    private readonly principals: UserPrincipals,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKeyProvider: (_req: unknown, raw: string, done: (err: unknown, secret?: Buffer) => void) => {
        const decoded = jwt.decode(raw, { complete: true });
        const kid = decoded?.header.kid;
        if (!kid || decoded.header.alg !== 'HS256') return done(new UnknownSigningKey());
        keys.secretFor(kid).then(
          (secret) => (secret ? done(null, secret) : done(new UnknownSigningKey())),
          (err: unknown) => done(err),
        );
      },
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
    });
  }

  async validate(payload: { sub?: unknown }): Promise<Principal> {
    if (typeof payload.sub !== 'string') throw new GoproxyError('unauthorized', credentialMessage('session-invalid'));
    return this.principals.forUser(payload.sub, 'jwt');
  }
}
