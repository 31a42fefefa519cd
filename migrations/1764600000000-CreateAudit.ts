import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tamper-evident audit log. audit_events is append-only: a trigger
 * refuses UPDATE, DELETE and TRUNCATE for every role, and the privileges
 * to do them are revoked from PUBLIC. The retention path alone may delete,
 * after archiving, by setting modgate.audit_prune for its transaction; a
 * superuser who disables the trigger is caught by the hash chain (each row
 * carries SHA-256(previous hash || canonical row)), which `verify` walks.
 *
 * audit_head is the chain's tip: writers lock its one row, so rows from
 * every process form one gap-free sequence.
 */
export class CreateAudit1764600000000 implements MigrationInterface {
  name = 'CreateAudit1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_events (
        seq            bigint PRIMARY KEY,
        -- Made when the event happens; a retried or replayed write of the same
        -- event is recognised by it and skipped (looked up by time, see
        -- AuditRepository.append; no index of its own: every index costs
        -- each download). Not part of the hashed row.
        event_id       uuid NOT NULL,
        at             timestamptz NOT NULL,
        principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'service', 'anonymous')),
        principal_id   uuid,
        principal      text NOT NULL,
        token_id       text,
        teams          text[] NOT NULL DEFAULT '{}',
        source_ip      text,
        user_agent     text,
        request_id     text,
        action         text NOT NULL,
        module         text,
        version        text,
        outcome        text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
        status         integer,
        reason         text,
        bytes          bigint,
        details        text,
        prev_hash      bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
        hash           bytea NOT NULL CHECK (octet_length(hash) = 32)
      )`);
    // One secondary index: time ranges (queries, exports, retention, dedup).
    // Filters by principal, module or action run within a time range or in
    // seq order; an index for each would cost every download row.
    await q.query(`CREATE INDEX audit_events_at ON audit_events (at)`);
    await q.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('modgate.audit_prune', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC`);

    await q.query(`
      CREATE TABLE audit_head (
        id        smallint PRIMARY KEY CHECK (id = 1),
        last_seq  bigint NOT NULL,
        last_hash bytea NOT NULL
      )`);
    await q.query(`INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '\\x${'00'.repeat(32)}')`);
    // The head only moves forward: cutting rows off the end and moving it back
    // is refused (and, done by a superuser anyway, caught by verify against
    // the signed export manifests).
    await q.query(`
      CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.last_seq < OLD.last_seq THEN
          RAISE EXCEPTION 'audit_head only moves forward' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_head_forward()`);

    // Archived (then pruned) stretches of the chain: where the rest starts from.
    await q.query(`
      CREATE TABLE audit_archives (
        last_seq     bigint PRIMARY KEY,
        first_seq    bigint NOT NULL,
        last_hash    bytea NOT NULL,
        rows         bigint NOT NULL,
        month        text NOT NULL,
        blob_key     text NOT NULL,
        manifest_key text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    // Signed manifests of exports, fetched after the export's bytes.
    await q.query(`
      CREATE TABLE audit_exports (
        id         uuid PRIMARY KEY,
        manifest   text,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The Ed25519 key that signs manifests (generated at first start unless configured).
    await q.query(`
      CREATE TABLE audit_signing_keys (
        id          text PRIMARY KEY,
        private_pem text NOT NULL,
        public_pem  text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_signing_keys`);
    await q.query(`DROP TABLE audit_exports`);
    await q.query(`DROP TABLE audit_archives`);
    await q.query(`DROP TABLE audit_head`);
    await q.query(`DROP FUNCTION audit_head_forward()`);
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP FUNCTION audit_events_append_only()`);
  }
}
