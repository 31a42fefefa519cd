import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Identity and access: users and service accounts, teams and members, OIDC
 * group mappings, API tokens (only a hash of the secret is stored), access
 * rules from module-path patterns to teams, and JWT signing keys.
 */
export class CreateIdentity1764200000000 implements MigrationInterface {
  name = 'CreateIdentity1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        login         text NOT NULL,
        kind          text NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'service')),
        display_name  text,
        email         text,
        role          text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'auditor', 'user')),
        disabled      boolean NOT NULL DEFAULT false,
        oidc_issuer   text,
        oidc_subject  text,
        created_by    uuid REFERENCES users(id) ON DELETE SET NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        last_login_at timestamptz,
        CONSTRAINT users_login_unique UNIQUE (login),
        CONSTRAINT users_login_shape CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{0,127}$'),
        CONSTRAINT users_oidc_unique UNIQUE (oidc_issuer, oidc_subject)
      )`);
    await q.query(`
      CREATE TABLE teams (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name        text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT teams_name_unique UNIQUE (name),
        CONSTRAINT teams_name_shape CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$')
      )`);
    await q.query(`
      CREATE TABLE team_members (
        team_id    uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role       text NOT NULL CHECK (role IN ('maintainer', 'publisher', 'reader')),
        source     text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'oidc')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (team_id, user_id)
      )`);
    await q.query(`CREATE INDEX team_members_user ON team_members (user_id)`);
    await q.query(`
      CREATE TABLE oidc_group_mappings (
        group_name text NOT NULL,
        team_id    uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        role       text NOT NULL CHECK (role IN ('maintainer', 'publisher', 'reader')),
        PRIMARY KEY (group_name, team_id)
      )`);
    await q.query(`
      CREATE TABLE api_tokens (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        public_id    text NOT NULL,
        secret_hash  bytea NOT NULL,
        scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'publish', 'admin', 'audit']),
        team_ids     uuid[],
        expires_at   timestamptz,
        revoked_at   timestamptz,
        revoked_by   uuid REFERENCES users(id) ON DELETE SET NULL,
        last_used_at timestamptz,
        last_used_ip text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT api_tokens_public_id_unique UNIQUE (public_id)
      )`);
    await q.query(`CREATE INDEX api_tokens_user ON api_tokens (user_id)`);
    await q.query(`
      CREATE TABLE access_rules (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        pattern    text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 500),
        team_id    uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        permission text NOT NULL CHECK (permission IN ('read', 'publish', 'admin')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT access_rules_unique UNIQUE (pattern, team_id)
      )`);
    await q.query(`
      CREATE TABLE signing_keys (
        kid        text PRIMARY KEY,
        secret     bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['signing_keys', 'access_rules', 'api_tokens', 'oidc_group_mappings', 'team_members', 'teams', 'users']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
