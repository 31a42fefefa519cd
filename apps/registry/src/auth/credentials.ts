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
