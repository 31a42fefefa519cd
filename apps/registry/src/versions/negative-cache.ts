/**
 * "Not found" answers kept for a short while, so a flood of requests for
 * versions or modules that do not exist costs neither a database lookup nor
 * an upstream request each time. Per process, bounded (least recently used
 * entries go first). A version that gets stored (publish or cache fill) is
 * cleared at once, here and, through the version change feed, everywhere.
 */
export class NegativeCache<E = Error> {
  private readonly entries = new Map<string, { answer: E; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly capacity = 100_000,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The cached "not found" answer for a key, if still fresh. */
  get(key: string): E | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used last: the oldest entry is the first to go.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.answer;
  }

  remember(key: string, answer: E): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    this.entries.set(key, { answer, expires: Date.now() + this.ttlMs });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** A version was stored: neither it nor its module's list is "not found" any more. */
  clear(path: string, version: string): void {
    this.entries.delete(versionKey(path, version));
    this.entries.delete(listKey(path));
  }

  clearAll(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

export function versionKey(path: string, version: string): string {
  return `${path}@${version}`;
}

export function listKey(path: string): string {
  return `${path}/@v/list`;
}
