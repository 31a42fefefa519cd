import { PassportStrategy } from '@nestjs/passport';
import jwt from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { GoproxyError } from '../common/goproxy-error';
import { isUuid } from '../identity/pg-errors';
import { credentialMessage } from './auth-messages';
import { SCOPES, type Scope } from './principal';
import type { SigningKeyStore } from './signing-key-store';

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
 * What a verified session JWT says. `tid`, `scp` and `teams` are set on
 * sessions exchanged from a token (POST /api/v1/auth/token): such a session
 * may do no more than that token (its scopes, its team restriction), and
 * stops when the token is revoked. Sessions from a sign-in carry none of
 * them and have every scope.
 */
export interface SessionClaims {
  readonly sub: string;
  /** The token the session was made from. */
  readonly tid: string | null;
  /** The scopes the session may use (null: all). */
  readonly scp: readonly Scope[] | null;
  /** The teams the session is restricted to (null: none). */
  readonly teams: readonly string[] | null;
  /** When it expires, in ms since the epoch (null: no exp claim). */
  readonly expiresAt: number | null;
}

const MAX_TEAMS_CLAIM = 1000;

/**
 * passport-jwt strategy 'jwt' for ModGate-issued API sessions: HS256 only,
 * the key picked by the token's `kid`, issuer and audience fixed, expiry
 * enforced. validate() checks the claims' shapes (an unknown scope or a
 * malformed team id refuses the session rather than widening it) and hands
 * them on; AuthenticationService turns them into a Principal against the
 * current state of the user (and token), so a disabled user's or a revoked
 * token's session stops at once.
 */
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(keys: SigningKeyStore) {
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

  validate(payload: Record<string, unknown>): SessionClaims {
    const invalid = () => new GoproxyError('unauthorized', credentialMessage('session-invalid'));
    const { sub, tid, scp, teams, exp } = payload;
    if (typeof sub !== 'string' || !isUuid(sub)) throw invalid();
    if (tid !== undefined && (typeof tid !== 'string' || !isUuid(tid))) throw invalid();
    if (scp !== undefined && !(Array.isArray(scp) && scp.every((s) => (SCOPES as readonly unknown[]).includes(s)))) throw invalid();
    if (teams !== undefined && !(Array.isArray(teams) && teams.length <= MAX_TEAMS_CLAIM && teams.every((t) => typeof t === 'string' && isUuid(t)))) throw invalid();
    return {
      sub,
      tid: tid ?? null,
      scp: (scp as Scope[] | undefined) ?? null,
      teams: (teams as string[] | undefined) ?? null,
      expiresAt: typeof exp === 'number' ? exp * 1000 : null,
    };
  }
}
