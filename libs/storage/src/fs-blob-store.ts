import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { keySegments, checkPrefix } from './blob-key';
import { BlobNotFound, BlobRangeNotSatisfiable, BlobStoreError, checkRange, checkSize } from './blob-store';
import type { BlobRange, BlobStat, BlobStore } from './blob-store';

/** Temp files live inside the root so that rename() never crosses a filesystem. */
const TMP_DIR = '.tmp';

// A key that names a missing file, or a directory, or runs through a file, is simply absent.
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/**
 * Blobs as files under a root directory. put() writes a temp file, fsyncs it,
 * renames it into place and fsyncs the directory, so a blob is either wholly
 * there or not at all, even across a power loss. A process killed mid-put can
 * leave an orphan in `.tmp`; it is never visible as a key.
 */
const READ_CHUNK = 256 << 10;

export class FsBlobStore implements BlobStore {
  readonly kind = 'fs';
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async put(key: string, body: NodeJS.ReadableStream | Buffer, opts: { size?: number } = {}): Promise<BlobStat> {
    const target = this.pathOf(key);
    const tmpDir = join(this.root, TMP_DIR);
    const tmp = join(tmpDir, `${randomUUID()}.part`);
    let file: FileHandle | undefined;
    try {
      await mkdir(tmpDir, { recursive: true }).catch(fsError('put', key));
      file = await open(tmp, 'wx').catch(fsError('put', key));
      const size = await writeAll(file, body, key, opts.size);
      await file.sync().catch(fsError('put', key));
      await file.close().catch(fsError('put', key));
      file = undefined;
      await mkdir(dirname(target), { recursive: true }).catch(fsError('put', key));
      await rename(tmp, target).catch(fsError('put', key));
      await syncDir(dirname(target)).catch(fsError('put', key));
      return { size };
    } catch (err) {
      // Whatever failed (the source, the disk, the rename), leave no temp file behind.
      await file?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async open(key: string, range?: BlobRange): Promise<{ body: NodeJS.ReadableStream; size: number }> {
    if (range) checkRange(key, range);
    const path = this.pathOf(key);
    // Open first and stat the handle, so size and content come from the same file
    // even if a concurrent put renames a new blob over this key meanwhile.
    const file = await open(path, 'r').catch(fsError('open', key));
    try {
      const info = await file.stat();
      if (!info.isFile()) throw new BlobNotFound(key);
      if (range && range.start >= info.size) throw new BlobRangeNotSatisfiable(key, range);
      // 256 KiB reads: 4x fewer syscalls than the 64 KiB default; 1 MiB chunks
      // measured no faster and far less steady (GC of large buffers).
      const window = range ? { start: range.start, end: Math.min(range.end, info.size - 1) } : {};
      const body = file.createReadStream({ ...window, highWaterMark: READ_CHUNK });
      return { body, size: info.size };
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  async read(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key)).catch(fsError('read', key));
  }

  async stat(key: string): Promise<BlobStat | null> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size } : null;
    } catch (err) {
      if (ABSENT.has(errnoCode(err))) return null;
      throw fsFailure('stat', key, err);
    }
  }

  async delete(key: string): Promise<void> {
    // Empty parent directories stay: removing them would race with a concurrent
    // put that has just created them and is about to rename into them.
    await unlink(this.pathOf(key)).catch((err: unknown) => {
      if (!ABSENT.has(errnoCode(err))) throw fsFailure('delete', key, err);
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    checkPrefix(prefix);
    // Start at the deepest directory the prefix names; only its first level
    // needs filtering, everything beneath a matching entry matches.
    const cut = prefix.lastIndexOf('/') + 1;
    const dirKey = prefix.slice(0, cut);
    const namePrefix = prefix.slice(cut);
    yield* this.walk(dirKey, (name) => name.startsWith(namePrefix));
  }

  async *listOlderThan(prefix: string, before: Date): AsyncIterable<string> {
    for await (const key of this.list(prefix)) {
      const st = await stat(this.pathOf(key)).catch(() => null);
      if (st && st.mtime < before) yield key;
    }
  }

  async sweepIncomplete(olderThan: Date): Promise<string[]> {
    const dir = join(this.root, TMP_DIR);
    const removed: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const file = join(dir, name);
      const st = await stat(file).catch(() => null);
      if (!st || st.mtime >= olderThan) continue;
      await rm(file, { force: true }).catch(() => undefined);
      removed.push(`${TMP_DIR}/${name}`);
    }
    return removed;
  }

  async check(): Promise<void> {
    const probe = join(this.root, TMP_DIR, `check-${randomUUID()}`);
    try {
      await mkdir(dirname(probe), { recursive: true });
      await (await open(probe, 'wx')).close();
      await unlink(probe);
    } catch (err) {
      throw new BlobStoreError(`fs store: ${this.root} is not writable (${errnoCode(err) || 'error'})`);
    }
  }

  private async *walk(dirKey: string, keep: (name: string) => boolean): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(join(this.root, ...dirKey.split('/')), { withFileTypes: true });
    } catch (err) {
      if (ABSENT.has(errnoCode(err))) return;
      throw fsFailure('list', dirKey, err);
    }
    for (const entry of entries) {
      if (!keep(entry.name) || (dirKey === '' && entry.name === TMP_DIR)) continue;
      const key = dirKey + entry.name;
      if (entry.isDirectory()) yield* this.walk(`${key}/`, () => true);
      else if (entry.isFile()) yield key;
    }
  }

  /** Maps a key onto a path inside the root; refuses anything that could leave it. */
  private pathOf(key: string): string {
    const segments = keySegments(key);
    if (segments[0] === TMP_DIR) throw new BlobStoreError(`invalid blob key "${key}": "${TMP_DIR}" is reserved`);
    const path = join(this.root, ...segments);
    // keySegments already refuses "..", this is the belt to its braces.
    if (!path.startsWith(this.root + sep)) throw new BlobStoreError(`invalid blob key "${key}": outside the store`);
    return path;
  }
}

/** Copies body into file, enforcing the announced size as bytes arrive. */
async function writeAll(file: FileHandle, body: NodeJS.ReadableStream | Buffer, key: string, expected?: number): Promise<number> {
  if (Buffer.isBuffer(body)) {
    checkSize(key, body.length, expected, true);
    await file.writeFile(body).catch(fsError('put', key));
    return body.length;
  }
  let size = 0;
  // for-await destroys the source if we stop early and rethrows its error as is.
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    checkSize(key, size, expected, false);
    await file.write(buf).catch(fsError('put', key));
  }
  checkSize(key, size, expected, true);
  return size;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? '';
}

/** Node's messages carry absolute paths; ours name the key and the errno only. */
function fsFailure(op: string, key: string, err: unknown): BlobStoreError {
  return new BlobStoreError(`fs store: ${op} ${key}: ${errnoCode(err) || 'failed'}`, { cause: err });
}

/** For promise chains: absent → BlobNotFound, anything else → BlobStoreError. */
function fsError(op: string, key: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof BlobStoreError || err instanceof BlobNotFound) throw err;
    if (op !== 'put' && ABSENT.has(errnoCode(err))) throw new BlobNotFound(key);
    throw fsFailure(op, key, err);
  };
}
