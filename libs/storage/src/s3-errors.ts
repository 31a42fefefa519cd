import { BlobNotFound, BlobStoreError } from './blob-store';

// The S3 edge: SDK errors become BlobNotFound or a BlobStoreError with a short
// message built only from the error's name, HTTP status and errno code. The SDK
// message and the error object itself stay out (neither as text nor as cause),
// since request details ride along on them and loggers serialise causes.

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function shape(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
}

export function httpStatus(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

export function errorName(err: unknown): string {
  return shape(err).name ?? 'Error';
}

/** A missing object. HEAD answers carry no body, so there the SDK only knows "NotFound". */
export function isMissingObject(err: unknown): boolean {
  const name = errorName(err);
  if (name === 'NoSuchBucket') return false; // a misconfiguration, not an absent blob
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatus(err) === 404;
}

/** `AccessDenied (403)`, `ECONNREFUSED`, `TimeoutError`: enough to act on, nothing secret. */
export function describe(err: unknown): string {
  const { name, code } = shape(err);
  const status = httpStatus(err);
  if (status !== undefined) return `${name ?? 'Error'} (${status})`;
  if (code) return code;
  return name ?? 'Error';
}

/** Translates a failed call on one key: not-found → BlobNotFound, anything else → BlobStoreError. */
export function keyFailure(op: string, key: string, err: unknown): Error {
  if (err instanceof BlobNotFound || err instanceof BlobStoreError) return err;
  if (isMissingObject(err)) return new BlobNotFound(key);
  return new BlobStoreError(`s3 store: ${op} ${key}: ${describe(err)}`);
}

/** What check() reports: says what to fix, not just what failed. */
export function bucketFailure(bucket: string, err: unknown): BlobStoreError {
  const status = httpStatus(err);
  const name = errorName(err);
  if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') {
    return new BlobStoreError(`s3 store: bucket "${bucket}" does not exist`);
  }
  if (status === 403) return new BlobStoreError(`s3 store: access to bucket "${bucket}" denied (403); check the credentials`);
  if (status === 301) return new BlobStoreError(`s3 store: bucket "${bucket}" is in another region (301); check the region`);
  return new BlobStoreError(`s3 store: bucket "${bucket}" not usable: ${describe(err)}`);
}
