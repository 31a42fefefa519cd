import { HttpException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GoModError } from '@modgate/gomod';
import type { AppLogger } from '../logging/logger';
import { GoproxyError, oneLine } from './goproxy-error';
import { unavailableError } from './unavailable';

/**
 * Writes any error as ModGate answers errors: GOPROXY routes get one
 * text/plain line (the go command prints it after "server response:"), /api
 * routes JSON with a stable code. Used by the Nest filter and by the
 * Fastify-native GOPROXY route alike.
 */
export function writeErrorReply(exception: unknown, req: FastifyRequest, reply: FastifyReply, log: AppLogger): void {
  const err = toGoproxyError(exception, req, log);
  if (reply.sent || reply.raw.headersSent) {
    // The body was already streaming: all we can do is cut the connection
    // so the client sees a failure instead of a short, "complete" file.
    reply.raw.destroy();
    return;
  }
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  reply.header('cache-control', 'no-store');
  if (req.url.startsWith('/api/')) {
    void reply.status(err.status).type('application/json').send({ code: err.kind, message: oneLine(err.message) });
  } else {
    const body = req.method === 'HEAD' ? '' : `${oneLine(err.message)}\n`;
    void reply.status(err.status).type('text/plain; charset=utf-8').send(body);
  }
}

function toGoproxyError(exception: unknown, req: FastifyRequest, log: AppLogger): GoproxyError {
  if (exception instanceof GoproxyError) {
    if (exception.status >= 500) log.warn({ reqId: req.id, kind: exception.kind, err: exception.message }, 'request failed');
    return exception;
  }
  if (exception instanceof GoModError) return new GoproxyError('not-found', exception.message);
  const away = unavailableError(exception);
  if (away) {
    log.warn({ reqId: req.id, err: (exception as Error).message }, 'dependency unavailable');
    return away;
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return new GoproxyError('not-found', 'not found');
    if (status === 405) return new GoproxyError('bad-request', 'method not allowed');
    if (status < 500) return new GoproxyError('bad-request', exception.message);
  }
  log.error({ reqId: req.id, err: exception }, 'unexpected error');
  return new GoproxyError('internal', `internal error (request id ${req.id}); the registry log has the details`);
}
