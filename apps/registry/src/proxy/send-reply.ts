import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GoproxyError } from '../common/goproxy-error';
import type { ProxyReply } from './proxy-reply';
import type { ProxyMetrics } from './proxy.metrics';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const MOVING = 'public, max-age=60';

/**
 * HTTP details of a GOPROXY answer: Content-Length, strong ETag with
 * If-None-Match → 304, immutable caching, HEAD without a body, and single
 * byte ranges on .zip (newer go commands resume a broken download).
 */
export async function sendProxyReply(req: FastifyRequest, reply: FastifyReply, a: ProxyReply, metrics: ProxyMetrics): Promise<void> {
  reply.header('content-type', a.contentType);
  reply.header('cache-control', a.immutable ? IMMUTABLE : MOVING);
  if (a.etag) {
    reply.header('etag', a.etag);
    if (etagMatches(req.headers['if-none-match'], a.etag)) {
      await reply.status(304).send();
      return;
    }
  }
  if (a.kind === 'zip') reply.header('accept-ranges', 'bytes');
  const range = a.kind === 'zip' ? parseRange(req, a) : null;
  const length = range ? range.end - range.start + 1 : a.size;
  reply.header('content-length', String(length));
  if (range) {
    reply.status(206);
    reply.header('content-range', `bytes ${range.start}-${range.end}/${a.size}`);
  }
  if (req.method === 'HEAD') {
    // An empty stream: Fastify would reset Content-Length to 0 for an empty body.
    await reply.send(Readable.from([]));
    return;
  }
  metrics.served(a.kind, length);
  if (typeof a.body === 'function') {
    const stream = await a.body(range ?? undefined);
    // Stop reading the blob when the client leaves.
    reply.raw.once('close', () => stream.destroy());
    await reply.send(stream);
  } else {
    await reply.send(a.body);
  }
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** One `bytes=a-b` range; `If-Range` must match the ETag; anything else serves the whole body. */
function parseRange(req: FastifyRequest, a: ProxyReply): { start: number; end: number } | null {
  const h = req.headers.range;
  if (!h) return null;
  const ifRange = req.headers['if-range'];
  if (ifRange && ifRange !== a.etag) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, a.size - Number(m[2]));
    end = a.size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? a.size - 1 : Math.min(Number(m[2]), a.size - 1);
  }
  if (start > end || start >= a.size) {
    throw new GoproxyError('range-not-satisfiable', `range not satisfiable: the zip has ${a.size} bytes`, { 'content-range': `bytes */${a.size}` });
  }
  return { start, end };
}
