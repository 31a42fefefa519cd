import type { VersionRecord } from '../versions/version-record';

/**
 * go.mod bytes of stored versions, kept in memory up to a byte budget: a
 * build's dependency graph asks for many .mod files, and they never change.
 */
export class ModCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly budget = 64 << 20) {}

  async get(v: VersionRecord, load: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.entries.get(v.modKey);
    if (hit) return hit;
    const data = await load();
    if (data.length <= this.budget / 16) {
      this.entries.set(v.modKey, data);
      this.bytes += data.length;
      for (const [k, b] of this.entries) {
        if (this.bytes <= this.budget) break;
        this.entries.delete(k);
        this.bytes -= b.length;
      }
    }
    return data;
  }
}
