import { DataSource } from 'typeorm';

export interface SigningKey {
  kid: string;
  secret: Buffer;
  createdAt: Date;
  retiredAt: Date | null;
}

/** Serialises key creation and rotation across instances. */
const KEYS_LOCK = 7007003;

/** Named queries over signing_keys (HS256 secrets for API session JWTs). */
export class SigningKeysRepository {
  constructor(private readonly ds: DataSource) {}

  /** The current key and every retired one whose tokens may still be alive. */
  async usable(ttlSeconds: number): Promise<SigningKey[]> {
    const rows: Array<{ kid: string; secret: Buffer; created_at: Date; retired_at: Date | null }> = await this.ds.query(
      `SELECT kid, secret, created_at, retired_at FROM signing_keys
       WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
       ORDER BY created_at DESC`,
      [ttlSeconds],
    );
    return rows.map((r) => ({ kid: r.kid, secret: r.secret, createdAt: r.created_at, retiredAt: r.retired_at }));
  }

  /** First start: one instance creates the key, the others find it. */
  async ensureCurrent(candidate: { kid: string; secret: Buffer }): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      const [{ n }] = await em.query(`SELECT count(*)::int AS n FROM signing_keys WHERE retired_at IS NULL`);
      if (n === 0) await em.query(`INSERT INTO signing_keys (kid, secret) VALUES ($1, $2)`, [candidate.kid, candidate.secret]);
    });
  }

  /** Retires the current key, adds the new one, forgets keys whose tokens are all expired. */
  async rotate(next: { kid: string; secret: Buffer }, ttlSeconds: number): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      await em.query(`UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL`);
      await em.query(`INSERT INTO signing_keys (kid, secret) VALUES ($1, $2)`, [next.kid, next.secret]);
      await em.query(`DELETE FROM signing_keys WHERE retired_at < now() - make_interval(secs => $1)`, [ttlSeconds * 2 + 3600]);
    });
  }
}
