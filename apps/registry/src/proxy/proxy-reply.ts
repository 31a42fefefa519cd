import type { Readable } from 'node:stream';

/** What a GOPROXY route answers, before HTTP details (ranges, 304) are applied. */
export interface ProxyReply {
  readonly contentType: string;
  /** A string/Buffer for small answers, or a function that opens the stream (so HEAD and 304 never open it). */
  readonly body: string | Buffer | ((range?: { start: number; end: number }) => Promise<Readable>);
  readonly size: number;
  /** Strong ETag (quoted) for immutable answers. */
  readonly etag?: string;
  readonly immutable: boolean;
  readonly kind: 'info' | 'mod' | 'zip' | 'list' | 'latest';
}

export const TEXT = 'text/plain; charset=utf-8';
export const JSON_TYPE = 'application/json; charset=utf-8';
