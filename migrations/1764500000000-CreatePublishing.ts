import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Publishing: who published a version, what its go.mod says about
 * retraction and deprecation (parsed once at ingest, so the catalogue and
 * @latest never re-read blobs), and tombstones for deleted versions, which
 * can never be published again (go.sum files may still pin their hashes).
 */
export class CreatePublishing1764500000000 implements MigrationInterface {
  name = 'CreatePublishing1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE module_versions
        ADD COLUMN publisher_id uuid REFERENCES users(id) ON DELETE SET NULL,
        ADD COLUMN retract      jsonb,
        ADD COLUMN deprecated   text`);
    await q.query(`
      CREATE TABLE version_tombstones (
        module_id   bigint NOT NULL REFERENCES modules(id) ON DELETE RESTRICT,
        version     text NOT NULL,
        zip_hash    text NOT NULL,
        mod_hash    text NOT NULL,
        deleted_by  text NOT NULL,
        reason      text NOT NULL,
        deleted_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (module_id, version)
      )`);
    // publisher_id, retract and deprecated are written with the row and
    // never change either.
    await q.query(immutableFunction(`
           OR NEW.retract IS DISTINCT FROM OLD.retract OR NEW.deprecated IS DISTINCT FROM OLD.deprecated
           OR (NEW.publisher_id IS DISTINCT FROM OLD.publisher_id AND NEW.publisher_id IS NOT NULL)`));
    await q.query(`CREATE INDEX module_versions_origin_kind ON module_versions (origin_kind)`);
    // The sweep of blobs no version refers to looks keys up.
    await q.query(`CREATE INDEX module_versions_mod_key ON module_versions (mod_key)`);
    await q.query(`CREATE INDEX module_versions_zip_key ON module_versions (zip_key)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX module_versions_zip_key`);
    await q.query(`DROP INDEX module_versions_mod_key`);
    await q.query(`DROP INDEX module_versions_origin_kind`);
    await q.query(`DROP TABLE version_tombstones`);
    await q.query(immutableFunction(''));
    await q.query(`ALTER TABLE module_versions DROP COLUMN publisher_id, DROP COLUMN retract, DROP COLUMN deprecated`);
  }
}

/** module_versions' guard as of CreateModuleVersions, plus the conditions for later columns. */
function immutableFunction(moreConditions: string): string {
  return `
      CREATE OR REPLACE FUNCTION module_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.module_id <> OLD.module_id OR NEW.version <> OLD.version
           OR NEW.version_time IS DISTINCT FROM OLD.version_time
           OR NEW.mod_size <> OLD.mod_size OR NEW.zip_size <> OLD.zip_size
           OR NEW.mod_hash <> OLD.mod_hash OR NEW.zip_hash <> OLD.zip_hash
           OR NEW.mod_key <> OLD.mod_key OR NEW.zip_key <> OLD.zip_key
           OR NEW.origin_kind <> OLD.origin_kind OR NEW.origin <> OLD.origin
           OR NEW.stored_at <> OLD.stored_at${moreConditions} THEN
          RAISE EXCEPTION 'module version %@% is immutable', OLD.module_id, OLD.version
            USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
      END $$`;
}
