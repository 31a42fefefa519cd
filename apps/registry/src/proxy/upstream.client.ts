import { Readable, Transform, pipeline } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { escapePath, escapeVersion } from '@modgate/gomod';
import { redact, type Upstream } from '../config/upstreams';
import type { Env } from '../config/env';
import type { AppLogger } from '../logging/logger';
import type { ProxyMetrics } from './proxy.metrics';

/** What an upstream fetch can end in, translated at this edge. */
export type UpstreamFailure =
  | { kind: 'not-found'; message: string } // every upstream said 404/410
  | { kind: 'error'; message: string; timeout: boolean }; // a failure that ends the list

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    /** Worth another try (a 5xx); network errors are retried as well. */
    readonly transient = false,
  ) {
    super(failure.message);
    this.name = 'UpstreamError';
  }
}

export interface UpstreamBody {
  readonly upstream: Upstream;
  readonly body: Readable;
  readonly size: number | null;
}

const SMALL_LIMIT = 16 << 20; // .mod ≤ 16 MiB; .info, list, @latest far less
const TRANSIENT = new Set([500, 502, 503, 504]);

/**
 * GOPROXY-list semantics over MODGATE_UPSTREAMS: an entry followed by `,`
 * falls through only on 404/410, one followed by `|` on any error. Each
 * request has a timeout (headers, then idle body) and a bounded retry for
 * transient failures (network errors, 5xx). Credentials in upstream URLs
 * never reach messages or logs.
 */
export class UpstreamClient {
  constructor(
    private readonly env: Env,
    private readonly log: AppLogger,
    private readonly metrics: ProxyMetrics,
  ) {}

  get configured(): boolean {
    return this.env.upstreams.length > 0;
  }

  /** GET `<upstream>/<escaped path>/<suffix>` along the list; the body is streamed. */
  async open(path: string, suffix: string, from?: Upstream): Promise<UpstreamBody> {
    const rel = `${escapePath(path)}/${suffix}`;
    const list = from ? [from] : this.env.upstreams;
    const notFound: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const up = list[i];
      try {
        return await this.openOne(up, rel);
      } catch (err) {
        const f = toFailure(err);
        if (f.kind === 'not-found') {
          notFound.push(f.message);
          continue;
        }
        if (up.fallThroughOnError && i + 1 < list.length) {
          this.log.warn({ upstream: redact(up.url), err: f.message }, 'upstream failed; trying the next one');
          continue;
        }
        throw new UpstreamError(f);
      }
    }
    throw new UpstreamError({ kind: 'not-found', message: notFound[notFound.length - 1] ?? 'not found upstream' });
  }

  /** Like open() for small answers (.info, .mod, list, @latest), read whole. */
  async get(path: string, suffix: string, from?: Upstream): Promise<{ upstream: Upstream; data: Buffer }> {
    const r = await this.open(path, suffix, from);
    return { upstream: r.upstream, data: await readLimited(r.body, SMALL_LIMIT, redact(r.upstream.url)) };
  }

  static versionSuffix(version: string, ext: 'info' | 'mod' | 'zip'): string {
    return `@v/${escapeVersion(version)}.${ext}`;
  }

  private async openOne(up: Upstream, rel: string): Promise<UpstreamBody> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(up, `${up.url}/${rel}`, redact(up.url));
      } catch (err) {
        const transient = err instanceof UpstreamError ? err.transient : !(err instanceof TimeoutError);
        if (!transient || attempt >= this.env.upstreamRetries) throw err;
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }

  /** One try: 200 gives the body; anything else throws, marked transient (5xx, network) or not. */
  private async attempt(up: Upstream, target: string, where: string): Promise<UpstreamBody> {
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const r = await this.request(target, where);
      outcome = String(r.status);
      if (r.status === 200) return { upstream: up, body: r.body!, size: r.size };
      const text = r.body ? (await readLimited(r.body, 4096, where).catch(() => Buffer.alloc(0))).toString('utf8') : '';
      const detail = firstLine(text);
      if (r.status === 404 || r.status === 410) {
        throw new UpstreamError({ kind: 'not-found', message: detail || `not found at ${where}` });
      }
      const message = `upstream ${where} answered ${r.status}${detail ? `: ${detail}` : ''}`;
      throw new UpstreamError({ kind: 'error', timeout: false, message }, TRANSIENT.has(r.status));
    } finally {
      this.metrics.upstreamFetches.inc({ outcome });
      this.metrics.upstreamSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** One HTTP request: a timeout for the headers, then an idle timeout on the body. */
  private async request(target: string, where: string): Promise<{ status: number; body: Readable | null; size: number | null }> {
    const ac = new AbortController();
    const ms = this.env.upstreamTimeoutMs;
    let timer = setTimeout(() => ac.abort(new TimeoutError(`upstream ${where} did not answer within ${ms} ms`)), ms);
    let res: Response;
    try {
      res = await fetch(target, { signal: ac.signal, redirect: 'follow', headers: { 'user-agent': 'modgate' } });
    } catch (err) {
      clearTimeout(timer);
      throw networkError(err, where);
    }
    clearTimeout(timer);
    const len = res.headers.get('content-length');
    if (!res.body) return { status: res.status, body: null, size: len ? Number(len) : null };
    const source = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
    // A watchdog stage re-arms the idle timer on every chunk. (A 'data'
    // listener on the source would switch it to flowing mode and lose bytes.)
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => body.destroy(new TimeoutError(`upstream ${where} stalled for ${ms} ms`)), ms);
    };
    const body = new Transform({
      transform(chunk, _enc, done) {
        arm();
        done(null, chunk);
      },
    });
    body.once('close', () => clearTimeout(timer));
    arm();
    pipeline(source, body, () => clearTimeout(timer));
    return { status: res.status, body: wrapErrors(body, where), size: len ? Number(len) : null };
  }
}

export class TimeoutError extends Error {}

function toFailure(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamError) return err.failure;
  if (err instanceof TimeoutError) return { kind: 'error', timeout: true, message: err.message };
  return { kind: 'error', timeout: false, message: err instanceof Error ? err.message : String(err) };
}

function networkError(err: unknown, where: string): Error {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  if (cause instanceof TimeoutError) return cause;
  const code = (cause as { code?: string })?.code;
  return new Error(`upstream ${where} unreachable${code ? ` (${code})` : ''}`);
}

/** Body stream errors (reset, stall) become short messages that name the upstream, never its credentials. */
function wrapErrors(body: Readable, where: string): Readable {
  const orig = body.destroy.bind(body);
  body.destroy = (err?: Error) => {
    if (err && !(err instanceof TimeoutError) && !(err instanceof UpstreamError)) {
      const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      err = new Error(`connection to upstream ${where} broke mid-body${code ? ` (${code})` : ''}`);
    }
    return orig(err);
  };
  return body;
}

async function readLimited(body: Readable, limit: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += (c as Buffer).length;
    if (n > limit) {
      body.destroy();
      throw new UpstreamError({ kind: 'error', timeout: false, message: `upstream ${where} sent more than ${limit} bytes` });
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 300);
}
