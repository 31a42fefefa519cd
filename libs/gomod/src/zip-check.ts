// Checks a module zip the way the go command does before it trusts one: a
// port of golang.org/x/mod/zip CheckZip + Unzip (x/mod 0.7.0) and of the
// archive/zip reads behind them (CRC-32, declared sizes), computing the
// go.sum h1 (dirhash.HashZip) in the same single streaming pass.
import { createHash } from 'node:crypto';
import { close, fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import * as yauzl from 'yauzl';
import { GoModError } from './errors';
import { H1Builder } from './h1-hash';
import { checkFilePath, checkModuleVersion, foldPath } from './module-path';

/** x/mod/zip MaxZipFile: the zip itself and its total uncompressed content. */
export const MAX_ZIP_FILE = 500 << 20;
/** x/mod/zip MaxGoMod and MaxLICENSE. */
export const MAX_GO_MOD = 16 << 20;
export const MAX_LICENSE = 16 << 20;

export interface ZipCheckLimits {
  maxZipSize?: number;
  maxUncompressed?: number;
  maxGoMod?: number;
  maxLicense?: number;
  /**
   * Also refuse what zip.Create would never write (publishing): directory
   * entries, which enter the h1 hash, and files in vendored packages, which
   * CreateFromDir leaves out. Upstream zips are checked as CheckZip does.
   */
  asCreated?: boolean;
}

export interface ZipCheckResult {
  /** dirhash.HashZip: the go.sum `h1:` of the zip. */
  h1: string;
  /** The root go.mod's bytes, or null when the zip has none. Not checked here. */
  goMod: Buffer | null;
  /** Number of file (non-directory) entries. */
  files: number;
  /** Sum of the files' uncompressed sizes. */
  uncompressedSize: number;
  zipSize: number;
}

const fsOpen = promisify(open);
const fsFstat = promisify(fstat);
const fsClose = promisify(close);
const fsRead = promisify(read);

/**
 * Verifies that zipFile is a module zip the go command accepts for
 * path@version and returns its h1. Reads every entry once, streaming; throws
 * GoModError ('invalid-zip' or 'too-large') at the first problem, after
 * closing the file.
 */
export async function checkModuleZip(zipFile: string, path: string, version: string, opts: ZipCheckLimits = {}): Promise<ZipCheckResult> {
  checkModuleVersion(path, version);
  const limits: Required<ZipCheckLimits> = {
    asCreated: opts.asCreated ?? false,
    maxZipSize: opts.maxZipSize ?? MAX_ZIP_FILE,
    maxUncompressed: opts.maxUncompressed ?? MAX_ZIP_FILE,
    maxGoMod: opts.maxGoMod ?? MAX_GO_MOD,
    maxLicense: opts.maxLicense ?? MAX_LICENSE,
  };
  const fd = await fsOpen(zipFile, 'r');
  let zip: yauzl.ZipFile;
  let zipSize: number;
  try {
    // fstat the descriptor we read, so the size checked is the size read.
    zipSize = (await fsFstat(fd)).size;
    if (zipSize > limits.maxZipSize) {
      throw new GoModError('too-large', `module zip file is too large (${zipSize} bytes; limit is ${limits.maxZipSize} bytes)`);
    }
    // decodeStrings: false because Go takes names as raw bytes: no CP437
    // decoding, no Info-ZIP Unicode Path extra field.
    zip = await yauzl.fromFdPromise(fd, { lazyEntries: true, autoClose: true, decodeStrings: false, validateEntrySizes: true });
  } catch (err) {
    // Until fromFd succeeds the descriptor is ours to close.
    await fsClose(fd);
    throw asZipError(err, 'not a valid zip file');
  }
  // Settles once yauzl has closed the descriptor (or failed to), so the caller
  // can delete or move the file as soon as we return.
  const closed = new Promise<void>((resolve) => {
    zip.once('close', resolve);
    zip.on('error', () => resolve());
  });
  try {
    return await new ZipChecker(zip, fd, zipSize, `${path}@${version}/`, limits).run();
  } finally {
    zip.close();
    await closed;
  }
}

// The mode bits of an entry, as archive/zip's FileHeader.Mode reads them.
const creatorUnix = 3;
const creatorMacOSX = 19;
const sIFMT = 0o170000;
const sIFREG = 0o100000;
const sIFDIR = 0o040000;
const msdosDir = 0x10;
const flagEncrypted = 0x1;
const flagDataDescriptor = 0x8;
const dataDescriptorSignature = 0x08074b50;

class ZipChecker {
  private readonly prefix: Buffer;
  private readonly collisions = new CollisionChecker();
  private readonly h1 = new H1Builder();
  private goMod: Buffer | null = null;
  private files = 0;
  private declaredTotal = 0;
  private actualTotal = 0;

  constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly fd: number,
    private readonly zipSize: number,
    private readonly prefixText: string,
    private readonly limits: Required<ZipCheckLimits>,
  ) {
    this.prefix = Buffer.from(prefixText, 'utf8');
  }

  async run(): Promise<ZipCheckResult> {
    for (let e = await this.nextEntry(); e; e = await this.nextEntry()) await this.entry(e);
    return { h1: this.h1.digest(), goMod: this.goMod, files: this.files, uncompressedSize: this.actualTotal, zipSize: this.zipSize };
  }

  private nextEntry(): Promise<yauzl.Entry | null> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
      };
      const onEntry = (e: yauzl.Entry): void => (done(), resolve(e));
      const onEnd = (): void => (done(), resolve(null));
      const onError = (err: unknown): void => (done(), reject(asZipError(err, 'not a valid zip file')));
      this.zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
      this.zip.readEntry();
    });
  }

  private async entry(e: yauzl.Entry): Promise<void> {
    const raw = e.fileNameRaw;
    // CheckZip compares bytes: the prefix is the real path, not case-encoded.
    if (raw.length < this.prefix.length || !raw.subarray(0, this.prefix.length).equals(this.prefix)) {
      throw invalid(`zip entry ${quote(raw.toString('utf8'))} is outside the module prefix ${quote(this.prefixText)}`);
    }
    const full = decodeUtf8(raw);
    if (full === null) throw invalid(`zip entry ${quote(raw.subarray(this.prefix.length).toString('utf8'))}: invalid UTF-8`);
    const rest = full.slice(this.prefixText.length);
    const isDir = full.endsWith('/');
    // The entry named exactly "<prefix>" is skipped by CheckZip but, ending in
    // "/", still hashed (as empty) by HashZip.
    if (rest !== '') this.checkName(rest, isDir);
    if (isDir && this.limits.asCreated) throw invalid(`zip entry ${quote(rest || full)}: directory entries are not allowed (zip.Create writes files only; they would change the h1: hash)`);
    if (!isDir && this.limits.asCreated && isVendoredPackage(rest)) {
      throw invalid(`zip entry ${quote(rest)}: file is in a vendor directory, which the go command leaves out of module zips (only vendor/modules.txt and files directly in vendor/ may be included)`);
    }
    if (isDir) return this.directory(e, full, rest || full);
    this.checkRegular(e, rest);
    this.checkSizes(e, rest);
    const { sha256hex, content } = await this.readContent(e, rest, rest === 'go.mod');
    this.h1.add(full, sha256hex);
    this.files++;
    if (content) this.goMod = content;
  }

  /** CheckZip's name rules for the part after the prefix. */
  private checkName(rest: string, isDir: boolean): void {
    const name = isDir ? rest.slice(0, -1) : rest;
    if (!isCleanPath(name)) throw invalid(`zip entry ${quote(rest)}: file path is not clean`);
    try {
      checkFilePath(name);
    } catch (err) {
      // Its message already names the path: 'malformed file path "a/../b": ...'.
      throw invalid(messageOf(err));
    }
    const collision = this.collisions.check(name, isDir);
    if (collision) throw invalid(`zip entry ${quote(rest)}: ${collision}`);
    const base = name.slice(name.lastIndexOf('/') + 1);
    if (!isDir && foldPath(base) === foldPath('go.mod')) {
      // A go.mod below the root would be a nested module: CheckZip refuses
      // it (CreateFromDir would have left that directory out).
      if (base !== name) throw invalid(`zip entry ${quote(rest)}: go.mod file not in module root directory`);
      if (name !== 'go.mod') throw invalid(`zip entry ${quote(rest)}: go.mod files must have lowercase names`);
    }
  }

  /**
   * Directory entries are tolerated and hashed as empty files. Go's
   * archive/zip (1.20+) never reads their data and refuses to open one that
   * declares content, so HashZip would fail: refuse those too.
   */
  private directory(e: yauzl.Entry, full: string, shown: string): void {
    const type = unixType(e);
    if (type !== null && type !== 0 && type !== sIFDIR) throw invalid(`zip entry ${quote(shown)}: not a directory`);
    if (e.uncompressedSize !== 0) throw invalid(`zip entry ${quote(shown)}: directory entry has ${e.uncompressedSize} bytes of content`);
    this.h1.add(full, emptySha256);
  }

  /**
   * x/mod's package rules forbid symlinks and irregular files; CheckZip and
   * Unzip never look at the mode (Unzip would write a symlink's target as a
   * regular file). We refuse them, reading the mode as archive/zip does.
   */
  private checkRegular(e: yauzl.Entry, rest: string): void {
    const type = unixType(e);
    if (type === 0o120000) throw invalid(`zip entry ${quote(rest)}: symbolic links are not allowed`);
    if (type !== null && type !== 0 && type !== sIFREG) throw invalid(`zip entry ${quote(rest)}: not a regular file`);
    if (type === null && isMsdosCreator(e) && (e.externalFileAttributes & msdosDir) !== 0) {
      throw invalid(`zip entry ${quote(rest)}: marked as a directory but has no trailing slash`);
    }
    if ((e.generalPurposeBitFlag & flagEncrypted) !== 0) throw invalid(`zip entry ${quote(rest)}: encrypted entries are not supported`);
    if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
      throw invalid(`zip entry ${quote(rest)}: unsupported compression method ${e.compressionMethod}`);
    }
  }

  /** CheckZip's limits, on declared sizes, before any byte is inflated. */
  private checkSizes(e: yauzl.Entry, rest: string): void {
    const size = e.uncompressedSize;
    if (size > this.limits.maxUncompressed - this.declaredTotal) {
      throw new GoModError('too-large', `total uncompressed size of module contents too large (max size is ${this.limits.maxUncompressed} bytes)`);
    }
    this.declaredTotal += size;
    if (rest === 'go.mod' && size > this.limits.maxGoMod) {
      throw new GoModError('too-large', `go.mod file too large (${size} bytes; max size is ${this.limits.maxGoMod} bytes)`);
    }
    if (rest === 'LICENSE' && size > this.limits.maxLicense) {
      throw new GoModError('too-large', `LICENSE file too large (${size} bytes; max size is ${this.limits.maxLicense} bytes)`);
    }
  }

  /**
   * Inflates one entry, checking what archive/zip's checksumReader checks:
   * never more bytes than declared (stop at the first excess byte), exactly
   * as many at the end, and the CRC-32.
   */
  private async readContent(e: yauzl.Entry, rest: string, keep: boolean): Promise<{ sha256hex: string; content: Buffer | null }> {
    const declared = e.uncompressedSize;
    const sha = createHash('sha256');
    const kept: Buffer[] = [];
    let crc = 0;
    let n = 0;
    try {
      const stream = await this.zip.openReadStreamPromise(e);
      // Leaving the loop early (throw) destroys the stream, which stops the
      // read and releases yauzl's reference on the file.
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        n += chunk.length;
        if (n > declared) throw tooMany(rest, declared);
        // Implied by the line above and checkSizes; kept so a bug there cannot
        // let a bomb through.
        if (this.actualTotal + n > this.limits.maxUncompressed) throw new GoModError('too-large', `module contents exceed ${this.limits.maxUncompressed} bytes`);
        sha.update(chunk);
        crc = crc32(chunk, crc);
        if (keep) kept.push(chunk);
      }
    } catch (err) {
      if (err instanceof GoModError || isSystemError(err)) throw err;
      const msg = messageOf(err);
      // yauzl's validateEntrySizes may notice first; say it our way.
      if (msg.startsWith('too many bytes')) throw tooMany(rest, declared);
      const short = /^not enough bytes in the stream\. expected \d+\. got only (\d+)$/.exec(msg);
      if (short) throw tooFew(rest, declared, Number(short[1]));
      throw invalid(`zip entry ${quote(rest)}: ${msg}`);
    }
    if (n !== declared) throw tooFew(rest, declared, n);
    crc >>>= 0;
    if ((e.generalPurposeBitFlag & flagDataDescriptor) !== 0) {
      // archive/zip then always checks: descriptor CRC == directory CRC == data CRC.
      const descriptorCrc = await this.dataDescriptorCrc(e, rest);
      if (descriptorCrc !== e.crc32) throw invalid(`zip entry ${quote(rest)}: data descriptor CRC-32 does not match the central directory`);
      if (crc !== e.crc32) throw invalid(`zip entry ${quote(rest)}: CRC-32 mismatch`);
    } else if (e.crc32 !== 0 && crc !== e.crc32) {
      // Without a descriptor archive/zip skips the check when the CRC is 0
      // ("not set"); so do we, or we would refuse zips Go accepts.
      throw invalid(`zip entry ${quote(rest)}: CRC-32 mismatch`);
    }
    this.actualTotal += n;
    return { sha256hex: sha.digest('hex'), content: keep ? Buffer.concat(kept) : null };
  }

  /** archive/zip's readDataDescriptor: the CRC after the data, with or without its signature. */
  private async dataDescriptorCrc(e: yauzl.Entry, rest: string): Promise<number> {
    const { fileDataStart } = await this.zip.readLocalFileHeaderPromise(e, { minimal: true });
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fsRead(this.fd, buf, 0, 16, fileDataStart + e.compressedSize);
    const off = bytesRead >= 4 && buf.readUInt32LE(0) === dataDescriptorSignature ? 4 : 0;
    if (bytesRead < off + 12) throw invalid(`zip entry ${quote(rest)}: data descriptor is missing`);
    return buf.readUInt32LE(off);
  }
}

/**
 * zip's collisionChecker: no two paths equal under case folding, no path
 * both a file and a directory, no file listed twice. Parents count as
 * directories. Returns the problem, or null.
 */
export class CollisionChecker {
  private readonly seen = new Map<string, { path: string; isDir: boolean }>();

  check(p: string, isDir: boolean): string | null {
    for (;;) {
      const fold = foldPath(p);
      const other = this.seen.get(fold);
      if (other) {
        if (p !== other.path) return `case-insensitive file name collision: ${quote(other.path)} and ${quote(p)}`;
        if (isDir !== other.isDir) return `entry ${quote(p)} is both a file and a directory`;
        if (!isDir) return `multiple entries for file ${quote(p)}`;
      } else {
        this.seen.set(fold, { path: p, isDir });
      }
      const slash = p.lastIndexOf('/');
      if (slash < 0) return null;
      p = p.slice(0, slash);
      isDir = true;
    }
  }
}

/**
 * zip's isVendoredPackage, with its bug kept (golang.org/issue/31562): for
 * "x/vendor/..." it looks for a slash from offset 8 of the whole name, not
 * after "/vendor/". Fixing it would change existing modules' checksums.
 */
export function isVendoredPackage(name: string): boolean {
  let i: number;
  if (name.startsWith('vendor/')) i = 'vendor/'.length;
  else if (name.includes('/vendor/')) i = '/vendor/'.length;
  else return false;
  return name.slice(i).includes('/');
}

/** Whether Go's path.Clean(p) === p. */
export function isCleanPath(p: string): boolean {
  if (p === '' || (p.endsWith('/') && p !== '/')) return false;
  if (p === '/' || p === '.') return true;
  const abs = p.startsWith('/');
  const elems = (abs ? p.slice(1) : p).split('/');
  let leadingDotDot = !abs;
  for (const el of elems) {
    if (el === '' || el === '.') return false;
    if (el === '..') {
      // Clean keeps ".." only at the start of a relative path.
      if (!leadingDotDot) return false;
    } else {
      leadingDotDot = false;
    }
  }
  return true;
}

const emptySha256 = createHash('sha256').digest('hex');
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(b: Buffer): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

function isMsdosCreator(e: yauzl.Entry): boolean {
  const creator = e.versionMadeBy >> 8;
  return creator === 0 || creator === 11 || creator === 14;
}

/** The Unix file type bits, or null when the creator is not Unix-like. */
function unixType(e: yauzl.Entry): number | null {
  const creator = e.versionMadeBy >> 8;
  if (creator !== creatorUnix && creator !== creatorMacOSX) return null;
  return (e.externalFileAttributes >>> 16) & sIFMT;
}

function invalid(message: string): GoModError {
  return new GoModError('invalid-zip', message);
}

function tooMany(rest: string, declared: number): GoModError {
  return invalid(`zip entry ${quote(rest)}: declared size ${declared} but inflates to more`);
}

function tooFew(rest: string, declared: number, n: number): GoModError {
  return invalid(`zip entry ${quote(rest)}: declared size ${declared} but inflates to only ${n} bytes`);
}

function asZipError(err: unknown, context: string): unknown {
  if (err instanceof GoModError) return err;
  // yauzl reports format problems as plain Errors without a code; system
  // errors (EIO, EMFILE...) stay as they are: they are not the zip's fault.
  if (!isSystemError(err)) return invalid(`${context}: ${messageOf(err)}`);
  return err;
}

// Duck-typed: errors made by Node internals (zlib, fs) may come from another
// realm (as under jest), where instanceof Error fails.
function messageOf(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}

function isSystemError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** A name for a one-line message: Go-like quoting, cut when very long. */
function quote(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);
}
