// The verified-credential cache: TTL, shared loads, and invalidation that
// also beats a load already in flight (the revocation race).
import { CredentialCache } from './credential-cache';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CredentialCache', () => {
  it('serves from memory until the TTL passes', async () => {
    const clock = { t: 0 };
    const cache = new CredentialCache<string>(2000, 100, () => true, () => clock.t);
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get('k', load)).toBe('v1');
    clock.t = 1999;
    expect(await cache.get('k', load)).toBe('v1');
    clock.t = 2000;
    expect(await cache.get('k', load)).toBe('v2');
  });

  it('shares one load among concurrent misses', async () => {
    const cache = new CredentialCache<string>(2000);
    const d = deferred<string>();
    let loads = 0;
    const load = () => (loads++, d.promise);
    const both = Promise.all([cache.get('k', load), cache.get('k', load)]);
    d.resolve('x');
    expect(await both).toEqual(['x', 'x']);
    expect(loads).toBe(1);
  });

  it('does not store or share a load that started before an invalidation', async () => {
    const cache = new CredentialCache<string>(60_000);
    const stale = deferred<string>();
    const first = cache.get('k', () => stale.promise);
    cache.invalidate((k) => k === 'k');
    // A request after the revocation starts its own load instead of joining the old one.
    expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
    stale.resolve('stale');
    expect(await first).toBe('stale');
    expect(await cache.get('k', async () => 'other')).toBe('fresh');
  });

  it('caches nothing while disabled, nor values that are not cacheable, and stays bounded', async () => {
    let on = false;
    const cache = new CredentialCache<string | null>(60_000, 3, () => on);
    await cache.get('a', async () => 'a');
    expect(cache.size).toBe(0);
    on = true;
    await cache.get('n', async () => null, (v) => v !== null);
    expect(cache.size).toBe(0);
    for (const k of ['a', 'b', 'c', 'd']) await cache.get(k, async () => k);
    expect(cache.size).toBe(3);
  });
});
