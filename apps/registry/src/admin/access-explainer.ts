import { Inject, Injectable } from '@nestjs/common';
import { AccessService } from '../access/access.service';
import type { Explanation } from '../access/rule-engine';
import { AuthenticationService } from '../auth/authentication.service';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { isUuid } from '../identity/pg-errors';
import { UsersService } from '../identity/users.service';

export interface AdminExplanation extends Explanation {
  readonly principal: { id: string | null; login: string; via: Principal['via'] };
}

/**
 * GET /access-rules/explain: which rule decides for whom. "principal" is a
 * user id or login, explained as a session of that user would be (every
 * scope, all their teams); without it, the caller exactly as they are
 * authenticated now (a token's scopes and team restriction included).
 */
@Injectable()
export class AccessExplainer {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(AuthenticationService) private readonly auth: AuthenticationService,
    @Inject(AccessService) private readonly access: AccessService,
  ) {}

  async explain(caller: Principal, principal: string | undefined, path: string): Promise<AdminExplanation> {
    const who = principal === undefined ? caller : await this.principalFor(principal);
    return { principal: { id: who.userId, login: who.login, via: who.via }, ...this.access.explain(who, path) };
  }

  private async principalFor(ref: string): Promise<Principal> {
    const user = isUuid(ref) ? await this.users.get(ref) : await this.users.findByLogin(ref);
    if (!user) throw new GoproxyError('not-found', `principal: no user with login "${ref.slice(0, 128)}"`);
    try {
      return await this.auth.principalForUser(user.id, 'jwt');
    } catch (err) {
      // principalForUser answers "unauthorized" for a disabled user; passed on,
      // that 401 would look as if the *caller's* credentials had failed.
      if (err instanceof GoproxyError && err.kind === 'unauthorized') {
        throw new GoproxyError('conflict', `principal: ${user.login} is disabled, so every credential of theirs is refused (401) before any access rule applies`);
      }
      throw err;
    }
  }
}
