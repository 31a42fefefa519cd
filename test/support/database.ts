// A database of its own per test suite on the PostgreSQL at TEST_DATABASE_URL
// (default: the machine's server at 127.0.0.1:5432), with every migration
// applied; dropped afterwards, so suites can run side by side.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { openDatabase } from '../../apps/registry/src/database/data-source';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Opens a DataSource with migrations applied (one per caller; close it yourself). */
  open(): Promise<DataSource>;
  drop(): Promise<void>;
}

export async function createTestDatabase(label = 'suite'): Promise<TestDatabase> {
  const name = `modgate_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    url,
    name,
    open: () => openDatabase(url, 5),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
