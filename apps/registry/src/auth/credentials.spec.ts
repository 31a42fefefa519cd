// Authorization header parsing and the token format.
import { parseToken, newToken, secretMatches } from '../identity/token-secret';
import { looksLikeJwt, parseAuthorization } from './credentials';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('parseAuthorization', () => {
  it.each([
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    [`Basic ${b64('Alice:mg_x_y')}`, { kind: 'basic', login: 'alice', password: 'mg_x_y' }],
    [`basic ${b64('bob:pa:ss')}`, { kind: 'basic', login: 'bob', password: 'pa:ss' }],
    [`Basic ${b64('nocolon')}`, { kind: 'malformed' }],
    ['Basic !!!', { kind: 'malformed' }],
    ['Bearer mg_abc', { kind: 'bearer', value: 'mg_abc' }],
    ['Bearer', { kind: 'malformed' }],
    ['Negotiate abc', { kind: 'malformed' }],
  ])('%s', (header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });

  it('tells JWTs apart', () => {
    expect(looksLikeJwt('eyJh.eyJz.sig-_')).toBe(true);
    expect(looksLikeJwt('mg_abc_def')).toBe(false);
  });
});

describe('token format', () => {
  it('generates mg_<12 base32>_<43 base62> and parses it back', () => {
    const t = newToken();
    expect(t.token).toMatch(/^mg_[a-z2-7]{12}_[A-Za-z0-9]{43}$/);
    const p = parseToken(t.token)!;
    expect(p.publicId).toBe(t.publicId);
    expect(secretMatches(p.secret, t.secretHash)).toBe(true);
    expect(secretMatches(`${p.secret}x`, t.secretHash)).toBe(false);
    expect(new Set(Array.from({ length: 50 }, () => newToken().publicId)).size).toBe(50);
  });

  it('accepts operator-made tokens split at the first underscore', () => {
    expect(parseToken('mg_bootstrapadmin_QQQQQQQQQQQQQQQQQQQQ')).toEqual({ publicId: 'bootstrapadmin', secret: 'QQQQQQQQQQQQQQQQQQQQ' });
    expect(parseToken('mg_abcd_short')).toBeNull();
    expect(parseToken('xx_abcdefghijkl_QQQQQQQQQQQQQQQQQQQQ')).toBeNull();
  });
});
