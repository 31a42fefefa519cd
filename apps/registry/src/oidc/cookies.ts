/**
 * The two cookies of the browser flow, written and read by hand: ModGate has
 * no cookie plugin, and these need nothing beyond RFC 6265's basics.
 */
export const STATE_COOKIE = 'modgate_oidc_state';
export const SESSION_COOKIE = 'modgate_session';

export interface CookieOptions {
  readonly path: string;
  readonly maxAgeSeconds: number;
  readonly secure: boolean;
}

/** Always HttpOnly (no script needs them) and SameSite=Lax (sent on the IdP's redirect back, not on cross-site posts). */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  return [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Lax', ...(o.secure ? ['Secure'] : [])].join('; ');
}

export function clearCookie(name: string, path: string, secure: boolean): string {
  return serializeCookie(name, '', { path, maxAgeSeconds: 0, secure });
}

/** The value of one cookie from a Cookie header (the first, if repeated). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
