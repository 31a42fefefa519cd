import type { TeamRole } from '../auth/principal';

export interface GroupMapEntry {
  group: string;
  teamName: string;
  role: TeamRole;
}

const TEAM_ROLES: readonly TeamRole[] = ['maintainer', 'publisher', 'reader'];
export const TEAM_ROLE_RANK: Record<TeamRole, number> = { reader: 1, publisher: 2, maintainer: 3 };

/**
 * MODGATE_OIDC_GROUP_MAP: `group=team:role,…`. Group names may themselves
 * hold "=" (LDAP DNs such as cn=devs,ou=… cannot, because of the comma, but
 * "team=x" style names can), so the split is at the last "=". A bad entry
 * stops the start with the variable's name, like every other config error.
 */
export function parseGroupMap(value: string): GroupMapEntry[] {
  const out: GroupMapEntry[] = [];
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const colon = part.lastIndexOf(':');
    const group = eq > 0 ? part.slice(0, eq).trim() : '';
    const teamName = eq > 0 && colon > eq ? part.slice(eq + 1, colon).trim() : '';
    const role = colon > eq ? part.slice(colon + 1).trim() : '';
    if (!group || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(teamName) || !TEAM_ROLES.includes(role as TeamRole)) {
      throw new Error(`MODGATE_OIDC_GROUP_MAP: expected group=team:role (role maintainer, publisher or reader), got "${part.slice(0, 100)}"`);
    }
    out.push({ group, teamName, role: role as TeamRole });
  }
  return out;
}

/** Several groups may lead to one team: the strongest role wins. */
export function strongest(a: TeamRole | undefined, b: TeamRole): TeamRole {
  return a && TEAM_ROLE_RANK[a] >= TEAM_ROLE_RANK[b] ? a : b;
}

export function isTeamRole(value: string): value is TeamRole {
  return TEAM_ROLES.includes(value as TeamRole);
}
