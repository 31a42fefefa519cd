import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Modules and their versions. A version row is written once, after its blobs
 * are stored, and never changes: the content columns are guarded by a trigger,
 * because go.sum files everywhere pin these bytes.
 */
export class CreateModuleVersions1764100000000 implements MigrationInterface {
  name = 'CreateModuleVersions1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE modules (
        id          bigserial PRIMARY KEY,
        path        text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT modules_path_unique UNIQUE (path),
        CONSTRAINT modules_path_nonempty CHECK (length(path) > 0)
      )`);
    await q.query(`
      CREATE TABLE module_versions (
        id            bigserial PRIMARY KEY,
        module_id     bigint NOT NULL REFERENCES modules(id) ON DELETE RESTRICT,
        version       text NOT NULL,
        version_time  timestamptz,
        mod_size      integer NOT NULL CHECK (mod_size >= 0),
        zip_size      bigint NOT NULL CHECK (zip_size > 0),
        mod_hash      text NOT NULL CHECK (mod_hash LIKE 'h1:%'),
        zip_hash      text NOT NULL CHECK (zip_hash LIKE 'h1:%'),
        mod_key       text NOT NULL,
        zip_key       text NOT NULL,
        origin_kind   text NOT NULL CHECK (origin_kind IN ('upstream', 'publish', 'import')),
        origin        text NOT NULL,
        stored_at     timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT module_versions_unique UNIQUE (module_id, version),
        CONSTRAINT module_versions_version_shape CHECK (version ~ '^v[0-9]')
      )`);
    await q.query(`
      CREATE FUNCTION module_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.module_id <> OLD.module_id OR NEW.version <> OLD.version
           OR NEW.version_time IS DISTINCT FROM OLD.version_time
           OR NEW.mod_size <> OLD.mod_size OR NEW.zip_size <> OLD.zip_size
           OR NEW.mod_hash <> OLD.mod_hash OR NEW.zip_hash <> OLD.zip_hash
           OR NEW.mod_key <> OLD.mod_key OR NEW.zip_key <> OLD.zip_key
           OR NEW.origin_kind <> OLD.origin_kind OR NEW.origin <> OLD.origin
           OR NEW.stored_at <> OLD.stored_at THEN
          RAISE EXCEPTION 'module version %@% is immutable', OLD.module_id, OLD.version
            USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER module_versions_immutable BEFORE UPDATE ON module_versions
      FOR EACH ROW EXECUTE FUNCTION module_versions_immutable()`);
    await q.query(`CREATE INDEX module_versions_stored_at ON module_versions (stored_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE module_versions`);
    await q.query(`DROP FUNCTION module_versions_immutable()`);
    await q.query(`DROP TABLE modules`);
  }
}
