import { BlobStoreError } from './blob-store';
import type { BlobStore } from './blob-store';
import { FsBlobStore } from './fs-blob-store';
import { DEFAULT_PART_SIZE, S3BlobStore, createS3Client } from './s3-blob-store';
import type { S3Options } from './s3-blob-store';

// S3's bucket naming rules, loosely: enough to catch a typo or a stray path.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The one place that picks a concrete store, from a spec such as
 * `fs:/var/lib/modgate/blobs` or `s3://modgate-blobs/prod`. Throws a
 * BlobStoreError naming the rule a bad spec breaks (never an option's value).
 */
export function createBlobStore(spec: string, s3: S3Options = {}): BlobStore {
  if (spec.startsWith('fs:')) {
    const dir = spec.slice('fs:'.length);
    if (!dir) throw new BlobStoreError('storage spec: expected fs:<dir> with a directory');
    return new FsBlobStore(dir);
  }
  if (spec.startsWith('s3://')) {
    const rest = spec.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (!BUCKET.test(bucket)) throw new BlobStoreError('storage spec: expected s3://<bucket>[/<prefix>] with a valid bucket name');
    return new S3BlobStore(createS3Client(s3), bucket, prefix, s3.partSizeBytes ?? DEFAULT_PART_SIZE);
  }
  throw new BlobStoreError('storage spec: expected fs:<dir> or s3://<bucket>[/<prefix>]');
}
