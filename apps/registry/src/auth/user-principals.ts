import { Inject, Injectable } from '@nestjs/common';
import { GoproxyError } from '../common/goproxy-error';
import { ENV, type Env } from '../config/env';
import { AuthEvents } from '../identity/auth-events';
import { isUuid } from '../identity/pg-errors';
import { UsersRepository, type PrincipalData } from '../identity/users.repository';
import { BEARER_CHALLENGE, credentialMessage } from './auth-messages';
import { CredentialCache } from './credential-cache';
import { SCOPES, type Principal, type Scope, type TeamRole } from './principal';

export interface TokenGrant {
  id: string;
  scopes: Scope[];
  teamIds: string[] | null;
}

/**
 * Builds Principals from the stored user and memberships. Session (JWT)
 * principals are cached per user for the auth cache time and dropped at
 * once when the user's role, state or teams change.
 */
@Injectable()
export class UserPrincipals {
  private readonly sessions: CredentialCache<Principal>;

  constructor(
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(AuthEvents) events: AuthEvents,
    @Inject(ENV) env: Env,
  ) {
    this.sessions = new CredentialCache<Principal>(env.auth.cacheSeconds * 1000, 10_000, () => events.listening);
    events.subscribe((e) => {
      if (e.kind === 'user') this.sessions.invalidate((userId) => userId === e.id);
      else if (e.kind === 'all') this.sessions.invalidate();
    });
  }

  /** Throws 'unauthorized' for an unknown or disabled user. */
  async forUser(userId: string, via: 'jwt' | 'token', token?: TokenGrant): Promise<Principal> {
    if (via === 'jwt' && !token) return this.sessions.get(userId, () => this.load(userId, via));
    return this.load(userId, via, token);
  }

  private async load(userId: string, via: 'jwt' | 'token', token?: TokenGrant): Promise<Principal> {
    const data = isUuid(userId) ? await this.users.principalData(userId) : null;
    if (!data) throw new GoproxyError('unauthorized', credentialMessage(via === 'jwt' ? 'session-invalid' : 'unknown'), { 'www-authenticate': BEARER_CHALLENGE });
    if (data.user.disabled) throw new GoproxyError('unauthorized', credentialMessage('disabled', { login: data.user.login }), { 'www-authenticate': BEARER_CHALLENGE });
    return principalFrom(data, via, token);
  }
}

export function principalFrom(d: PrincipalData, via: 'jwt' | 'token', token?: TokenGrant): Principal {
  const teams = new Map<string, TeamRole>();
  const teamNames = new Map<string, string>();
  for (const t of d.teams) {
    teams.set(t.id, t.role);
    teamNames.set(t.id, t.name);
  }
  return Object.freeze({
    kind: d.user.kind,
    userId: d.user.id,
    login: d.user.login,
    role: d.user.role,
    teams,
    teamNames,
    via,
    tokenId: token?.id ?? null,
    // Sessions carry every scope; the role still decides what is allowed.
    scopes: new Set<Scope>(token ? token.scopes : SCOPES),
    teamRestriction: token?.teamIds ? new Set(token.teamIds) : null,
  });
}

/**
 * A session principal held to what its JWT claims allow: the scopes both the
 * principal and `scp` have, and the teams both restrictions allow (an empty
 * set when they do not overlap: then no team rule grants anything). The
 * result can only be narrower than `p`, never wider.
 */
export function narrowPrincipal(p: Principal, limits: { tokenId: string | null; scopes: readonly Scope[] | null; teamIds: readonly string[] | null }): Principal {
  const scopes = limits.scopes === null ? p.scopes : new Set([...p.scopes].filter((s) => limits.scopes!.includes(s)));
  let teamRestriction = p.teamRestriction;
  if (limits.teamIds !== null) {
    teamRestriction = new Set(p.teamRestriction === null ? limits.teamIds : limits.teamIds.filter((t) => p.teamRestriction!.has(t)));
  }
  return Object.freeze({ ...p, via: 'jwt', tokenId: limits.tokenId ?? p.tokenId, scopes, teamRestriction });
}
