import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  ListMultipartUploadsCommand,
  AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** The key areas ModGate writes; the sweep leaves every other upload in the bucket alone. */
const OWN_AREAS = ['modules/', 'sumdb/', 'audit-archive/'];
import { Readable, Transform, pipeline } from 'node:stream';
import { checkPrefix, keySegments } from './blob-key';
import { BlobRangeNotSatisfiable, BlobStoreError, checkRange, checkSize } from './blob-store';
import type { BlobRange, BlobStat, BlobStore } from './blob-store';
import { bucketFailure, describe, errorName, httpStatus, keyFailure } from './s3-errors';

export interface S3Options {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  partSizeBytes?: number;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** S3 refuses multipart parts below 5 MiB (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const CHECK_TIMEOUT_MS = 5000;

export function createS3Client(opts: S3Options): S3Client {
  if (Boolean(opts.accessKeyId) !== Boolean(opts.secretAccessKey)) {
    throw new BlobStoreError('s3 store: give both the access key id and the secret access key, or neither');
  }
  return new S3Client({
    region: opts.region ?? 'us-east-1',
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle ?? false,
    // Without explicit keys the SDK's default chain (instance role, web identity) applies.
    credentials: opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
  });
}

/**
 * Blobs as objects in one bucket, optionally under a key prefix. Only whole
 * bodies ever become visible: small ones are buffered and sent in a single
 * PutObject, larger ones go through a multipart upload that S3 only assembles
 * on completion and that is aborted on any failure.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly base: string;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    prefix = '',
    private readonly partSize = DEFAULT_PART_SIZE,
  ) {
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw new BlobStoreError(`s3 store: part size must be at least ${MIN_PART_SIZE} bytes`);
    }
    const trimmed = prefix.replace(/^\/+|\/+$/g, '');
    if (trimmed) keySegments(trimmed);
    this.base = trimmed ? `${trimmed}/` : '';
  }

  async put(key: string, body: NodeJS.ReadableStream | Buffer, opts: { size?: number; contentType?: string } = {}): Promise<BlobStat> {
    const Key = this.objectKey(key);
    const known = Buffer.isBuffer(body) ? body.length : opts.size;
    if (Buffer.isBuffer(body)) checkSize(key, body.length, opts.size, true);
    if (known !== undefined && known < this.partSize) {
      // Buffered first: a source that fails midway then sends nothing at all. Streamed
      // straight into PutObject, a failing source left the request hanging (seen on s3rver).
      const data = Buffer.isBuffer(body) ? body : await collect(body, key, known);
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.length, ContentType: opts.contentType }));
      } catch (err) {
        throw keyFailure('put', key, err);
      }
      return { size: data.length };
    }
    return this.putMultipart(key, Key, body, opts);
  }

  async open(key: string, range?: BlobRange): Promise<{ body: NodeJS.ReadableStream; size: number }> {
    if (range) checkRange(key, range);
    const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range }));
    } catch (err) {
      if (range && (httpStatus(err) === 416 || errorName(err) === 'InvalidRange')) throw new BlobRangeNotSatisfiable(key, range);
      throw keyFailure('open', key, err);
    }
    const body = res.Body as Readable; // in Node the SDK hands back the IncomingMessage
    if (!range) return { body, size: res.ContentLength ?? 0 };
    try {
      return { body, size: servedRange(key, range, res.ContentRange, res.ContentLength) };
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  async read(key: string): Promise<Buffer> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    } catch (err) {
      throw keyFailure('read', key, err);
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      const translated = keyFailure('stat', key, err);
      if (translated instanceof BlobStoreError) throw translated;
      return null;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      // S3 answers 204 whether or not the object existed, which makes this idempotent.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw keyFailure('delete', key, err);
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    for await (const o of this.objects(prefix)) yield o.key;
  }

  async *listOlderThan(prefix: string, before: Date): AsyncIterable<string> {
    for await (const o of this.objects(prefix)) if (o.modified && o.modified < before) yield o.key;
  }

  /** Every object under a prefix (keys without the store's base), a page at a time. */
  private async *objects(prefix: string): AsyncIterable<{ key: string; modified: Date | undefined }> {
    checkPrefix(prefix);
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base + prefix, ContinuationToken }));
      } catch (err) {
        throw new BlobStoreError(`s3 store: list ${prefix}: ${describe(err)}`);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key?.startsWith(this.base)) yield { key: object.Key.slice(this.base.length), modified: object.LastModified };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async sweepIncomplete(olderThan: Date): Promise<string[]> {
    const removed: string[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.base || undefined, KeyMarker, UploadIdMarker }));
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= olderThan) continue;
          // Only keys this store writes: a bucket may be shared with others' uploads.
          if (!OWN_AREAS.some((area) => u.Key!.startsWith(this.base + area))) continue;
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
          removed.push(`multipart upload of ${u.Key.slice(this.base.length)} (started ${u.Initiated.toISOString()})`);
        }
        if (!page.IsTruncated) return removed;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      throw bucketFailure(this.bucket, err);
    }
  }

  async check(): Promise<void> {
    try {
      // Bounded, so a readiness probe against an unreachable endpoint answers instead of hanging.
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    } catch (err) {
      throw bucketFailure(this.bucket, err);
    }
  }

  private async putMultipart(key: string, Key: string, body: NodeJS.ReadableStream | Buffer, opts: { size?: number; contentType?: string }): Promise<BlobStat> {
    let size = Buffer.isBuffer(body) ? body.length : 0;
    let failure: unknown; // the first cause, so the caller sees it rather than a later abort error
    let Body: Buffer | Readable;
    if (Buffer.isBuffer(body)) {
      Body = body;
    } else {
      body.once('error', (err) => (failure ??= err));
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          done(sizeError(key, size, opts.size, false), chunk);
        },
        flush: (done) => done(sizeError(key, size, opts.size, true)),
      });
      Body = pipeline(body, counter, (err) => (failure ??= err ?? undefined));
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body, ContentType: opts.contentType },
      partSize: this.partSize,
      queueSize: 4,
      leavePartsOnError: false, // abort the multipart upload so no parts linger (and cost) after a failure
    });
    try {
      await upload.done();
      return { size };
    } catch (err) {
      const cause = failure ?? err;
      if (!Buffer.isBuffer(Body)) Body.destroy(); // stop reading the caller's stream (pipeline destroys it too)
      if (cause === failure && !(cause instanceof BlobStoreError)) throw cause; // the source's own error, as is
      throw keyFailure('put', key, cause);
    }
  }

  private objectKey(key: string): string {
    keySegments(key);
    return this.base + key;
  }
}

function sizeError(key: string, got: number, expected: number | undefined, done: boolean): Error | null {
  try {
    checkSize(key, got, expected, done);
    return null;
  } catch (err) {
    return err as Error;
  }
}

/** Reads a small body (announced as `size` bytes) into memory; a source error rejects as is. */
async function collect(body: NodeJS.ReadableStream, key: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    got += buf.length;
    checkSize(key, got, size, false);
    chunks.push(buf);
  }
  checkSize(key, got, size, true);
  return Buffer.concat(chunks, got);
}

/**
 * The blob's total size from a ranged answer. Refuses an answer for other
 * bytes than asked (a server that ignored or misread the Range), which would
 * otherwise reach the client labelled as the range it asked for.
 */
function servedRange(key: string, asked: BlobRange, contentRange: string | undefined, length: number | undefined): number {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange ?? '');
  const total = m ? Number(m[3]) : length;
  if (total === 0 || (total !== undefined && asked.start >= total)) throw new BlobRangeNotSatisfiable(key, asked);
  const end = total === undefined ? asked.end : Math.min(asked.end, total - 1);
  if (!m || Number(m[1]) !== asked.start || Number(m[2]) !== end) {
    throw new BlobStoreError(`s3 store: open ${key}: asked for bytes ${asked.start}-${end}, store answered ${contentRange ?? 'the whole object'}`);
  }
  return Number(m[3]);
}
