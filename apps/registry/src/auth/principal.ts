/**
 * Who is asking. Built once per request by the authentication service from
 * a token, a JWT session or nothing (anonymous); everything that decides
 * access reads only this.
 */
export type GlobalRole = 'admin' | 'auditor' | 'user';
export type TeamRole = 'maintainer' | 'publisher' | 'reader';
export type Permission = 'read' | 'publish' | 'admin';
export type Scope = 'read' | 'publish' | 'admin' | 'audit';
export const SCOPES: readonly Scope[] = ['read', 'publish', 'admin', 'audit'];

export interface Principal {
  readonly kind: 'user' | 'service' | 'anonymous';
  readonly userId: string | null;
  /** Shown in messages and logs; never a secret. */
  readonly login: string;
  readonly role: GlobalRole | null;
  /** Team id → role in that team. */
  readonly teams: ReadonlyMap<string, TeamRole>;
  /** Team id → name, for messages. */
  readonly teamNames: ReadonlyMap<string, string>;
  /** How the request authenticated. */
  readonly via: 'token' | 'jwt' | 'anonymous';
  readonly tokenId: string | null;
  /** What the credential may do at most (JWT sessions: every scope). */
  readonly scopes: ReadonlySet<Scope>;
  /** A token restricted to some teams: only their rules grant access. */
  readonly teamRestriction: ReadonlySet<string> | null;
}

export const ANONYMOUS: Principal = Object.freeze({
  kind: 'anonymous',
  userId: null,
  login: 'anonymous',
  role: null,
  teams: new Map(),
  teamNames: new Map(),
  via: 'anonymous',
  tokenId: null,
  scopes: new Set<Scope>(['read']),
  teamRestriction: null,
});

/** Team roles grant permissions cumulatively. */
export const TEAM_ROLE_GRANTS: Record<TeamRole, readonly Permission[]> = {
  reader: ['read'],
  publisher: ['read', 'publish'],
  maintainer: ['read', 'publish', 'admin'],
};

export const PERMISSION_RANK: Record<Permission, number> = { read: 1, publish: 2, admin: 3 };
