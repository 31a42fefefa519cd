import { BlobNotFound } from '@modgate/storage';
import { GoproxyError } from './goproxy-error';

const PG_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const PG_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|the database system is (starting up|shutting down)|Client has encountered a connection error|Connection is not established/i;

/**
 * A dependency that is away (PostgreSQL, the blob store) as the answer the
 * client can act on: 503 with Retry-After and which one, instead of a 500.
 * Null when the error is something else.
 */
export function unavailableError(err: unknown): GoproxyError | null {
  if (err instanceof GoproxyError || err instanceof BlobNotFound) return null;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; driverError?: { code?: unknown; message?: unknown } } | null;
  if (!e || typeof e !== 'object') return null;
  const code = String(e.code ?? e.driverError?.code ?? '');
  const message = String(e.message ?? '');
  const storage = String(e.name ?? '').startsWith('BlobStore') || /blob|bucket|S3/i.test(message);
  if (storage && (NET_CODES.has(code) || /unreachable|timed out|ECONNREFUSED|5\d\d|EIO|EACCES/.test(message))) {
    return new GoproxyError('unavailable', 'unavailable: the blob store cannot be reached; retry shortly', { 'retry-after': '10' });
  }
  if (PG_UNAVAILABLE_CODES.has(code) || NET_CODES.has(code) || PG_MESSAGES.test(message)) {
    return new GoproxyError('unavailable', 'unavailable: the registry database cannot be reached; cached modules are still served, retry this one shortly', { 'retry-after': '10' });
  }
  return null;
}
