import cluster from 'node:cluster';
import { runPrimary, type WorkerReady } from './cluster';
import { ConfigError, loadEnv } from './config/env';
import { makeLogger } from './logging/logger';
import { startRegistry } from './bootstrap';
import { BootstrapAdmin } from './identity/bootstrap-admin';
import { clientSetupLines, plainHttpWarning } from './start-page/client-setup';

async function main(): Promise<void> {
  let env;
  try {
    env = loadEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`modgate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = makeLogger(env.logLevel);
  if (env.workers > 1 && cluster.isPrimary) {
    await runPrimary(env, log); // forks the workers, which run the rest of main()
    return;
  }
  const registry = await startRegistry(env, log);

  const banner = [
    '',
    `ModGate is listening on ${registry.url}${registry.embedded ? ` (embedded PostgreSQL, data in ${env.dataDir})` : ''}`,
    'Point Go at it:',
    ...clientSetupLines(env, registry.url).map((l) => `  ${l}`),
    ...plainHttpWarning(env, registry.url).map((l) => `  ${l}`),
    // First start only: the admin token, printed here once and never logged.
    ...registry.app.get(BootstrapAdmin).takeBannerLines(registry.url).map((l) => `  ${l}`),
    '',
  ].join('\n');
  if (cluster.isWorker) {
    // The primary prints the first worker's banner once, for all of them.
    const ready: WorkerReady = { type: 'modgate-ready', url: registry.url, banner };
    process.send!(ready);
  } else {
    process.stdout.write(`${banner}\n`);
    log.info({ url: registry.url, embedded: registry.embedded, storage: env.storage.split(':')[0] }, 'modgate started');
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      log.flush();
      process.exit(1);
    }, env.shutdownTimeoutMs + 15_000);
    force.unref();
    registry
      .close()
      .then(() => {
        log.info('stopped');
        log.flush();
        process.exitCode = 0;
      })
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exitCode = 1;
      })
      .finally(() => setTimeout(() => process.exit(), 50));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  watchParent(() => stop('parent exited'));
}

/**
 * Under `npm start` a supervisor may signal npm alone and npm exit without
 * passing the signal on: the server would be orphaned, with its embedded
 * PostgreSQL. When the parent goes away (we are re-parented), stop too. A
 * server started straight by a supervisor (parent pid 1) is not affected.
 */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  if (parent <= 1 || cluster.isWorker) return;
  const t = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(t);
      onGone();
    }
  }, 500);
  t.unref();
}

main().catch((err) => {
  process.stderr.write(`modgate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
