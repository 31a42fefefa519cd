import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../../../migrations';
import { ENTITIES } from './entities';

/** One DataSource shape for the server, `npm run migrate` and the tests. */
export function makeDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    // A database that stops answering fails a checkout in seconds (answered
    // 503) rather than holding requests until the client gives up.
    extra: { max: poolSize, application_name: 'modgate', connectionTimeoutMillis: 5000, keepAlive: true },
  });
}

/** Opens the DataSource and applies pending migrations. */
export async function openDatabase(url: string, poolSize = 10): Promise<DataSource> {
  const ds = makeDataSource(url, poolSize);
  await ds.initialize();
  try {
    // Several instances may start together: one migrates, the others wait.
    // The lock is session-scoped, so take and release it on one connection.
    const qr = ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.query('SELECT pg_advisory_lock(7007001)');
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await qr.query('SELECT pg_advisory_unlock(7007001)').catch(() => undefined);
      await qr.release();
    }
  } catch (err) {
    await ds.destroy();
    throw err;
  }
  return ds;
}
