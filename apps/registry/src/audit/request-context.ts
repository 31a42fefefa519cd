import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyRequest } from 'fastify';

/** Where a request came from, for audit rows written deep inside services. */
export interface RequestOrigin {
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

const storage = new AsyncLocalStorage<RequestOrigin>();
const NONE: RequestOrigin = Object.freeze({ sourceIp: null, userAgent: null, requestId: null });

/** The request's address (MODGATE_TRUST_PROXY applied by Fastify), user agent and id. */
export function originOf(req: FastifyRequest): RequestOrigin {
  return { sourceIp: req.ip ?? null, userAgent: clean(req.headers['user-agent']), requestId: String(req.id) };
}

/**
 * Runs the rest of a request inside its origin, so services (admin changes,
 * token events) can record it without a request parameter. Entered only for
 * /api and /auth requests: the GOPROXY hot path passes the request itself.
 */
export function runInOrigin(req: FastifyRequest, next: () => void): void {
  storage.run(originOf(req), next);
}

export function currentOrigin(): RequestOrigin {
  return storage.getStore() ?? NONE;
}

/** Printable and bounded: user agents are attacker-controlled. */
function clean(ua: string | undefined): string | null {
  if (!ua) return null;
  const s = ua.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return s.length > 300 ? s.slice(0, 300) : s;
}
