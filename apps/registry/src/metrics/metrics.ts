import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * All Prometheus metrics of one ModGate process, in one registry (not the
 * global one, so tests can build several apps in one process).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'modgate_http_requests_total',
    help: 'HTTP requests by route kind, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'modgate_http_request_duration_seconds',
    help: 'HTTP request duration by route kind',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  });

  readonly ingests = new Counter({
    name: 'modgate_ingest_total',
    help: 'Module versions offered to the store, by origin kind and outcome',
    labelNames: ['origin', 'outcome'] as const,
    registers: [this.registry],
  });

  // Labelled children, kept: looking one up by a label object on every
  // request costs more than the increment itself.
  private readonly requestChildren = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'modgate_' });
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`;
    let c = this.requestChildren.get(key);
    if (!c) {
      c = { count: this.httpRequests.labels(route, method, String(status)), duration: this.httpDuration.labels(route) };
      this.requestChildren.set(key, c);
    }
    c.count.inc();
    c.duration.observe(seconds);
  }
}
