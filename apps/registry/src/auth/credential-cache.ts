/**
 * A short-lived cache of verified credentials (token → principal, user →
 * session principal): what keeps a warm GOPROXY request off the database.
 *
 * - Entries live at most `ttlMs`; 0 turns caching off.
 * - Concurrent misses for one key share one load (the go command fetches in
 *   parallel with the same token).
 * - Invalidation is exact for what has been stored and also poisons loads in
 *   flight: a load that started before a revocation must not store its stale
 *   answer after it, and a request arriving after the revocation must not
 *   join that load.
 * - `enabled()` false (no cross-instance notifications) bypasses the cache.
 */
export class CredentialCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly inflight = new Map<string, Promise<V>>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly enabled: () => boolean = () => true,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string, load: () => Promise<V>, cacheable: (v: V) => boolean = () => true): Promise<V> {
    const on = this.ttlMs > 0 && this.enabled();
    if (on) {
      const hit = this.entries.get(key);
      if (hit && hit.until > this.now()) return hit.value;
      if (hit) this.entries.delete(key);
    }
    const running = this.inflight.get(key);
    if (running) return running;
    const gen = this.generation;
    const p = load().then(
      (value) => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
        if (on && gen === this.generation && cacheable(value)) this.store(key, value);
        return value;
      },
      (err: unknown) => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  /** The live cached value for key, without loading (undefined when absent, expired or caching is off). */
  peek(key: string): V | undefined {
    if (this.ttlMs <= 0 || !this.enabled()) return undefined;
    const hit = this.entries.get(key);
    return hit && hit.until > this.now() ? hit.value : undefined;
  }

  /** Drops entries matching `pred` (all when omitted) and every load in flight. */
  invalidate(pred?: (key: string, value: V) => boolean): void {
    this.generation++;
    this.inflight.clear();
    if (!pred) {
      this.entries.clear();
      return;
    }
    for (const [k, e] of this.entries) if (pred(k, e.value)) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
