export { BlobNotFound, BlobRangeNotSatisfiable, BlobStoreError } from './blob-store';
export type { BlobRange, BlobStat, BlobStore } from './blob-store';
export { createBlobStore } from './create-blob-store';
export { FsBlobStore } from './fs-blob-store';
export { S3BlobStore, createS3Client } from './s3-blob-store';
export type { S3Options } from './s3-blob-store';
