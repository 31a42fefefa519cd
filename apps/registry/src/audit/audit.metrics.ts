import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../metrics/metrics';

/** The audit writer's numbers: what is written, spilled, failing, and at risk. */
export class AuditMetrics {
  private readonly writtenTotal: Counter;
  private readonly spilledTotal: Counter;
  private readonly failures: Counter;

  constructor(private readonly m: Metrics) {
    this.writtenTotal = new Counter({ name: 'modgate_audit_events_written_total', help: 'Audit events written to PostgreSQL', registers: [m.registry] });
    this.spilledTotal = new Counter({ name: 'modgate_audit_events_spilled_total', help: 'Audit events written to a local spill file while PostgreSQL was unavailable', registers: [m.registry] });
    this.failures = new Counter({ name: 'modgate_audit_write_failures_total', help: 'Failed attempts to write audit events to PostgreSQL', registers: [m.registry] });
  }

  /** The gauge of events only in memory: lost if the process dies hard. */
  atRisk(read: () => number): void {
    new Gauge({
      name: 'modgate_audit_events_at_risk',
      help: 'Audit events held only in memory (neither in PostgreSQL nor in a spill file)',
      registers: [this.m.registry],
      collect() {
        this.set(read());
      },
    });
  }

  written(n: number): void {
    this.writtenTotal.inc(n);
  }

  spilled(n: number): void {
    this.spilledTotal.inc(n);
  }

  failure(): void {
    this.failures.inc();
  }
}
