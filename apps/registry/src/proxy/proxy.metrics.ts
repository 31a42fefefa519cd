import { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../metrics/metrics';

/**
 * Metrics of the read path, registered in the process registry. Per-request
 * counts (cache lookups, bytes served) are plain numbers copied into their
 * Prometheus counters at scrape time: cheaper than a labelled inc per request.
 */
export class ProxyMetrics {
  readonly upstreamFetches: Counter<'outcome'>;
  readonly upstreamSeconds: Histogram;
  readonly fills: Counter<'outcome'>;
  readonly cacheLookups = { hit: 0, miss: 0, negative: 0 };
  readonly bytesByKind: Record<string, number> = {};

  cacheHit(): void {
    this.cacheLookups.hit++;
  }

  cacheMiss(): void {
    this.cacheLookups.miss++;
  }

  /** A "not found" answered from the negative cache. */
  negativeHit(): void {
    this.cacheLookups.negative++;
  }

  served(kind: string, bytes: number): void {
    this.bytesByKind[kind] = (this.bytesByKind[kind] ?? 0) + bytes;
  }

  constructor(m: Metrics) {
    const registers = [m.registry];
    this.upstreamFetches = new Counter({ name: 'modgate_upstream_requests_total', help: 'Requests to upstream proxies by outcome (HTTP status or error)', labelNames: ['outcome'], registers });
    this.upstreamSeconds = new Histogram({ name: 'modgate_upstream_request_duration_seconds', help: 'Time to upstream response headers', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    const lookups = this.cacheLookups;
    const bytes = this.bytesByKind;
    new Counter({
      name: 'modgate_cache_lookups_total',
      help: 'Version lookups on the read path: hit (stored), miss (filled or not found) or negative (a recent "not found" repeated)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, lookups.hit);
        this.inc({ result: 'miss' }, lookups.miss);
        this.inc({ result: 'negative' }, lookups.negative);
      },
    });
    new Counter({
      name: 'modgate_bytes_served_total',
      help: 'Body bytes served by kind (info, mod, zip, list, latest)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(bytes)) this.inc({ kind }, n);
      },
    });
    this.fills = new Counter({ name: 'modgate_cache_fills_total', help: 'Cache fills from upstream by outcome', labelNames: ['outcome'], registers });
  }
}
