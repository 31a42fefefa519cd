import { claimAt, groupsFromClaim, identityFromClaims } from './oidc-claims';

describe('identityFromClaims', () => {
  it.each([
    ['preferred_username first', { sub: 's1', preferred_username: 'Alice', email: 'a.x@corp.example' }, 'Alice'],
    ['else the e-mail local part', { sub: 's1', email: 'carol.smith@corp.example' }, 'carol.smith'],
    ['else the subject', { sub: '248289761001' }, '248289761001'],
    ['blank values do not count', { sub: 's1', preferred_username: '  ', email: 'd@x' }, 'd'],
  ])('login: %s', (_name, claims, login) => {
    expect(identityFromClaims(claims, undefined).login).toBe(login);
  });

  it('takes name, else given and family name', () => {
    expect(identityFromClaims({ sub: 's', name: 'Alice Example' }, undefined).displayName).toBe('Alice Example');
    expect(identityFromClaims({ sub: 's', given_name: 'Bob', family_name: 'B' }, undefined).displayName).toBe('Bob B');
    expect(identityFromClaims({ sub: 's' }, undefined).displayName).toBeNull();
  });

  it('reads groups only when a groups claim is configured', () => {
    expect(identityFromClaims({ sub: 's', groups: ['a'] }, undefined).groups).toBeNull();
    expect(identityFromClaims({ sub: 's', groups: ['a'] }, 'groups').groups).toEqual(['a']);
    expect(identityFromClaims({ sub: 's' }, 'groups').groups).toEqual([]);
  });

  it('refuses claims without a subject', () => {
    expect(() => identityFromClaims({ preferred_username: 'x' }, undefined)).toThrow(/sub/);
  });
});

describe('groupsFromClaim', () => {
  it.each([
    ['an array', ['payments', 'platform'], ['payments', 'platform']],
    ['one string', 'web', ['web']],
    ['duplicates, blanks and non-strings dropped', ['a', ' a ', '', 3, null, 'b'], ['a', 'b']],
    ['absent', undefined, []],
    ['an object', { a: 1 }, []],
  ])('%s', (_name, value, want) => {
    expect(groupsFromClaim(value)).toEqual(want);
  });
});

describe('claimAt', () => {
  it('prefers an exact claim name, then a dotted path', () => {
    expect(claimAt({ 'realm_access.roles': ['x'], realm_access: { roles: ['y'] } }, 'realm_access.roles')).toEqual(['x']);
    expect(claimAt({ realm_access: { roles: ['y'] } }, 'realm_access.roles')).toEqual(['y']);
    expect(claimAt({ realm_access: null }, 'realm_access.roles')).toBeUndefined();
  });
});
