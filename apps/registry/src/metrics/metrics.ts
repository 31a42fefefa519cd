import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestMetrics } from './request-metrics';

/**
 * All Prometheus metrics of one ModGate process, in one registry (not the
 * global one, so tests can build several apps in one process).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new RequestMetrics();

  readonly ingests = new Counter({
    name: 'modgate_ingest_total',
    help: 'Module versions offered to the store, by origin kind and outcome',
    labelNames: ['origin', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'modgate_' });
    this.requests.register(this.registry);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.observe(route, method, status, seconds);
  }
}
