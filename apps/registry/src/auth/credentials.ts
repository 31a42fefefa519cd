import type { FastifyRequest } from 'fastify';
import { readCookie, SESSION_COOKIE } from '../oidc/cookies';
import { isApiRequest } from './auth-messages';

/**
 * What a request presents in its Authorization header. `.netrc` entries and
 * `https://user:token@host` GOPROXY URLs both arrive as Basic; GOAUTH
 * commands and the API send Bearer.
 */
export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; login: string; password: string }
  | { kind: 'bearer'; value: string }
  | { kind: 'malformed' };

export function parseAuthorization(header: string | string[] | undefined): Credentials {
  if (header === undefined || header === '') return { kind: 'none' };
  if (Array.isArray(header) || header.length > 8192) return { kind: 'malformed' };
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const rest = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'bearer' && rest) return { kind: 'bearer', value: rest };
  if (scheme === 'basic' && rest && /^[A-Za-z0-9+/]+=*$/.test(rest)) {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { kind: 'malformed' };
    // Logins are stored lower case; .netrc may have any case.
    return { kind: 'basic', login: decoded.slice(0, colon).trim().toLowerCase(), password: decoded.slice(colon + 1) };
  }
  return { kind: 'malformed' };
}

/** A JWT has three base64url parts; API tokens start with mg_. */
export function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

/**
 * The header a browser script sends with a state-changing /api request that
 * relies on the session cookie. A cross-site form or image cannot set a
 * custom header, and a cross-origin fetch() that sets one needs a CORS
 * preflight ModGate never approves: so its presence proves a same-origin caller.
 */
export const CSRF_HEADER = 'x-modgate-csrf';

/**
 * The browser session (the `modgate_session` cookie set by the SSO sign-in)
 * as an API credential, or null when it must not count: outside /api
 * (GOPROXY and sumdb routes take Basic/Bearer only), and on anything but
 * GET/HEAD unless the request carries `X-ModGate-CSRF: 1`. The caller uses
 * it only when there is no Authorization header: that header always wins.
 */
export function sessionCookie(req: FastifyRequest): string | null {
  const header = req.headers?.cookie;
  if (!header || !isApiRequest(req)) return null;
  const value = readCookie(header, SESSION_COOKIE);
  if (!value) return null;
  const safe = req.method === 'GET' || req.method === 'HEAD';
  if (!safe && req.headers[CSRF_HEADER] !== '1') return null;
  return value;
}
