import { DataSource, EntityManager } from 'typeorm';
import type { GlobalRole, TeamRole } from '../auth/principal';

export interface UserRecord {
  id: string;
  login: string;
  kind: 'user' | 'service';
  displayName: string | null;
  email: string | null;
  role: GlobalRole;
  disabled: boolean;
  oidcIssuer: string | null;
  oidcSubject: string | null;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export interface NewUser {
  login: string;
  kind: 'user' | 'service';
  role: GlobalRole;
  displayName: string | null;
  email: string | null;
  createdBy: string | null;
  oidcIssuer?: string | null;
  oidcSubject?: string | null;
}

/** A user and their team memberships: what a Principal is built from. */
export interface PrincipalData {
  user: UserRecord;
  teams: Array<{ id: string; name: string; role: TeamRole }>;
}

/** Serialises every change that could leave the registry without an enabled admin. */
const ADMIN_LOCK = 7007002;

/** Named queries over users. Works on the DataSource or inside a transaction's EntityManager. */
export class UsersRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  /** Runs fn in one transaction holding the admin lock, with a repository bound to it. */
  async withAdminLock<T>(fn: (tx: UsersRepository, em: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_LOCK]);
      return fn(new UsersRepository(em), em);
    });
  }

  async list(limit: number, offset: number, kind?: 'user' | 'service', q?: string): Promise<{ rows: UserRecord[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (kind) {
      params.push(kind);
      where.push(`kind = $${params.length}`);
    }
    if (q) {
      params.push(`%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      const p = `$${params.length}`;
      where.push(`(login ILIKE ${p} OR display_name ILIKE ${p} OR email ILIKE ${p})`);
    }
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [{ n }] = await this.db.query(`SELECT count(*)::int AS n FROM users ${cond}`, params);
    const rows = await this.db.query(`${SELECT} ${cond} ORDER BY login LIMIT $${params.length + 1} OFFSET $${params.length + 2}`, [
      ...params,
      limit,
      offset,
    ]);
    return { rows: rows.map(toRecord), total: n };
  }

  async findById(id: string): Promise<UserRecord | null> {
    return one(await this.db.query(`${SELECT} WHERE id = $1`, [id]));
  }

  async findByLogin(login: string): Promise<UserRecord | null> {
    return one(await this.db.query(`${SELECT} WHERE login = $1`, [login]));
  }

  async findByOidc(issuer: string, subject: string): Promise<UserRecord | null> {
    return one(await this.db.query(`${SELECT} WHERE oidc_issuer = $1 AND oidc_subject = $2`, [issuer, subject]));
  }

  /** Throws the driver's unique violation (users_login_unique, users_oidc_unique) for the caller to map. */
  async insert(u: NewUser): Promise<UserRecord> {
    const rows = await this.db.query(
      `INSERT INTO users (login, kind, role, display_name, email, created_by, oidc_issuer, oidc_subject, last_login_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7::text IS NULL THEN NULL ELSE now() END)
       RETURNING ${COLUMNS}`,
      [u.login, u.kind, u.role, u.displayName, u.email, u.createdBy, u.oidcIssuer ?? null, u.oidcSubject ?? null],
    );
    return toRecord(rows[0]);
  }

  async setRole(id: string, role: GlobalRole): Promise<UserRecord | null> {
    return this.update(id, 'role = $2', [role]);
  }

  async setDisabled(id: string, disabled: boolean): Promise<UserRecord | null> {
    return this.update(id, 'disabled = $2', [disabled]);
  }

  /** A sign-in through the identity provider: refresh what it says about the person. */
  async recordOidcLogin(id: string, displayName: string | null, email: string | null): Promise<UserRecord | null> {
    return this.update(id, 'display_name = $2, email = $3, last_login_at = now()', [displayName, email]);
  }

  async countEnabledAdmins(exceptId?: string): Promise<number> {
    const [{ n }] = await this.db.query(
      `SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND NOT disabled AND ($1::uuid IS NULL OR id <> $1::uuid)`,
      [exceptId ?? null],
    );
    return n;
  }

  async principalData(id: string): Promise<PrincipalData | null> {
    const user = await this.findById(id);
    if (!user) return null;
    const teams = await this.db.query(
      `SELECT t.id, t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.user_id = $1`,
      [id],
    );
    return { user, teams };
  }

  private async update(id: string, set: string, params: unknown[]): Promise<UserRecord | null> {
    const res = await this.db.query(`UPDATE users SET ${set}, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, ...params]);
    // TypeORM answers UPDATE … RETURNING with [rows, affectedCount].
    const rows = Array.isArray(res[0]) ? res[0] : res;
    return one(rows);
  }
}

const COLUMNS = 'id, login, kind, display_name, email, role, disabled, oidc_issuer, oidc_subject, created_at, last_login_at';
const SELECT = `SELECT ${COLUMNS} FROM users`;

interface Row {
  id: string;
  login: string;
  kind: 'user' | 'service';
  display_name: string | null;
  email: string | null;
  role: GlobalRole;
  disabled: boolean;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  created_at: Date;
  last_login_at: Date | null;
}

function toRecord(r: Row): UserRecord {
  return {
    id: r.id,
    login: r.login,
    kind: r.kind,
    displayName: r.display_name,
    email: r.email,
    role: r.role,
    disabled: r.disabled,
    oidcIssuer: r.oidc_issuer,
    oidcSubject: r.oidc_subject,
    createdAt: r.created_at,
    lastLoginAt: r.last_login_at,
  };
}

function one(rows: Row[]): UserRecord | null {
  return rows.length ? toRecord(rows[0]) : null;
}
