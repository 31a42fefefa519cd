import type { Readable } from 'node:stream';
import { GoModError, unescapePath } from '@modgate/gomod';
import { BlobNotFound, type BlobStore } from '@modgate/storage';
import { GoproxyError } from '../common/goproxy-error';
import type { Env } from '../config/env';
import type { AppLogger } from '../logging/logger';
import type { OwnedPaths } from '../config/owned-paths';

export interface SumdbAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer | Readable;
  readonly immutable: boolean;
}

// A full tile: tile/H/L/N or tile/H/data/N, with N in x-grouped form. A
// partial tile ends in .p/W and changes as the log grows: never cached.
const FULL_TILE = /^tile\/\d+\/(\d+|data)\/(x\d{3}\/)*\d{3}$/;
const PARTIAL_TILE = /^tile\/\d+\/(\d+|data)\/(x\d{3}\/)*\d{3}\.p\/\d+$/;
const TILE_LIMIT = 1 << 20;
// lookup/<escaped module>@<escaped version>: one `@`, in the last element.
const LOOKUP = /^lookup\/[^@]+@[^@/]+$/;

/**
 * Relays the checksum databases named in MODGATE_SUMDBS under
 * /sumdb/<name>/. Full tiles never change and are kept in blob storage.
 * Lookups of paths this registry owns are answered here and never forwarded:
 * a lookup would leak the private module's name.
 */
export class SumdbService {
  constructor(
    private readonly env: Env,
    private readonly owned: OwnedPaths,
    private readonly blobs: BlobStore,
    private readonly log: AppLogger,
  ) {}

  async handle(name: string, rest: string): Promise<SumdbAnswer> {
    const base = this.env.sumdbs.get(name);
    if (!base) throw new GoproxyError('not-found', `not found: checksum database ${name} is not relayed by this registry`);
    // Nothing but the sumdb protocol's own paths is relayed: a `..` or an
    // escape could make the upstream URL point elsewhere (and past the
    // private-path check below).
    if (rest.split('/').some((seg) => seg === '..' || seg === '.' || seg === '') || /[%\\?#]/.test(rest)) {
      throw new GoproxyError('not-found', `not found: /sumdb/${name}/${rest} is not a checksum database path`);
    }
    if (rest === 'supported') return { status: 200, contentType: 'text/plain; charset=utf-8', body: Buffer.alloc(0), immutable: false };
    if (LOOKUP.test(rest)) {
      this.refuseOwned(rest.slice('lookup/'.length));
      return this.relay(base, rest, false);
    }
    if (rest === 'latest') return this.relay(base, rest, false);
    if (FULL_TILE.test(rest)) return this.cachedTile(name, base, rest);
    if (PARTIAL_TILE.test(rest)) return this.relay(base, rest, false);
    throw new GoproxyError('not-found', `not found: /sumdb/${name}/${rest} is not a checksum database path`);
  }

  private refuseOwned(escapedModVer: string): void {
    const at = escapedModVer.lastIndexOf('@');
    let path: string;
    try {
      path = unescapePath(at > 0 ? escapedModVer.slice(0, at) : escapedModVer);
    } catch (err) {
      if (err instanceof GoModError) throw new GoproxyError('not-found', `not found: ${err.message}`);
      throw err;
    }
    if (this.owned.owns(path)) {
      const pattern = this.owned.patternFor(path) ?? path;
      throw new GoproxyError('not-found', `not found: ${path} is a private module of this registry and has no public checksum; set GONOSUMDB=${pattern}`);
    }
  }

  private async cachedTile(name: string, base: string, rest: string): Promise<SumdbAnswer> {
    const key = `sumdb/${name}/${rest}`;
    try {
      return { status: 200, contentType: 'application/octet-stream', body: await this.blobs.read(key), immutable: true };
    } catch (err) {
      if (!(err instanceof BlobNotFound)) throw err;
    }
    const r = await this.fetch(base, rest);
    if (r.status !== 200) return { status: r.status, contentType: r.contentType, body: r.data, immutable: false };
    await this.blobs.put(key, r.data, { size: r.data.length }).catch((err) => this.log.warn({ err: (err as Error).message, key }, 'could not cache a sumdb tile'));
    return { status: 200, contentType: 'application/octet-stream', body: r.data, immutable: true };
  }

  private async relay(base: string, rest: string, immutable: boolean): Promise<SumdbAnswer> {
    const r = await this.fetch(base, rest);
    return { status: r.status, contentType: r.contentType, body: r.data, immutable: immutable && r.status === 200 };
  }

  private async fetch(base: string, rest: string): Promise<{ status: number; contentType: string; data: Buffer }> {
    if (this.env.networkMode === 'offline') throw new GoproxyError('not-found', 'not found: checksum database not reachable in offline mode');
    let res: Response;
    try {
      res = await fetch(`${base}/${rest}`, { signal: AbortSignal.timeout(this.env.upstreamTimeoutMs), redirect: 'follow' });
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError';
      throw new GoproxyError(timeout ? 'upstream-timeout' : 'bad-upstream', `checksum database ${new URL(base).host} ${timeout ? 'timed out' : 'unreachable'}`);
    }
    const data = Buffer.from(await res.arrayBuffer());
    if (data.length > TILE_LIMIT) throw new GoproxyError('bad-upstream', 'checksum database answer too large');
    // 404/410 pass through (the go command falls back to the next proxy or to direct).
    const status = res.status === 200 || res.status === 404 || res.status === 410 ? res.status : 502;
    return { status, contentType: res.headers.get('content-type') ?? 'text/plain; charset=utf-8', data };
  }
}
