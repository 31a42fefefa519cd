import type { DataSource, EntityManager } from 'typeorm';
import type { Permission } from '../auth/principal';
import type { Rule } from './rule';

/** PostgreSQL channel announcing rule changes to every ModGate process. */
export const ACCESS_CHANNEL = 'modgate_access';

export class DuplicateRule extends Error {}
export class UnknownTeam extends Error {}

export interface NewRule {
  readonly pattern: string;
  readonly teamId: string;
  readonly permission: Permission;
}

/**
 * Named queries over access_rules (joined with teams for the team name).
 * Every change announces itself on ACCESS_CHANNEL in the same transaction,
 * so other processes hear of it exactly when it commits, never before.
 * Constraint violations become DuplicateRule / UnknownTeam here, at the edge.
 */
export class AccessRuleRepository {
  constructor(private readonly ds: DataSource) {}

  /** Every rule, for the in-memory rule set. */
  async listAll(): Promise<Rule[]> {
    const rows: Row[] = await this.ds.query(`${SELECT} ORDER BY r.pattern, t.name`);
    return rows.map(toRule);
  }

  async listPage(limit: number, offset: number): Promise<{ items: Rule[]; total: number }> {
    const rows: (Row & { total: number })[] = await this.ds.query(
      `SELECT s.*, count(*) OVER ()::int AS total FROM (${SELECT}) s ORDER BY s.pattern, s.team_name, s.id LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    // Past the end the window count is lost with the rows: count separately.
    const total = rows.length > 0 ? rows[0].total : (await this.ds.query(`SELECT count(*)::int AS n FROM access_rules`))[0].n;
    return { items: rows.map(toRule), total };
  }

  async findRule(id: string): Promise<Rule | null> {
    const rows: Row[] = await this.ds.query(`${SELECT} WHERE r.id = $1`, [id]);
    return rows.length ? toRule(rows[0]) : null;
  }

  async insertRule(rule: NewRule, notice: string): Promise<Rule> {
    const inserted = await this.change(notice, (em) =>
      em.query(
        `WITH r AS (INSERT INTO access_rules (pattern, team_id, permission) VALUES ($1, $2, $3) RETURNING *)
         ${JOINED}`,
        [rule.pattern, rule.teamId, rule.permission],
      ),
    );
    // An INSERT without ON CONFLICT returns its row or throws.
    return inserted!;
  }

  /** Changes pattern and/or permission; null when no such rule. */
  async updateRule(id: string, patch: { pattern?: string; permission?: Permission }, notice: string): Promise<Rule | null> {
    return this.change(notice, (em) =>
      em.query(
        `WITH r AS (UPDATE access_rules SET pattern = COALESCE($2, pattern), permission = COALESCE($3, permission) WHERE id = $1 RETURNING *)
         ${JOINED}`,
        [id, patch.pattern ?? null, patch.permission ?? null],
      ),
    );
  }

  /** Deletes a rule and returns it; null when no such rule. */
  async deleteRule(id: string, notice: string): Promise<Rule | null> {
    return this.change(notice, (em) => em.query(`WITH r AS (DELETE FROM access_rules WHERE id = $1 RETURNING *) ${JOINED}`, [id]));
  }

  private async change(notice: string, write: (em: EntityManager) => Promise<Row[]>): Promise<Rule | null> {
    try {
      return await this.ds.transaction(async (em) => {
        const rows = await write(em);
        if (rows.length === 0) return null;
        await em.query('SELECT pg_notify($1, $2)', [ACCESS_CHANNEL, notice]);
        return toRule(rows[0]);
      });
    } catch (err) {
      const code = (err as { code?: string; driverError?: { code?: string } }).code ?? (err as { driverError?: { code?: string } }).driverError?.code;
      if (code === '23505') throw new DuplicateRule('a rule for this pattern and team exists already');
      if (code === '23503') throw new UnknownTeam('no such team');
      throw err;
    }
  }
}

const SELECT = `
  SELECT r.id, r.pattern, r.team_id, t.name AS team_name, r.permission
  FROM access_rules r JOIN teams t ON t.id = r.team_id`;

// The changed row (CTE `r`) with its team's name.
const JOINED = `SELECT r.id, r.pattern, r.team_id, t.name AS team_name, r.permission FROM r JOIN teams t ON t.id = r.team_id`;

interface Row {
  id: string;
  pattern: string;
  team_id: string;
  team_name: string;
  permission: Permission;
}

function toRule(r: Row): Rule {
  return { id: r.id, pattern: r.pattern, teamId: r.team_id, teamName: r.team_name, permission: r.permission };
}
