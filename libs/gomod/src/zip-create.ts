// Builds module zips with the file set zip.Create / zip.CreateFromDir
// (golang.org/x/mod/zip 0.7.0) would choose, so the h1 of what we publish is
// the h1 the go command computes from the same tree.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as yazl from 'yazl';
import { GoModError } from './errors';
import { H1Builder } from './h1-hash';
import { checkFilePath, checkModuleVersion, foldPath } from './module-path';
import { CollisionChecker, isCleanPath, isVendoredPackage, MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE } from './zip-check';

export type SourceFileType = 'file' | 'dir' | 'symlink' | 'other';

/** zip.File: one candidate for the zip. */
export interface ModuleSourceFile {
  /** Slash-separated path from the module root. */
  path: string;
  /** Like os.Lstat: a symlink is reported as one, not followed. */
  lstat(): Promise<{ type: SourceFileType; size: number }>;
  open(): Readable;
}

export interface FileProblem {
  path: string;
  reason: string;
}

/** zip.CheckedFiles. */
export interface CheckedFiles {
  valid: string[];
  omitted: FileProblem[];
  invalid: FileProblem[];
  sizeError: string | null;
}

export interface CreateResult {
  h1: string;
  files: number;
  uncompressedSize: number;
  /** Files left out, as zip.CheckDir lists them (vendored, nested modules, VCS dirs, symlinks...). */
  omitted: FileProblem[];
}

/** zip.CreateFromDir: zips dir as path@version into out (a file path, or a stream that is ended). */
export async function createModuleZipFromDir(dir: string, path: string, version: string, out: string | Writable): Promise<CreateResult> {
  const { files, omitted } = await listModuleDir(dir);
  const res = await createModuleZip(files, path, version, out);
  // CheckDir's order: what checkFiles left out, then what the walk skipped.
  return { ...res, omitted: [...res.omitted, ...omitted] };
}

/**
 * zip.Create: writes the valid files, in the given order, under
 * "path@version/". Throws GoModError ('invalid-zip', 'too-large') if any file
 * is invalid, like Create, before writing anything.
 */
export async function createModuleZip(files: ModuleSourceFile[], path: string, version: string, out: string | Writable): Promise<CreateResult> {
  checkModuleVersion(path, version);
  const { checked, valid } = await checkFiles(files);
  if (checked.sizeError) throw new GoModError('too-large', checked.sizeError);
  if (checked.invalid.length) {
    const [first] = checked.invalid;
    const more = checked.invalid.length > 1 ? ` (and ${checked.invalid.length - 1} more)` : '';
    throw new GoModError('invalid-zip', `${first.path}: ${first.reason}${more}`);
  }
  const prefix = `${path}@${version}/`;
  const h1 = new H1Builder();
  let total = 0;
  const zip = new yazl.ZipFile();
  let current: Readable | null = null;
  const failed = new Promise<never>((_, reject) => zip.on('error', reject));
  failed.catch(() => undefined); // may reject after the race is over
  for (const { file, size } of valid) {
    // A fixed date and mode make the zip reproducible; Go's only carry names
    // and contents too.
    zip.addReadStreamLazy(prefix + file.path, { mtime: dosEpoch, forceDosTimestamp: true, mode: 0o100644 }, (cb) => {
      const sha = createHash('sha256');
      let n = 0;
      // Create copies at most size+1 bytes and fails if the file grew.
      const limit = new Transform({
        transform(chunk: Buffer, _enc, done) {
          n += chunk.length;
          if (n > size) return done(new GoModError('invalid-zip', `file ${JSON.stringify(file.path)} is larger than declared size`));
          sha.update(chunk);
          done(null, chunk);
        },
        flush(done) {
          h1.add(prefix + file.path, sha.digest('hex'));
          total += n;
          done();
        },
      });
      try {
        current = file.open();
      } catch (err) {
        return zip.emit('error', err);
      }
      current.on('error', (err) => zip.emit('error', err));
      limit.on('error', (err) => zip.emit('error', err));
      cb(null, current.pipe(limit));
    });
  }
  zip.end();
  const sink = typeof out === 'string' ? createWriteStream(out) : out;
  try {
    await Promise.race([pipeline(zip.outputStream, sink), failed]);
  } catch (err) {
    (current as Readable | null)?.destroy();
    (zip.outputStream as Readable).destroy();
    sink.destroy();
    if (typeof out === 'string') await rm(out, { force: true });
    throw err;
  }
  return { h1: h1.digest(), files: valid.length, uncompressedSize: total, omitted: checked.omitted };
}

/** zip.CheckFiles: sorts files into valid, omitted and invalid without reading them. */
export async function checkModuleFiles(files: ModuleSourceFile[]): Promise<CheckedFiles> {
  return (await checkFiles(files)).checked;
}

const dosEpoch = new Date(1980, 0, 1);

function messageOf(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}

async function checkFiles(files: ModuleSourceFile[]): Promise<{ checked: CheckedFiles; valid: Array<{ file: ModuleSourceFile; size: number }> }> {
  const checked: CheckedFiles = { valid: [], omitted: [], invalid: [], sizeError: null };
  const valid: Array<{ file: ModuleSourceFile; size: number }> = [];
  const reported = new Set<string>();
  const problem = (path: string, omitted: boolean, reason: string): void => {
    if (reported.has(path)) return;
    reported.add(path);
    (omitted ? checked.omitted : checked.invalid).push({ path, reason });
  };
  // Lstat once per file: Go's checkFiles keeps the first answer too.
  const stats = new Map<ModuleSourceFile, { type: SourceFileType; size: number } | { error: string }>();
  const stat = async (f: ModuleSourceFile): Promise<{ type: SourceFileType; size: number } | { error: string }> => {
    if (!stats.has(f)) stats.set(f, await f.lstat().catch((err: unknown) => ({ error: messageOf(err) })));
    return stats.get(f)!;
  };

  // Directories holding a go.mod (of any case) are other modules: their
  // files are omitted.
  const haveGoMod = new Set<string>();
  for (const f of files) {
    const slash = f.path.lastIndexOf('/');
    if (foldPath(f.path.slice(slash + 1)) !== 'go.mod') continue;
    const info = await stat(f);
    if ('error' in info) problem(f.path, false, info.error);
    else if (info.type === 'file') haveGoMod.add(f.path.slice(0, slash + 1));
  }
  const inSubmodule = (p: string): boolean => {
    for (let dir = p, slash = dir.lastIndexOf('/'); slash >= 0; slash = dir.lastIndexOf('/')) {
      dir = dir.slice(0, slash);
      if (haveGoMod.has(`${dir}/`)) return true;
    }
    return false;
  };

  const collisions = new CollisionChecker();
  let room = MAX_ZIP_FILE;
  for (const f of files) {
    const p = f.path;
    if (!isCleanPath(p)) {
      problem(p, false, 'file path is not clean');
      continue;
    }
    if (p.startsWith('/')) {
      problem(p, false, 'file path is not relative');
      continue;
    }
    if (isVendoredPackage(p)) {
      problem(p, true, 'file is in vendor directory');
      continue;
    }
    if (inSubmodule(p)) {
      problem(p, true, 'file is in another module');
      continue;
    }
    if (p === '.hg_archival.txt') {
      problem(p, true, "file is inserted by 'hg archive' and is always omitted");
      continue;
    }
    try {
      checkFilePath(p);
    } catch (err) {
      problem(p, false, messageOf(err));
      continue;
    }
    if (p.toLowerCase() === 'go.mod' && p !== 'go.mod') {
      problem(p, false, 'go.mod files must have lowercase names');
      continue;
    }
    const info = await stat(f);
    if ('error' in info) {
      problem(p, false, info.error);
      continue;
    }
    const collision = collisions.check(p, info.type === 'dir');
    if (collision) {
      problem(p, false, collision);
      continue;
    }
    if (info.type === 'symlink') {
      problem(p, true, 'file is a symbolic link');
      continue;
    }
    if (info.type !== 'file') {
      problem(p, true, 'not a regular file');
      continue;
    }
    if (info.size >= 0 && info.size <= room) room -= info.size;
    else checked.sizeError ??= `module source tree too large (max size is ${MAX_ZIP_FILE} bytes)`;
    if (p === 'go.mod' && info.size > MAX_GO_MOD) {
      problem(p, false, `go.mod file too large (max size is ${MAX_GO_MOD} bytes)`);
      continue;
    }
    if (p === 'LICENSE' && info.size > MAX_LICENSE) {
      problem(p, false, `LICENSE file too large (max size is ${MAX_LICENSE} bytes)`);
      continue;
    }
    checked.valid.push(p);
    valid.push({ file: f, size: info.size });
  }
  return { checked, valid };
}

/**
 * zip's listFilesInDir: walks dir in filepath.Walk order (names sorted
 * bytewise), skipping VCS directories and nested modules and omitting
 * vendored and irregular files.
 */
export async function listModuleDir(dir: string): Promise<{ files: ModuleSourceFile[]; omitted: FileProblem[] }> {
  const files: ModuleSourceFile[] = [];
  const omitted: FileProblem[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    const info = await lstat(abs);
    // Walk reports a vendored directory but still descends into it.
    if (isVendoredPackage(rel)) omitted.push({ path: rel, reason: 'file is in vendor directory' });
    else if (info.isDirectory()) {
      if (rel !== '') {
        const base = rel.slice(rel.lastIndexOf('/') + 1);
        if (['.bzr', '.git', '.hg', '.svn'].includes(base)) {
          omitted.push({ path: rel, reason: 'directory is a version control repository' });
          return;
        }
        const goMod = await lstat(join(abs, 'go.mod')).catch(() => null);
        if (goMod && !goMod.isDirectory()) {
          omitted.push({ path: rel, reason: 'directory is in another module' });
          return;
        }
      }
    } else if (!info.isFile()) {
      omitted.push({ path: rel, reason: 'not a regular file' });
    } else {
      const size = info.size;
      files.push({ path: rel, lstat: () => Promise.resolve({ type: 'file', size }), open: () => createReadStream(abs) });
    }
    if (!info.isDirectory()) return;
    const names = (await readdir(abs)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) await visit(join(abs, name), rel === '' ? name : `${rel}/${name}`);
  };
  await visit(dir, '');
  return { files, omitted };
}
