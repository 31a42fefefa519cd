import { Inject, Injectable } from '@nestjs/common';
import type { TokenSet } from 'openid-client';
import { GoproxyError } from '../common/goproxy-error';
import { LOGGER, type AppLogger } from '../logging/logger';
import { TeamsService } from '../identity/teams.service';
import { UsersService, type UserView } from '../identity/users.service';
import { describeOidcError, type OidcSettings } from './oidc-client.service';
import { claimAt, type Claims, identityFromClaims } from './oidc-claims';

/**
 * The part both flows share once the provider has vouched for someone:
 * read the claims, find or create the user, and make the user's
 * OIDC-sourced team memberships match the groups claim.
 */
@Injectable()
export class OidcSignInService {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(TeamsService) private readonly teams: TeamsService,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  async complete(oidc: OidcSettings, tokens: TokenSet, flow: 'browser' | 'device'): Promise<UserView> {
    const claims = await this.claims(oidc, tokens);
    let identity;
    try {
      identity = identityFromClaims(claims, oidc.groupsClaim);
    } catch (err) {
      throw new GoproxyError('bad-upstream', `sign-in failed: ${(err as Error).message}`);
    }
    const user = await this.users.upsertFromOidc({
      issuer: oidc.issuer,
      subject: identity.subject,
      login: identity.login,
      displayName: identity.displayName,
      email: identity.email,
    });
    if (user.disabled) {
      this.log.warn({ login: user.login, flow }, 'OIDC sign-in of a disabled user refused');
      throw new GoproxyError('forbidden', `the ModGate account ${user.login} is disabled; ask a ModGate admin`);
    }
    if (identity.groups !== null) {
      if (claimAt(claims, oidc.groupsClaim!) === undefined) {
        // Not fatal (the user may simply be in no group), but the usual cause
        // is a scope or mapper missing at the provider: make it visible.
        this.log.warn({ login: user.login, claim: oidc.groupsClaim }, 'groups claim absent: OIDC team memberships removed');
      }
      await this.teams.syncOidcGroups(user.id, identity.groups);
    }
    this.log.info({ login: user.login, userId: user.id, flow, groups: identity.groups?.length ?? null }, 'OIDC sign-in');
    return user;
  }

  /**
   * The validated id_token's claims with the userinfo answer over them. Both
   * count: many providers put profile and group claims only in userinfo.
   * openid-client checks that userinfo's `sub` is the id_token's.
   */
  private async claims(oidc: OidcSettings, tokens: TokenSet): Promise<Claims> {
    const fromIdToken: Claims = tokens.id_token ? tokens.claims() : {};
    if (!tokens.access_token || !oidc.client.issuer.metadata.userinfo_endpoint) return fromIdToken;
    try {
      const info = (await oidc.client.userinfo(tokens)) as Claims;
      return { ...fromIdToken, ...info };
    } catch (err) {
      // Without userinfo the groups could be incomplete, and acting on them
      // would remove memberships: fail this sign-in instead.
      this.log.warn({ err: describeOidcError(err) }, 'OIDC userinfo failed');
      throw new GoproxyError('bad-upstream', 'the identity provider did not answer the userinfo request; try signing in again');
    }
  }
}
