import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GoModError,
  checkModuleVersion,
  checkModuleZip,
  escapePath,
  escapeVersion,
  hashGoMod,
  parseGoMod,
  syntheticGoMod,
} from '@modgate/gomod';
import type { BlobStore } from '@modgate/storage';
import { ModuleVersionRepository } from './module-version.repository';
import { VersionIndex } from './version-index';
import { VersionRecord } from './version-record';

export const MAX_ZIP_SIZE = 500 << 20;
export const MAX_GOMOD_SIZE = 16 << 20;

export interface IngestInput {
  readonly path: string;
  readonly version: string;
  readonly time: Date | null;
  /**
   * The bytes that `.mod` will serve. Absent (publishing): the zip's go.mod,
   * or `module <path>` when it has none, as the go command synthesises it.
   */
  readonly mod?: Buffer;
  readonly zip: NodeJS.ReadableStream;
  readonly origin: { kind: VersionRecord['originKind']; name: string };
  /** The publishing account (publish only). */
  readonly publisherId?: string | null;
  /** Runs after the hashes are known and before anything is stored (e.g. checksum-database verification). */
  readonly verify?: (hashes: { zipHash: string; modHash: string }) => Promise<void>;
}

/** The same version was offered with other content: versions never change. */
export class VersionConflict extends Error {
  constructor(
    readonly existing: VersionRecord,
    readonly offered: { zipHash: string; modHash: string },
  ) {
    super(
      `${existing.path}@${existing.version} is already stored as ${existing.zipHash} and the upload is ${offered.zipHash}; ` +
        'published versions never change: publish a new version',
    );
    this.name = 'VersionConflict';
  }
}

/**
 * The one way a module version enters ModGate (cache fill, publish, import):
 * validate → hash while streaming → store blobs → write the row. A failure at
 * any step leaves no blob and no row behind.
 */
export class IngestService {
  constructor(
    private readonly repo: ModuleVersionRepository,
    private readonly blobs: BlobStore,
    private readonly index: VersionIndex,
    private readonly tmpDir: string,
    /** Told of every version stored by this call (not of ones found stored). */
    private readonly onStored: (path: string, version: string) => void = () => undefined,
  ) {}

  async ingest(input: IngestInput): Promise<{ record: VersionRecord; created: boolean }> {
    const { path, version } = input;
    checkModuleVersion(path, version);
    if (input.mod) checkGoMod(path, input.mod);

    await mkdir(this.tmpDir, { recursive: true });
    const spool = join(this.tmpDir, `${randomUUID()}.zip`);
    try {
      const zipSize = await spoolBounded(input.zip, spool, MAX_ZIP_SIZE);
      // A published zip must be one zip.Create could have written; cached
      // ones are taken as the go command takes them (CheckZip).
      const zip = await checkModuleZip(spool, path, version, { asCreated: input.origin.kind === 'publish' });
      let mod = input.mod;
      if (!mod) {
        if (zip.goMod !== null && version.endsWith('+incompatible')) {
          throw new GoModError('invalid-version', `${path}@${version}: +incompatible is only for versions without a go.mod, and this zip has one; drop "+incompatible" or use a /v${version.slice(1, version.indexOf('.'))} module path`);
        }
        mod = zip.goMod ?? syntheticGoMod(path);
        checkGoMod(path, mod);
      } else if (zip.goMod !== null && !zip.goMod.equals(mod)) {
        throw new GoModError('invalid-zip', `go.mod in the zip of ${path}@${version} differs from the .mod file`);
      }
      const hashes = { zipHash: zip.h1, modHash: hashGoMod(mod) };
      const { retract, deprecated } = parseGoMod(mod);
      await input.verify?.(hashes);

      const existing = await this.repo.findVersion(path, version);
      if (existing) return { record: this.sameOrConflict(existing, hashes), created: false };

      const base = `modules/${escapePath(path)}/@v/${escapeVersion(version)}/${randomUUID()}`;
      const keys = { modKey: `${base}.mod`, zipKey: `${base}.zip` };
      let stored = false;
      try {
        await this.blobs.put(keys.modKey, mod, { size: mod.length, contentType: 'text/plain; charset=utf-8' });
        await this.blobs.put(keys.zipKey, createReadStream(spool), { size: zipSize, contentType: 'application/zip' });
        const { inserted, record } = await this.repo.insertVersionOnce({
          path,
          version,
          time: input.time,
          modSize: mod.length,
          zipSize,
          ...hashes,
          ...keys,
          originKind: input.origin.kind,
          origin: input.origin.name,
          publisherId: input.publisherId ?? null,
          retract,
          deprecated,
        });
        stored = inserted;
        if (!inserted) return { record: this.sameOrConflict(record, hashes), created: false };
        this.index.remember(record);
        this.onStored(path, version);
        return { record, created: true };
      } finally {
        if (!stored) await this.removeBlobs(keys);
      }
    } finally {
      await rm(spool, { force: true });
    }
  }

  private sameOrConflict(existing: VersionRecord, h: { zipHash: string; modHash: string }): VersionRecord {
    if (existing.zipHash !== h.zipHash || existing.modHash !== h.modHash) throw new VersionConflict(existing, h);
    this.index.remember(existing);
    return existing;
  }

  private async removeBlobs(keys: { modKey: string; zipKey: string }): Promise<void> {
    // Both deletes are attempted even if one fails; the blob keys are unique
    // to this attempt, so they can never belong to another version's row.
    await Promise.allSettled([this.blobs.delete(keys.modKey), this.blobs.delete(keys.zipKey)]);
  }
}

function checkGoMod(path: string, mod: Buffer): void {
  if (mod.length > MAX_GOMOD_SIZE) throw new GoModError('too-large', `go.mod of ${path} is larger than 16 MiB`);
  const parsed = parseGoMod(mod);
  if (parsed.module !== path) {
    throw new GoModError('invalid-gomod', `go.mod declares module "${parsed.module ?? ''}", expected "${path}"`);
  }
}

/** Copies a stream to a file, failing as soon as it grows past `limit` bytes. */
async function spoolBounded(source: NodeJS.ReadableStream, file: string, limit: number): Promise<number> {
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) done(new GoModError('too-large', `module zip is larger than ${limit >> 20} MiB`));
      else done(null, chunk);
    },
  });
  await pipeline(source, counter, createWriteStream(file, { mode: 0o600 }));
  return size;
}
