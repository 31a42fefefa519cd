// A ModGate under test: a real server process on its own database (made by
// createTestDatabase) and a filesystem blob store in a temp dir. Several
// processes may share one database and store (`share`).
import { readdirSync, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBlobStore, type BlobStore } from '@modgate/storage';
import type { DataSource } from 'typeorm';
import { IngestService } from '../../apps/registry/src/versions/ingest.service';
import { ModuleVersionRepository } from '../../apps/registry/src/versions/module-version.repository';
import { VERSIONS_CHANNEL } from '../../apps/registry/src/versions/version-change-feed';
import { VersionIndex } from '../../apps/registry/src/versions/version-index';
import { createTestDatabase, type TestDatabase } from './database';
import { startRegistryProcess, waitFor200, type RegistryProcess } from './registry-process';
import { tempDir } from './zips';

export interface SharedBackends {
  readonly db: TestDatabase;
  readonly dataDir: string;
  readonly blobDir: string;
  /** A DataSource of the test's own on the same database (open()ed lazily). */
  dataSource(): Promise<DataSource>;
  blobs(): BlobStore;
  /** Seeds a version exactly as the server would store it (the same ingest code). */
  ingestService(): Promise<IngestService>;
  /** Rows in module_versions. */
  versionCount(): Promise<number>;
  /** Module blob keys (sumdb tiles excluded). */
  moduleBlobKeys(): Promise<string[]>;
  /** Files left in the ingest spool dir. */
  spoolFiles(): string[];
  cleanup(): Promise<void>;
}

export async function createBackends(label: string): Promise<SharedBackends> {
  return backendsOn(await createTestDatabase(label), tempDir(label));
}

/** Backends on a database (made by createTestDatabase, or one the test runs itself) and a data dir. */
export function backendsOn(db: TestDatabase, dataDir: string): SharedBackends {
  const blobDir = join(dataDir, 'blobs');
  let ds: DataSource | null = null;
  const dataSource = async () => (ds ??= await db.open());
  const blobs = () => createBlobStore(`fs:${blobDir}`);
  return {
    db,
    dataDir,
    blobDir,
    dataSource,
    blobs,
    async ingestService() {
      const ds = await dataSource();
      const repo = new ModuleVersionRepository(ds);
      // Announce what is stored as another instance would, so running
      // servers drop their cached "not found" for it.
      const announce = (path: string, version: string) => void ds.query('SELECT pg_notify($1, $2)', [VERSIONS_CHANNEL, JSON.stringify({ path, version, stored: true })]);
      return new IngestService(repo, blobs(), new VersionIndex(repo), join(dataDir, 'tmp-seed'), announce);
    },
    async versionCount() {
      const [{ n }] = await (await dataSource()).query('SELECT count(*)::int AS n FROM module_versions');
      return n;
    },
    async moduleBlobKeys() {
      const keys: string[] = [];
      for await (const k of blobs().list('modules/')) keys.push(k);
      return keys.sort();
    },
    spoolFiles() {
      const dir = join(dataDir, 'tmp');
      return existsSync(dir) ? readdirSync(dir) : [];
    },
    async cleanup() {
      await ds?.destroy();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The admin token every test ModGate registers at its first start
 * (MODGATE_BOOTSTRAP_ADMIN_TOKEN), so tests can call the admin API and
 * authenticate GOPROXY requests. Made up here, never printed by the server.
 */
export const TEST_ADMIN_TOKEN = 'mg_testadmin_' + 'T3st'.repeat(10);

/** `Authorization` value for the test admin (Basic, as the go command sends it). */
export function adminBasicAuth(): string {
  return `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString('base64')}`;
}

/** A .netrc line for the test admin on the given ModGate URL. */
export function adminNetrc(url: string): string {
  return `machine ${new URL(url).hostname} login admin password ${TEST_ADMIN_TOKEN}\n`;
}

export interface Modgate extends RegistryProcess {
  readonly backends: SharedBackends;
}

/** Starts a ModGate process on the given backends; env adds to or overrides the defaults. */
export async function startModgate(backends: SharedBackends, env: Record<string, string> = {}): Promise<Modgate> {
  const proc = await startRegistryProcess({
    env: {
      DATABASE_URL: backends.db.url,
      MODGATE_DATA_DIR: backends.dataDir,
      MODGATE_STORAGE: `fs:${backends.blobDir}`,
      MODGATE_LOG_LEVEL: 'info',
      MODGATE_UPSTREAMS: 'off',
      MODGATE_SUMDBS: 'off',
      MODGATE_BOOTSTRAP_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      // Public modules readable without credentials, as plain-http tests need
      // (the go command sends credentials only over https).
      MODGATE_ANONYMOUS_READ: 'true',
      ...env,
    },
  });
  try {
    await waitFor200(`${proc.url}/readyz`);
  } catch (err) {
    await proc.stop('SIGKILL'); // never leave a server behind a failed start
    throw err;
  }
  return Object.assign(proc, { backends });
}
