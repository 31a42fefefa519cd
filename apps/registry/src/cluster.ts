import cluster, { type Worker } from 'node:cluster';
import type { Env } from './config/env';
import { openDatabase } from './database/data-source';
import { startEmbeddedPostgres } from './database/embedded-postgres';
import type { AppLogger } from './logging/logger';

/**
 * MODGATE_WORKERS > 1: one primary process and N workers sharing the
 * listening socket (node:cluster), so the read path uses every core. The
 * primary owns what must happen once (the embedded database, migrations);
 * the first worker starts alone (bootstrap work runs once), then the rest.
 * Workers that die unexpectedly are replaced.
 */
export interface WorkerReady {
  readonly type: 'modgate-ready';
  readonly url: string;
  readonly banner: string;
}

export async function runPrimary(env: Env, log: AppLogger): Promise<void> {
  const embedded = env.databaseUrl ? null : await startEmbeddedPostgres(env.dataDir, log, env.embeddedPgPort);
  const databaseUrl = env.databaseUrl ?? embedded!.url;
  const ds = await openDatabase(databaseUrl, 2); // migrations, once (a lock connection + one)
  await ds.destroy();

  let stopping = false;
  const workerEnv = { ...process.env, DATABASE_URL: databaseUrl };
  const fork = () =>
    new Promise<WorkerReady>((resolve, reject) => {
      const w = cluster.fork(workerEnv);
      const onExit = (code: number) => reject(new Error(`a worker exited with code ${code} before it was ready`));
      w.once('exit', onExit);
      w.on('message', (m: WorkerReady) => {
        if (m?.type !== 'modgate-ready') return;
        w.off('exit', onExit);
        resolve(m);
      });
    });
  const first = await fork();
  for (let i = 1; i < env.workers; i++) await fork();
  // The workers' banner: where they listen and how to point Go at it.
  process.stdout.write(`${first.banner}\n`);
  log.info({ url: first.url, workers: env.workers, embedded: embedded !== null, storage: env.storage.split(':')[0] }, 'modgate started');

  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    log.error({ worker: w.process.pid, code, signal }, 'worker died; starting another');
    void fork().catch((err) => log.error({ err: (err as Error).message }, 'could not replace a worker'));
  });

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', () => resolve());
      w.process.kill('SIGTERM');
    })));
    await embedded?.stop();
    log.info('stopped');
    log.flush();
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
