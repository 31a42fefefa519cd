import { DataSource, EntityManager } from 'typeorm';
import type { Scope } from '../auth/principal';

export interface TokenRecord {
  id: string;
  name: string;
  ownerId: string;
  ownerLogin: string;
  publicId: string;
  scopes: Scope[];
  teamIds: string[] | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  createdAt: Date;
}

/** What authentication needs about a presented token, in one query. */
export interface TokenForAuth {
  id: string;
  userId: string;
  ownerLogin: string;
  ownerDisabled: boolean;
  secretHash: Buffer;
  scopes: Scope[];
  teamIds: string[] | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface NewToken {
  userId: string;
  name: string;
  publicId: string;
  secretHash: Buffer;
  scopes: Scope[];
  teamIds: string[] | null;
  expiresAt: Date | null;
}

/** Named queries over api_tokens. The secret hash leaves this class only towards authentication. */
export class TokensRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  async insert(t: NewToken): Promise<TokenRecord> {
    const [{ id }] = await this.db.query(
      `INSERT INTO api_tokens (user_id, name, public_id, secret_hash, scopes, team_ids, expires_at)
       VALUES ($1, $2, $3, $4, $5::text[], $6::uuid[], $7) RETURNING id`,
      [t.userId, t.name, t.publicId, t.secretHash, t.scopes, t.teamIds, t.expiresAt],
    );
    return (await this.findById(id))!;
  }

  async findById(id: string): Promise<TokenRecord | null> {
    const rows = await this.db.query(`${SELECT} WHERE t.id = $1`, [id]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  async findByPublicId(publicId: string): Promise<TokenRecord | null> {
    const rows = await this.db.query(`${SELECT} WHERE t.public_id = $1`, [publicId]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  async list(ownerId: string | undefined, limit: number, offset: number): Promise<{ rows: TokenRecord[]; total: number }> {
    const cond = ownerId ? 'WHERE t.user_id = $1' : 'WHERE $1::uuid IS NULL';
    const [{ n }] = await this.db.query(`SELECT count(*)::int AS n FROM api_tokens t ${cond}`, [ownerId ?? null]);
    const rows = await this.db.query(`${SELECT} ${cond} ORDER BY t.created_at DESC, t.id LIMIT $2 OFFSET $3`, [ownerId ?? null, limit, offset]);
    return { rows: rows.map(toRecord), total: n };
  }

  async findForAuth(publicId: string): Promise<TokenForAuth | null> {
    const rows = await this.db.query(
      `SELECT t.id, t.user_id, u.login, u.disabled, t.secret_hash, t.scopes, t.team_ids, t.expires_at, t.revoked_at
       FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.public_id = $1`,
      [publicId],
    );
    if (!rows.length) return null;
    const r = rows[0];
    return {
      id: r.id,
      userId: r.user_id,
      ownerLogin: r.login,
      ownerDisabled: r.disabled,
      secretHash: r.secret_hash,
      scopes: r.scopes,
      teamIds: r.team_ids,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
    };
  }

  /** Idempotent: a second revoke keeps the first time and revoker. */
  async revoke(id: string, by: string | null): Promise<TokenRecord | null> {
    await this.db.query(
      `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()), revoked_by = CASE WHEN revoked_at IS NULL THEN $2::uuid ELSE revoked_by END WHERE id = $1`,
      [id, by],
    );
    return this.findById(id);
  }

  /** One statement for a whole batch of last-use records (never one per request). */
  async recordUsage(batch: Array<{ id: string; at: Date; ip: string }>): Promise<void> {
    if (batch.length === 0) return;
    await this.db.query(
      `UPDATE api_tokens t SET last_used_at = u.at, last_used_ip = u.ip
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
       WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
      [batch.map((b) => b.id), batch.map((b) => b.at), batch.map((b) => b.ip)],
    );
  }
}

const SELECT = `
  SELECT t.id, t.name, t.user_id, u.login, t.public_id, t.scopes, t.team_ids, t.expires_at, t.revoked_at,
         t.last_used_at, t.last_used_ip, t.created_at
  FROM api_tokens t JOIN users u ON u.id = t.user_id`;

interface Row {
  id: string;
  name: string;
  user_id: string;
  login: string;
  public_id: string;
  scopes: Scope[];
  team_ids: string[] | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  created_at: Date;
}

function toRecord(r: Row): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    ownerId: r.user_id,
    ownerLogin: r.login,
    publicId: r.public_id,
    scopes: r.scopes,
    teamIds: r.team_ids,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    lastUsedIp: r.last_used_ip,
    createdAt: r.created_at,
  };
}
