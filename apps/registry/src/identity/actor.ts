import { GoproxyError } from '../common/goproxy-error';
import type { Principal } from '../auth/principal';

/**
 * Admin power needs both the role and a credential that carries it: an
 * admin's read-only CI token must not be able to create users, even if a
 * controller forgot its @RequireScope. Services check again for that reason.
 */
export function actsAsAdmin(actor: Principal | null): boolean {
  return !!actor && actor.role === 'admin' && actor.scopes.has('admin');
}

export function requireAdmin(actor: Principal, what: string): void {
  if (!actsAsAdmin(actor)) {
    throw new GoproxyError('forbidden', `${what} needs the admin role and a credential with the admin scope (${actor.login} has neither or only one)`);
  }
}

/**
 * Team maintainers run their own team (members, description). Like admin
 * work it needs a credential with the admin scope, which only sessions of
 * non-admins have: a maintainer's CI token cannot reshape the team.
 */
export function canManageTeam(actor: Principal, teamId: string): boolean {
  if (actsAsAdmin(actor)) return true;
  return (
    actor.teams.get(teamId) === 'maintainer' &&
    actor.scopes.has('admin') &&
    (actor.teamRestriction === null || actor.teamRestriction.has(teamId))
  );
}
