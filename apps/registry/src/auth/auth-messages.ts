import type { FastifyRequest } from 'fastify';
import { GoproxyError } from '../common/goproxy-error';

/**
 * The 401 texts. The go command prints them after "server response:", so
 * each says what to put where; none ever holds a token (a prefix at most).
 */
export const BASIC_CHALLENGE = 'Basic realm="modgate"';
export const BEARER_CHALLENGE = 'Bearer realm="modgate"';
export const CREATE_TOKEN_HINT = 'create a token with "modgate login" or POST /api/v1/tokens';

export type CredentialProblem =
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'login-mismatch'
  | 'disabled'
  | 'malformed'
  | 'basic-on-api'
  | 'session-expired'
  | 'session-invalid'
  | 'session-token-revoked'
  | 'cookie-expired'
  | 'cookie-invalid';

/** GOPROXY request without credentials where the access layer wants some. */
export function noCredentialsMessage(host: string): string {
  return `unauthorized: no credentials for ${host}; put "machine ${host} login <you> password <token>" in ~/.netrc (${CREATE_TOKEN_HINT})`;
}

/** The error for the access layer to throw on an anonymous request it refuses. */
export function noCredentials(req: FastifyRequest, publicUrl: string | null = null): GoproxyError {
  if (isApiRequest(req)) {
    return new GoproxyError('unauthorized', `unauthorized: this API needs "Authorization: Bearer <token>"; ${CREATE_TOKEN_HINT}`, { 'www-authenticate': BEARER_CHALLENGE });
  }
  return new GoproxyError('unauthorized', noCredentialsMessage(requestHost(req, publicUrl)), { 'www-authenticate': BASIC_CHALLENGE });
}

/** Why presented credentials failed, worded for the person holding them. */
export function credentialMessage(problem: CredentialProblem, who: { login?: string | null; prefix?: string | null } = {}): string {
  const forLogin = who.login ? ` for ${who.login}` : '';
  const token = who.prefix ? `the token ${who.prefix}` : 'the token';
  switch (problem) {
    case 'revoked':
      return `unauthorized: ${token}${forLogin} is revoked; ${CREATE_TOKEN_HINT} and update ~/.netrc`;
    case 'expired':
      return `unauthorized: ${token}${forLogin} is expired; ${CREATE_TOKEN_HINT} and update ~/.netrc`;
    case 'login-mismatch':
      return `unauthorized: ${token} does not belong to login "${who.login ?? ''}"; in ~/.netrc use the login of the token's owner`;
    case 'disabled':
      return `unauthorized: the account${forLogin} is disabled; ask a ModGate admin`;
    case 'malformed':
      return `unauthorized: the credentials${forLogin} are not a ModGate token (mg_…); ${CREATE_TOKEN_HINT}`;
    case 'basic-on-api':
      return 'unauthorized: the API takes "Authorization: Bearer <token>", not Basic';
    case 'session-expired':
      return 'unauthorized: the session has expired; sign in again ("modgate login")';
    case 'session-invalid':
      return 'unauthorized: the session token is not valid; sign in again ("modgate login")';
    case 'session-token-revoked':
      return `unauthorized: the session was made from ${token}${forLogin}, which is revoked or expired; get a new session from a valid token (POST /api/v1/auth/token)`;
    case 'cookie-expired':
      return 'unauthorized: the browser session has expired; sign in again at /auth/login';
    case 'cookie-invalid':
      return 'unauthorized: the browser session is not valid; sign in again at /auth/login';
    case 'unknown':
    default:
      return `unauthorized: ${token}${forLogin} is unknown, revoked or expired, or the login does not match; ${CREATE_TOKEN_HINT}`;
  }
}

export function unauthorized(message: string, api: boolean): GoproxyError {
  return new GoproxyError('unauthorized', message, { 'www-authenticate': api ? BEARER_CHALLENGE : BASIC_CHALLENGE });
}

/** Admin API requests (JSON errors, Bearer only) versus GOPROXY ones. */
export function isApiRequest(req: FastifyRequest): boolean {
  return /^\/api(?:[/?]|$)/.test(req.url);
}

/** The host people write in .netrc: the public URL's, else the request's Host (sanitised: it is echoed). */
function requestHost(req: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return new URL(publicUrl).hostname;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  return /^[A-Za-z0-9.-]{1,253}$/.test(host) || /^\[[0-9a-fA-F:.]+\]$/.test(host) ? host : 'this registry';
}
