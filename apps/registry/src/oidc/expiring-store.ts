/**
 * Sign-ins in progress, kept in this process's memory with a deadline: the
 * browser flow's state/nonce/PKCE verifier and the device flow's IdP handle.
 * Bounded, because the routes that create entries need no credentials; when
 * full, callers answer 429 rather than grow without limit.
 *
 * In-memory means a sign-in must finish on the instance that started it
 * (sticky sessions, or one instance) — see the module's README lines.
 */
export class ExpiringStore<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** False when the store is full even after dropping expired entries. */
  put(key: string, value: T, ttlMs: number): boolean {
    if (this.entries.size >= this.capacity) this.sweep();
    if (this.entries.size >= this.capacity) return false;
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    return true;
  }

  get(key: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Get and remove: for things that may be used once. */
  take(key: string): T | undefined {
    const v = this.get(key);
    this.entries.delete(key);
    return v;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops expired entries (and any the predicate rejects); returns what was dropped. */
  sweep(keep: (value: T) => boolean = () => true): T[] {
    const dropped: T[] = [];
    const now = this.now();
    for (const [k, e] of this.entries) {
      if (e.expiresAt <= now || !keep(e.value)) {
        this.entries.delete(k);
        dropped.push(e.value);
      }
    }
    return dropped;
  }

  clear(): T[] {
    const all = [...this.entries.values()].map((e) => e.value);
    this.entries.clear();
    return all;
  }

  get size(): number {
    return this.entries.size;
  }
}
