import pino, { type Logger } from 'pino';

export const LOGGER = Symbol('LOGGER');
export type AppLogger = Logger;

/**
 * Structured JSON logs. Authorization headers and anything that looks like a
 * credential are redacted at the source, so a mistake elsewhere cannot leak one.
 */
export function makeLogger(level: string, destination?: pino.DestinationStream): AppLogger {
  return pino(
    {
      level,
      base: { service: 'modgate', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        // Exact paths only: wildcard paths make every log call walk the
        // object (a third of an access-log line's cost). Code never logs
        // credentials; these catch a mistake at the usual places.
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'password', 'token', 'secret', 'err.config.headers.authorization'],
        censor: '[redacted]',
      },
      serializers: { err: pino.stdSerializers.err },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
