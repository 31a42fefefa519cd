import { DataSource, EntityManager } from 'typeorm';
import type { TeamRole } from '../auth/principal';

export interface TeamRecord {
  id: string;
  name: string;
  description: string;
  createdAt: Date;
  memberCount: number;
}

export interface MemberRecord {
  userId: string;
  login: string;
  role: TeamRole;
  source: 'manual' | 'oidc';
  createdAt: Date;
}

export interface GroupMappingRecord {
  group: string;
  teamId: string;
  teamName: string;
  role: TeamRole;
}

/** Named queries over teams, team_members and oidc_group_mappings. */
export class TeamsRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  async list(limit: number, offset: number): Promise<{ rows: TeamRecord[]; total: number }> {
    const [{ n }] = await this.db.query(`SELECT count(*)::int AS n FROM teams`);
    const rows = await this.db.query(`${SELECT_TEAM} ORDER BY t.name LIMIT $1 OFFSET $2`, [limit, offset]);
    return { rows: rows.map(toTeam), total: n };
  }

  async findById(id: string): Promise<TeamRecord | null> {
    const rows = await this.db.query(`${SELECT_TEAM} WHERE t.id = $1`, [id]);
    return rows.length ? toTeam(rows[0]) : null;
  }

  async findByName(name: string): Promise<TeamRecord | null> {
    const rows = await this.db.query(`${SELECT_TEAM} WHERE t.name = $1`, [name]);
    return rows.length ? toTeam(rows[0]) : null;
  }

  async idsByNames(names: string[]): Promise<Map<string, string>> {
    const rows: Array<{ id: string; name: string }> = await this.db.query(`SELECT id, name FROM teams WHERE name = ANY($1::text[])`, [names]);
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  /** Which of these ids are teams (for token restrictions). */
  async existingIds(ids: string[]): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.db.query(`SELECT id FROM teams WHERE id = ANY($1::uuid[])`, [ids]);
    return rows.map((r) => r.id);
  }

  async insert(name: string, description: string): Promise<TeamRecord> {
    const rows = await this.db.query(`INSERT INTO teams (name, description) VALUES ($1, $2) RETURNING id, name, description, created_at, 0 AS member_count`, [
      name,
      description,
    ]);
    return toTeam(rows[0]);
  }

  async setDescription(id: string, description: string): Promise<boolean> {
    const [, n] = await this.db.query(`UPDATE teams SET description = $2 WHERE id = $1`, [id, description]);
    return n > 0;
  }

  /** Deletes the team (memberships, rules and mappings cascade); returns who was in it. */
  async delete(id: string): Promise<string[] | null> {
    return this.db.transaction(async (em) => {
      const members: Array<{ user_id: string }> = await em.query(`SELECT user_id FROM team_members WHERE team_id = $1`, [id]);
      const [, n] = await em.query(`DELETE FROM teams WHERE id = $1`, [id]);
      return n > 0 ? members.map((m) => m.user_id) : null;
    });
  }

  async members(teamId: string, limit: number, offset: number): Promise<{ rows: MemberRecord[]; total: number }> {
    const [{ n }] = await this.db.query(`SELECT count(*)::int AS n FROM team_members WHERE team_id = $1`, [teamId]);
    const rows = await this.db.query(`${SELECT_MEMBER} WHERE m.team_id = $1 ORDER BY u.login LIMIT $2 OFFSET $3`, [teamId, limit, offset]);
    return { rows: rows.map(toMember), total: n };
  }

  async member(teamId: string, userId: string): Promise<MemberRecord | null> {
    const rows = await this.db.query(`${SELECT_MEMBER} WHERE m.team_id = $1 AND m.user_id = $2`, [teamId, userId]);
    return rows.length ? toMember(rows[0]) : null;
  }

  /** A manual membership; it replaces an OIDC-synced one for the same team, which then stays put at sync. */
  async upsertManual(teamId: string, userId: string, role: TeamRole): Promise<void> {
    await this.db.query(
      `INSERT INTO team_members (team_id, user_id, role, source) VALUES ($1, $2, $3, 'manual')
       ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role, source = 'manual'`,
      [teamId, userId, role],
    );
  }

  async removeMember(teamId: string, userId: string): Promise<boolean> {
    const [, n] = await this.db.query(`DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, [teamId, userId]);
    return n > 0;
  }

  /** Team id → role of every team a user belongs to. */
  async rolesOfUser(userId: string): Promise<Map<string, TeamRole>> {
    const rows: Array<{ team_id: string; role: TeamRole }> = await this.db.query(`SELECT team_id, role FROM team_members WHERE user_id = $1`, [userId]);
    return new Map(rows.map((r) => [r.team_id, r.role]));
  }

  async mappingsForGroups(groups: string[]): Promise<Array<{ teamId: string; role: TeamRole }>> {
    const rows: Array<{ team_id: string; role: TeamRole }> = await this.db.query(
      `SELECT team_id, role FROM oidc_group_mappings WHERE group_name = ANY($1::text[])`,
      [groups],
    );
    return rows.map((r) => ({ teamId: r.team_id, role: r.role }));
  }

  /**
   * Makes the user's OIDC-sourced memberships exactly `desired`, in one
   * transaction. Manual memberships are neither removed nor overwritten.
   * Returns whether anything changed.
   */
  async replaceOidcMemberships(userId: string, desired: Map<string, TeamRole>): Promise<boolean> {
    const teamIds = [...desired.keys()];
    const roles = teamIds.map((t) => desired.get(t)!);
    return this.db.transaction(async (em) => {
      const [, removed] = await em.query(
        `DELETE FROM team_members WHERE user_id = $1 AND source = 'oidc' AND NOT (team_id = ANY($2::uuid[]))`,
        [userId, teamIds],
      );
      const changed: unknown[] = await em.query(
        `INSERT INTO team_members (team_id, user_id, role, source)
         SELECT t, $1, r, 'oidc' FROM unnest($2::uuid[], $3::text[]) AS d(t, r)
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role
           WHERE team_members.source = 'oidc' AND team_members.role <> EXCLUDED.role
         RETURNING team_id`,
        [userId, teamIds, roles],
      );
      return removed > 0 || changed.length > 0;
    });
  }

  async listMappings(): Promise<GroupMappingRecord[]> {
    const rows: Array<{ group_name: string; team_id: string; name: string; role: TeamRole }> = await this.db.query(
      `SELECT g.group_name, g.team_id, t.name, g.role FROM oidc_group_mappings g JOIN teams t ON t.id = g.team_id ORDER BY g.group_name, t.name`,
    );
    return rows.map((r) => ({ group: r.group_name, teamId: r.team_id, teamName: r.name, role: r.role }));
  }

  async upsertMapping(group: string, teamId: string, role: TeamRole): Promise<void> {
    await this.db.query(
      `INSERT INTO oidc_group_mappings (group_name, team_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (group_name, team_id) DO UPDATE SET role = EXCLUDED.role`,
      [group, teamId, role],
    );
  }

  async deleteMapping(group: string, teamId: string): Promise<boolean> {
    const [, n] = await this.db.query(`DELETE FROM oidc_group_mappings WHERE group_name = $1 AND team_id = $2`, [group, teamId]);
    return n > 0;
  }
}

const SELECT_TEAM = `
  SELECT t.id, t.name, t.description, t.created_at,
         (SELECT count(*)::int FROM team_members m WHERE m.team_id = t.id) AS member_count
  FROM teams t`;

const SELECT_MEMBER = `
  SELECT m.user_id, u.login, m.role, m.source, m.created_at
  FROM team_members m JOIN users u ON u.id = m.user_id`;

function toTeam(r: { id: string; name: string; description: string; created_at: Date; member_count: number }): TeamRecord {
  return { id: r.id, name: r.name, description: r.description, createdAt: r.created_at, memberCount: Number(r.member_count) };
}

function toMember(r: { user_id: string; login: string; role: TeamRole; source: 'manual' | 'oidc'; created_at: Date }): MemberRecord {
  return { userId: r.user_id, login: r.login, role: r.role, source: r.source, createdAt: r.created_at };
}
