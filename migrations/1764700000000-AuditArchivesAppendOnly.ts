import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * audit_archives says where the stored chain starts. Moving that start (an
 * edited or deleted archive row) would let rows vanish from the front of
 * the log unnoticed, so the table is append-only like audit_events; verify
 * also checks each row against its signed manifest in the blob store.
 *
 * And the retention path's delete is narrowed: modgate.audit_prune alone no
 * longer lets a row go, only a row an archive already covers. So whoever
 * can set that flag (ModGate's own role) still cannot remove a row without
 * first recording an archive, which verify holds against its signature.
 */
export class AuditArchivesAppendOnly1764700000000 implements MigrationInterface {
  name = 'AuditArchivesAppendOnly1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Nested: the archive lookup only on the retention path (SQL's AND need not short-circuit).
        IF TG_OP = 'DELETE' AND current_setting('modgate.audit_prune', true) = 'on' THEN
          IF OLD.seq <= (SELECT coalesce(max(last_seq), 0) FROM audit_archives) THEN
            RETURN OLD;
          END IF;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE FUNCTION audit_archives_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_archives is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_archives_append_only BEFORE UPDATE OR DELETE ON audit_archives
      FOR EACH ROW EXECUTE FUNCTION audit_archives_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_archives_no_truncate BEFORE TRUNCATE ON audit_archives
      FOR EACH STATEMENT EXECUTE FUNCTION audit_archives_append_only()`);
    await q.query(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_archives FROM PUBLIC`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER audit_archives_no_truncate ON audit_archives`);
    await q.query(`DROP TRIGGER audit_archives_append_only ON audit_archives`);
    await q.query(`DROP FUNCTION audit_archives_append_only()`);
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('modgate.audit_prune', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
  }
}
