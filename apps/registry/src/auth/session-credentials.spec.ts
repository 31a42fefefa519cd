// When the browser session cookie counts as an API credential, and how a
// session JWT's claims narrow a principal.
import type { FastifyRequest } from 'fastify';
import { sessionCookie } from './credentials';
import { ANONYMOUS, SCOPES, type Principal, type Scope, type TeamRole } from './principal';
import { narrowPrincipal } from './user-principals';

const JWT = 'eyJh.eyJz.sig';
const req = (method: string, url: string, headers: Record<string, string> = {}) => ({ method, url, headers }) as unknown as FastifyRequest;

describe('sessionCookie', () => {
  const cookie = { cookie: `a=1; modgate_session=${JWT}; b=2` };
  it.each([
    ['GET', '/api/v1/teams', cookie, JWT],
    ['HEAD', '/api/v1/teams', cookie, JWT],
    ['POST', '/api/v1/teams', cookie, null],
    ['DELETE', '/api/v1/teams/x', cookie, null],
    ['POST', '/api/v1/teams', { ...cookie, 'x-modgate-csrf': '0' }, null],
    ['POST', '/api/v1/teams', { ...cookie, 'x-modgate-csrf': '1' }, JWT],
    ['PATCH', '/api?x=1', { ...cookie, 'x-modgate-csrf': '1' }, JWT],
    // GOPROXY, sumdb and page routes never take it.
    ['GET', '/corp.example.com/x/@v/list', cookie, null],
    ['GET', '/sumdb/sum.golang.org/lookup/x@v1.0.0', cookie, null],
    ['GET', '/apidocs', cookie, null],
    ['GET', '/api/v1/teams', { cookie: 'modgate_oidc_state=abc' }, null],
    ['GET', '/api/v1/teams', { cookie: 'modgate_session=' }, null],
    ['GET', '/api/v1/teams', {}, null],
  ])('%s %s %j → %s', (method, url, headers, expected) => {
    expect(sessionCookie(req(method, url, headers))).toBe(expected);
  });
});

describe('narrowPrincipal', () => {
  const base: Principal = Object.freeze({
    ...ANONYMOUS,
    kind: 'user',
    userId: 'u1',
    login: 'alice',
    role: 'admin',
    via: 'token',
    tokenId: 't1',
    teams: new Map<string, TeamRole>([
      ['a', 'maintainer'],
      ['b', 'reader'],
    ]),
    scopes: new Set<Scope>(['read', 'publish']),
    teamRestriction: new Set(['a', 'b']),
  });

  it('keeps only what both allow, and is a session', () => {
    const p = narrowPrincipal(base, { tokenId: 't1', scopes: ['read', 'admin'], teamIds: ['b', 'c'] });
    expect(p).toMatchObject({ via: 'jwt', tokenId: 't1', login: 'alice', role: 'admin' });
    expect([...p.scopes]).toEqual(['read']);
    expect([...p.teamRestriction!]).toEqual(['b']);
    expect(Object.isFrozen(p)).toBe(true);
  });

  it('restricts an unrestricted session to the claimed teams; null claims change nothing', () => {
    const session = { ...base, via: 'jwt' as const, tokenId: null, scopes: new Set(SCOPES), teamRestriction: null };
    const p = narrowPrincipal(session, { tokenId: null, scopes: null, teamIds: ['a'] });
    expect([...p.scopes]).toEqual([...SCOPES]);
    expect([...p.teamRestriction!]).toEqual(['a']);
    expect(narrowPrincipal(session, { tokenId: null, scopes: null, teamIds: null }).teamRestriction).toBeNull();
  });

  it('turns disjoint team lists into an empty restriction, never into none', () => {
    expect([...narrowPrincipal(base, { tokenId: 't1', scopes: null, teamIds: ['z'] }).teamRestriction!]).toEqual([]);
  });
});
