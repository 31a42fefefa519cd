import { GoproxyError } from '../common/goproxy-error';
import { parseModuleRoute } from './module-route';

describe('parseModuleRoute', () => {
  it.each([
    ['/api/v1/modules/corp.example.com/payments/ledger', { path: 'corp.example.com/payments/ledger', version: null }],
    ['/api/v1/modules/corp.example.com/payments/ledger/', { path: 'corp.example.com/payments/ledger', version: null }],
    ['/api/v1/modules/corp.example.com/payments/ledger/@v/v1.2.0?time=x', { path: 'corp.example.com/payments/ledger', version: 'v1.2.0' }],
    ['/api/v1/modules/github.com/!azure/x/@v/v1.0.0-!r!c1', { path: 'github.com/Azure/x', version: 'v1.0.0-RC1' }],
    ['/api/v1/modules/github.com/Azure/x/@v/v1.0.0-RC1', { path: 'github.com/Azure/x', version: 'v1.0.0-RC1' }],
    ['/api/v1/modules/corp.example.com/m/@v/v2.0.0%2Bincompatible', { path: 'corp.example.com/m', version: 'v2.0.0+incompatible' }],
  ])('%s', (url, want) => expect(parseModuleRoute(url)).toEqual(want));

  it.each([
    ['/api/v1/modules/notadomain/x/@v/v1.0.0', /malformed module path/],
    ['/api/v1/modules/github.com/!Azure/x', /invalid escaped/],
    ['/api/v1/modules/corp.example.com/m/@v/', /is not a version/],
    ['/api/v1/modules/corp.example.com/m/@v/v1/x', /is not a version/],
    ['/api/v1/modules/corp.example.com/%zz', /percent-encoding/],
  ])('%s is a 400', (url, message) => {
    let err: unknown;
    try {
      parseModuleRoute(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GoproxyError);
    expect((err as GoproxyError).status).toBe(400);
    expect((err as GoproxyError).message).toMatch(message);
  });
});
