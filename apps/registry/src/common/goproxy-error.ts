/**
 * The error kinds of ModGate. Services throw GoproxyError(kind, message); the
 * one filter (goproxy-error.filter.ts) maps the kind to a status and writes the
 * message as a single text/plain line that the go command prints after
 * "server response:". Messages must say what to do and never hold a secret.
 */
export const ERROR_STATUS = {
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  gone: 410,
  conflict: 409,
  'too-large': 413,
  unprocessable: 422,
  'range-not-satisfiable': 416,
  'too-many-requests': 429,
  internal: 500,
  'bad-upstream': 502,
  unavailable: 503,
  'upstream-timeout': 504,
} as const;

export type ErrorKind = keyof typeof ERROR_STATUS;

export class GoproxyError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GoproxyError';
  }

  get status(): number {
    return ERROR_STATUS[this.kind];
  }
}

/** Makes a message safe for the go command: one printable line, bounded. */
export function oneLine(message: string): string {
  const clean = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > 600 ? `${clean.slice(0, 597)}...` : clean;
}
