/**
 * What ModGate takes from an identity provider's claims (id_token merged with
 * userinfo). Pure functions, so the rules are unit-tested without a provider.
 */
export interface OidcIdentity {
  readonly subject: string;
  /** Raw login candidate; UsersService turns it into a valid, free login. */
  readonly login: string;
  readonly displayName: string | null;
  readonly email: string | null;
  /** null: no groups claim configured (memberships are left alone). */
  readonly groups: string[] | null;
}

export type Claims = Record<string, unknown>;

export function identityFromClaims(claims: Claims, groupsClaim: string | undefined): OidcIdentity {
  const subject = str(claims.sub);
  if (!subject) throw new Error('the identity provider sent no subject (sub claim)');
  const email = str(claims.email);
  // preferred_username, else the local part of the e-mail, else the subject.
  const login = str(claims.preferred_username) ?? (email?.includes('@') ? email.slice(0, email.indexOf('@')) : email) ?? subject;
  const displayName = str(claims.name) ?? ([str(claims.given_name), str(claims.family_name)].filter(Boolean).join(' ') || null);
  return { subject, login, displayName, email, groups: groupsClaim ? groupsFromClaim(claimAt(claims, groupsClaim)) : null };
}

/**
 * The claim by its name, or by a dotted path into nested objects when no
 * claim has that exact name (Keycloak's `realm_access.roles`).
 */
export function claimAt(claims: Claims, name: string): unknown {
  if (name in claims) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in cur)) return undefined;
    cur = (cur as Claims)[part];
  }
  return cur;
}

/**
 * Providers send groups as an array of names, or one name as a string.
 * Anything else (absent, malformed) means no groups: losing OIDC-granted
 * access on a bad claim is the safe way to fail.
 */
export function groupsFromClaim(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return [...new Set(list.filter((g): g is string => typeof g === 'string').map((g) => g.trim()).filter(Boolean))];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}
