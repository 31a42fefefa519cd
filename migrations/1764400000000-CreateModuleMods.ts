import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * go.mod files (and .info times) of public versions whose zip has not been
 * needed yet. Resolving a build's module graph reads the go.mod of many
 * versions it never downloads; fetching each zip for that (as the first cut
 * did) made cold builds slow and failed when a zip was unavailable. Rows are
 * immutable like module_versions: what a client was served never changes.
 */
export class CreateModuleMods1764400000000 implements MigrationInterface {
  name = 'CreateModuleMods1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE module_mods (
        module_id    bigint NOT NULL REFERENCES modules(id) ON DELETE RESTRICT,
        version      text NOT NULL CHECK (version ~ '^v[0-9]'),
        version_time timestamptz,
        mod          bytea NOT NULL CHECK (octet_length(mod) <= 16777216),
        mod_hash     text NOT NULL CHECK (mod_hash LIKE 'h1:%'),
        origin       text NOT NULL,
        stored_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (module_id, version)
      )`);
    await q.query(`
      CREATE FUNCTION module_mods_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'module go.mod %@% is immutable', OLD.module_id, OLD.version
          USING ERRCODE = 'integrity_constraint_violation';
      END $$`);
    await q.query(`CREATE TRIGGER module_mods_immutable BEFORE UPDATE ON module_mods FOR EACH ROW EXECUTE FUNCTION module_mods_immutable()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE module_mods`);
    await q.query(`DROP FUNCTION module_mods_immutable()`);
  }
}
