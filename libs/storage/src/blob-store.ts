// The storage seam: services talk to BlobStore and these errors only; each
// adapter translates its own failures (fs errno, S3 SDK errors) at its edge.

export interface BlobStat {
  size: number;
}

/** Inclusive byte range, like HTTP Range: `{ start: 0, end: 9 }` is the first ten bytes. */
export interface BlobRange {
  start: number;
  end: number;
}

export interface BlobStore {
  readonly kind: 'fs' | 's3';
  /**
   * Atomically stores the whole body under key; a failed or aborted put leaves
   * nothing visible under key (an earlier blob under the same key stays intact).
   * When `opts.size` is given, a body of any other length is refused.
   * If the body stream errors, put rejects with that same error.
   * Returns the byte count.
   */
  put(key: string, body: NodeJS.ReadableStream | Buffer, opts?: { size?: number; contentType?: string }): Promise<BlobStat>;
  /**
   * Streams the blob, or the part of it a range names. `size` is always the
   * whole blob's size (what Content-Range needs); a range's end past the last
   * byte is clamped, as HTTP does. Throws BlobNotFound, or
   * BlobRangeNotSatisfiable when the range starts at or past the end.
   */
  open(key: string, range?: BlobRange): Promise<{ body: NodeJS.ReadableStream; size: number }>;
  /** Whole small object into memory (go.mod, .info, sumdb tiles). Throws BlobNotFound. */
  read(key: string): Promise<Buffer>;
  stat(key: string): Promise<BlobStat | null>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
  /** Keys under a prefix, a plain string prefix as in S3 (for tests, purge, admin). Order is unspecified. */
  list(prefix: string): AsyncIterable<string>;
  /** Readiness: throws a short error when the store is not usable. */
  check(): Promise<void>;
  /**
   * Removes what puts interrupted by a crash left behind, if started before
   * `olderThan` (fs: temp files; S3: incomplete multipart uploads). Returns
   * a description of each thing removed.
   */
  sweepIncomplete(olderThan: Date): Promise<string[]>;
  /** Keys under a prefix last written before `before` (the sweep of unreferenced blobs). */
  listOlderThan(prefix: string, before: Date): AsyncIterable<string>;
}

export class BlobNotFound extends Error {
  override readonly name = 'BlobNotFound';
  constructor(readonly key: string) {
    super(`blob not found: ${key}`);
  }
}

/** Adapter failures, translated at the edge; the message never holds credentials or signed URLs. */
export class BlobStoreError extends Error {
  override readonly name: string = 'BlobStoreError';
}

/** The range starts at or past the end of the blob, or is malformed; maps to HTTP 416. */
export class BlobRangeNotSatisfiable extends BlobStoreError {
  override readonly name = 'BlobRangeNotSatisfiable';
  constructor(
    readonly key: string,
    readonly range: BlobRange,
  ) {
    super(`range ${range.start}-${range.end} not satisfiable for ${key}`);
  }
}

/** Refuses ranges no blob could satisfy, before any I/O, so both stores agree on them. */
export function checkRange(key: string, range: BlobRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new BlobRangeNotSatisfiable(key, range);
  }
}

/**
 * Enforces the size a put announced: call as bytes arrive (done=false) to stop
 * an oversized body early, and once at the end (done=true) to catch a short one.
 */
export function checkSize(key: string, got: number, expected: number | undefined, done: boolean): void {
  if (expected !== undefined && (got > expected || (done && got !== expected))) {
    throw new BlobStoreError(`put ${key}: body has ${done ? got : `more than ${expected}`} bytes, expected ${expected}`);
  }
}
