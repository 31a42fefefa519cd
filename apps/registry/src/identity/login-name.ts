import { GoproxyError } from '../common/goproxy-error';

/** Mirrors the users_login_shape check in the identity migration. */
export const LOGIN_SHAPE = /^[a-z0-9][a-z0-9._@-]{0,127}$/;

/** Logins are case-insensitive everywhere (.netrc, API): stored lower case. */
export function normaliseLogin(login: string): string {
  return login.trim().toLowerCase();
}

/** For logins a person typed: say what is wrong instead of guessing. */
export function requireLoginShape(login: string): string {
  const l = normaliseLogin(login);
  if (!LOGIN_SHAPE.test(l)) {
    throw new GoproxyError('bad-request', `login "${l.slice(0, 130)}" is not valid: use 1-128 of a-z 0-9 . _ @ - starting with a letter or digit`);
  }
  return l;
}

/**
 * A login from an identity provider (preferred_username, email, name) turned
 * into one the schema accepts; the room left at the end takes a "-N" suffix
 * when another subject holds the name already.
 */
export function loginFromOidc(raw: string): string {
  const cleaned = raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents: "josé" → "jose"
    .toLowerCase()
    .replace(/[^a-z0-9._@-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 120);
  return cleaned || 'user';
}

/** The n-th candidate for a taken login: alice, alice-2, alice-3, … */
export function loginCandidate(base: string, n: number): string {
  return n <= 1 ? base : `${base.slice(0, 120)}-${n}`;
}
