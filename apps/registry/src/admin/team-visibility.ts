import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import type { TeamView } from '../identity/teams.service';

/**
 * Who may look at a team and its members: admins and auditors (with a
 * credential carrying admin or audit), and the team's own members. Changes
 * are checked by TeamsService itself (admin, or maintainer in a session).
 */
export function mayReadTeam(who: Principal, teamId: string): boolean {
  const overseer = (who.role === 'admin' || who.role === 'auditor') && (who.scopes.has('admin') || who.scopes.has('audit'));
  if (overseer && who.teamRestriction === null) return true;
  return who.teams.has(teamId) && (who.teamRestriction === null || who.teamRestriction.has(teamId));
}

/** Someone else's team is reported exactly like a missing one (as TeamsService words it): no probing for names. */
export function requireTeamVisible(who: Principal, team: TeamView, asked: string): void {
  if (!mayReadTeam(who, team.id)) throw new GoproxyError('not-found', `no team "${asked.slice(0, 64)}"`);
}
