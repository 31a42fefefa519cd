import { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../metrics/metrics';

/** Metrics of the read path, registered in the process registry. */
export class ProxyMetrics {
  readonly upstreamFetches: Counter<'outcome'>;
  readonly upstreamSeconds: Histogram;
  readonly cache: Counter<'result'>;
  readonly bytesServed: Counter<'kind'>;
  readonly fills: Counter<'outcome'>;

  constructor(m: Metrics) {
    const registers = [m.registry];
    this.upstreamFetches = new Counter({ name: 'modgate_upstream_requests_total', help: 'Requests to upstream proxies by outcome (HTTP status or error)', labelNames: ['outcome'], registers });
    this.upstreamSeconds = new Histogram({ name: 'modgate_upstream_request_duration_seconds', help: 'Time to upstream response headers', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.cache = new Counter({ name: 'modgate_cache_lookups_total', help: 'Version lookups on the read path: hit (stored) or miss (filled or not found)', labelNames: ['result'], registers });
    this.bytesServed = new Counter({ name: 'modgate_bytes_served_total', help: 'Body bytes served by kind (info, mod, zip, sumdb)', labelNames: ['kind'], registers });
    this.fills = new Counter({ name: 'modgate_cache_fills_total', help: 'Cache fills from upstream by outcome', labelNames: ['outcome'], registers });
  }
}
