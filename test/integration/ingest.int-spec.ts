// The ingest service against real PostgreSQL and a real filesystem blob
// store: a valid version lands exactly once; every kind of bad input and a
// storage or database failure in the middle leave no blob, no row, no temp file.
import { createReadStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GoModError } from '@modgate/gomod';
import { createBlobStore, type BlobStore } from '@modgate/storage';
import type { DataSource } from 'typeorm';
import { IngestService, VersionConflict, type IngestInput } from '../../apps/registry/src/versions/ingest.service';
import { ModuleVersionRepository } from '../../apps/registry/src/versions/module-version.repository';
import { VersionIndex } from '../../apps/registry/src/versions/version-index';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { gotool } from '../support/gotool';
import { moduleFiles, tempDir, writeZip, writeZipPatched } from '../support/zips';

let db: TestDatabase;
let ds: DataSource;
let root: string;
let blobs: BlobStore;
let repo: ModuleVersionRepository;
let index: VersionIndex;
let ingest: IngestService;

beforeAll(async () => {
  db = await createTestDatabase('ingest');
  ds = await db.open();
  root = tempDir('ingest');
  blobs = createBlobStore(`fs:${join(root, 'blobs')}`);
  repo = new ModuleVersionRepository(ds);
  index = new VersionIndex(repo);
  ingest = new IngestService(repo, blobs, index, join(root, 'tmp'));
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  await ds.query('TRUNCATE module_versions, module_mods, version_tombstones, modules');
  for await (const k of blobs.list('')) await blobs.delete(k);
});

async function blobKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of blobs.list('')) keys.push(k);
  return keys.sort();
}

async function rowCount(): Promise<number> {
  const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM module_versions');
  return n;
}

async function expectNothingLeft(): Promise<void> {
  expect(await blobKeys()).toEqual([]);
  expect(await rowCount()).toBe(0);
  expect(readdirSync(join(root, 'tmp'))).toEqual([]);
}

async function input(path: string, version: string, files = moduleFiles(path, version), mod?: string): Promise<IngestInput> {
  const zipFile = await writeZip(join(root, `${Math.random().toString(36).slice(2)}.zip`), files);
  const modBytes = Buffer.from(mod ?? files[`${path}@${version}/go.mod`] ?? `module ${path}\n`);
  return { path, version, time: new Date('2024-03-01T10:00:00Z'), mod: modBytes, zip: createReadStream(zipFile), origin: { kind: 'upstream', name: 'http://up.test' } };
}

describe('ingest of a valid version', () => {
  it('stores blobs and one row with the hashes the Go implementation computes', async () => {
    const path = 'example.com/Corp/lib';
    const files = moduleFiles(path, 'v1.2.3');
    const zipFile = await writeZip(join(root, 'good.zip'), files);
    const modFile = join(root, 'good.mod');
    writeFileSync(modFile, files[`${path}@v1.2.3/go.mod`]);

    const { record, created } = await ingest.ingest({ ...(await input(path, 'v1.2.3', files)), zip: createReadStream(zipFile) });

    expect(created).toBe(true);
    expect(record.zipHash).toBe(gotool(['hash-zip', zipFile]).trim());
    expect(record.modHash).toBe(gotool(['hash-mod', modFile]).trim());
    const [row] = await ds.query(
      `SELECT m.path, v.version, v.zip_hash, v.mod_hash, v.zip_size, v.mod_size, v.origin_kind, v.origin, v.version_time
       FROM module_versions v JOIN modules m ON m.id = v.module_id`,
    );
    expect(row).toMatchObject({ path, version: 'v1.2.3', zip_hash: record.zipHash, mod_hash: record.modHash, origin_kind: 'upstream', origin: 'http://up.test' });
    expect(Number(row.zip_size)).toBe(readFileSync(zipFile).length);
    expect(row.version_time.toISOString()).toBe('2024-03-01T10:00:00.000Z');
    expect((await blobs.read(record.zipKey)).equals(readFileSync(zipFile))).toBe(true);
    expect((await blobs.read(record.modKey)).toString()).toBe(files[`${path}@v1.2.3/go.mod`]);
    expect(record.zipKey).toContain('modules/example.com/!corp/lib/@v/v1.2.3/');
    expect(index.peek(path, 'v1.2.3')).toEqual(record);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('lands once: the same content again is a no-op', async () => {
    const first = await ingest.ingest(await input('example.com/once', 'v1.0.0'));
    const again = await ingest.ingest(await input('example.com/once', 'v1.0.0'));
    expect(again.created).toBe(false);
    expect(again.record.zipKey).toBe(first.record.zipKey);
    expect(await rowCount()).toBe(1);
    expect(await blobKeys()).toEqual([first.record.modKey, first.record.zipKey].sort());
  });

  it('refuses other content for a stored version and keeps the first', async () => {
    const first = await ingest.ingest(await input('example.com/immutable', 'v1.0.0'));
    const other = moduleFiles('example.com/immutable', 'v1.0.0', { 'extra.go': 'package immutable\n' });
    await expect(ingest.ingest(await input('example.com/immutable', 'v1.0.0', other))).rejects.toBeInstanceOf(VersionConflict);
    expect(await rowCount()).toBe(1);
    expect(await blobKeys()).toEqual([first.record.modKey, first.record.zipKey].sort());
  });

  it('concurrent ingests of one version store it once', async () => {
    const inputs = await Promise.all(Array.from({ length: 8 }, () => input('example.com/race', 'v0.1.0')));
    const results = await Promise.all(inputs.map((i) => ingest.ingest(i)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.record.zipKey)).size).toBe(1);
    expect(await rowCount()).toBe(1);
    expect(await blobKeys()).toHaveLength(2);
  });

  it('accepts a module without go.mod (the .mod is synthesized)', async () => {
    const path = 'example.com/legacy';
    const files = { [`${path}@v2.0.0+incompatible/legacy.go`]: 'package legacy\n' };
    const { record } = await ingest.ingest(await input(path, 'v2.0.0+incompatible', files, `module ${path}\n`));
    expect(record.version).toBe('v2.0.0+incompatible');
  });

  it('the database refuses to change a stored version', async () => {
    await ingest.ingest(await input('example.com/frozen', 'v1.0.0'));
    await expect(ds.query(`UPDATE module_versions SET zip_hash = 'h1:AAAA'`)).rejects.toThrow(/immutable/);
    await expect(ds.query(`UPDATE module_versions SET version = 'v1.0.1'`)).rejects.toThrow(/immutable/);
  });
});

describe('ingest of bad input leaves nothing behind', () => {
  const cases: Array<[string, () => Promise<IngestInput>]> = [
    ['an invalid module path', () => input('notadomain', 'v1.0.0')],
    ['a non-canonical version', async () => ({ ...(await input('example.com/a', 'v1.0.0')), version: 'v1.0' })],
    ['a version that breaks the major-version suffix rule', () => input('example.com/a/v2', 'v1.0.0')],
    ['a go.mod for another module', () => input('example.com/a', 'v1.0.0', moduleFiles('example.com/a', 'v1.0.0'), 'module example.com/b\n')],
    ['a zip whose go.mod differs from the .mod', () => input('example.com/a', 'v1.0.0', moduleFiles('example.com/a', 'v1.0.0'), 'module example.com/a\n\ngo 1.20\n')],
    ['a zip with a file outside the prefix', () => input('example.com/a', 'v1.0.0', { ...moduleFiles('example.com/a', 'v1.0.0'), 'evil.go': 'package x\n' })],
    ['a zip for another version', () => input('example.com/a', 'v1.0.1', moduleFiles('example.com/a', 'v1.0.0'), 'module example.com/a\n\ngo 1.19\n')],
    [
      'a path-traversal entry',
      async () => {
        const i = await input('example.com/a', 'v1.0.0');
        const file = join(root, 'traversal.zip');
        await writeZipPatched(file, { ...moduleFiles('example.com/a', 'v1.0.0'), 'example.com/a@v1.0.0/@@/x.go': 'package x\n' }, '/@@/', '/../');
        return { ...i, zip: createReadStream(file) };
      },
    ],
    [
      'a truncated zip',
      async () => {
        const i = await input('example.com/a', 'v1.0.0');
        const full = readFileSync((i.zip as unknown as { path: string }).path);
        const { Readable } = await import('node:stream');
        return { ...i, zip: Readable.from([full.subarray(0, full.length - 30)]) };
      },
    ],
  ];
  it.each(cases)('%s', async (_name, make) => {
    await expect(ingest.ingest(await make())).rejects.toBeInstanceOf(GoModError);
    await expectNothingLeft();
  });

  it('a checksum verification failure', async () => {
    const i = await input('example.com/verified', 'v1.0.0');
    await expect(ingest.ingest({ ...i, verify: async () => Promise.reject(new Error('hash mismatch')) })).rejects.toThrow('hash mismatch');
    await expectNothingLeft();
  });
});

describe('failures in the middle leave nothing behind', () => {
  it('storage fails while writing the zip (after the .mod was stored)', async () => {
    const failing: BlobStore = Object.create(blobs);
    failing.put = async (key, body, opts) => {
      if (key.endsWith('.zip')) throw new Error('disk full');
      return blobs.put(key, body, opts);
    };
    const svc = new IngestService(repo, failing, index, join(root, 'tmp'));
    await expect(svc.ingest(await input('example.com/storagefail', 'v1.0.0'))).rejects.toThrow('disk full');
    await expectNothingLeft();
  });

  it('the database fails on insert (after both blobs were stored)', async () => {
    await ds.query(`CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated outage'; END $$`);
    await ds.query(`CREATE TRIGGER fail_insert BEFORE INSERT ON module_versions FOR EACH ROW EXECUTE FUNCTION fail_insert()`);
    try {
      await expect(ingest.ingest(await input('example.com/dbfail', 'v1.0.0'))).rejects.toThrow('simulated outage');
      await expectNothingLeft();
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM modules');
      expect(n).toBe(0); // the module row was rolled back with the version
    } finally {
      await ds.query('DROP TRIGGER fail_insert ON module_versions');
      await ds.query('DROP FUNCTION fail_insert()');
    }
  });
});
