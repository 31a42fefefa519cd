// `npm run migrate`: applies pending migrations to DATABASE_URL (or to the
// embedded database under MODGATE_DATA_DIR) and exits.
import pino from 'pino';
import { loadEnv } from '../config/env';
import { openDatabase } from './data-source';
import { startEmbeddedPostgres } from './embedded-postgres';

async function main(): Promise<void> {
  const env = loadEnv();
  const log = pino({ level: env.logLevel });
  const embedded = env.databaseUrl ? null : await startEmbeddedPostgres(env.dataDir, log, env.embeddedPgPort);
  const ds = await openDatabase(env.databaseUrl ?? embedded!.url);
  const applied = await ds.query(`SELECT name FROM schema_migrations ORDER BY id`);
  log.info({ migrations: applied.map((r: { name: string }) => r.name) }, 'schema is up to date');
  await ds.destroy();
  await embedded?.stop();
}

main().catch((err) => {
  process.stderr.write(`modgate migrate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
