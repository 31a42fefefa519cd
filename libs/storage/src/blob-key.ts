import { BlobStoreError } from './blob-store';

// Keys come from callers that build them from escaped module paths, so a bad
// key is a bug upstream. Both stores apply the same rules so a key that works
// in development on fs also works on S3, and the fs store can map a key onto a
// path without it ever leaving the root.

const MAX_KEY_BYTES = 1024; // S3's limit on object key length

/** Splits a valid key into its segments; throws BlobStoreError otherwise. */
export function keySegments(key: string): string[] {
  if (typeof key !== 'string' || key === '') throw badKey(key, 'empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw badKey(key, `longer than ${MAX_KEY_BYTES} bytes`);
  // NUL truncates paths in syscalls; other control characters have no business in a key.
  if (/[\u0000-\u001f\u007f]/.test(key)) throw badKey(key, 'control character');
  if (key.includes('\\')) throw badKey(key, 'backslash');
  const segments = key.split('/');
  for (const s of segments) {
    if (s === '') throw badKey(key, key.startsWith('/') ? 'absolute' : 'empty segment');
    if (s === '.' || s === '..') throw badKey(key, `"${s}" segment`);
  }
  return segments;
}

/** A list prefix is valid when some key could start with it. */
export function checkPrefix(prefix: string): void {
  if (prefix !== '') keySegments(`${prefix}x`);
}

function badKey(key: string, why: string): BlobStoreError {
  // JSON.stringify shows control characters escaped instead of writing them raw into logs.
  return new BlobStoreError(`invalid blob key ${JSON.stringify(String(key)).slice(0, 200)}: ${why}`);
}
