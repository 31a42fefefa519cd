// The real audit log on a test's own database, for suites that build
// services by hand: the same writer, repository and chain as the server.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { AuditWriter } from '../../apps/registry/src/audit/audit-writer';
import { AuditMetrics } from '../../apps/registry/src/audit/audit.metrics';
import { AuditRepository } from '../../apps/registry/src/audit/audit.repository';
import { AuditService } from '../../apps/registry/src/audit/audit.service';
import { makeLogger } from '../../apps/registry/src/logging/logger';
import { Metrics } from '../../apps/registry/src/metrics/metrics';

export function testAudit(ds: DataSource): { audit: AuditService; writer: AuditWriter; repo: AuditRepository } {
  const repo = new AuditRepository(ds);
  const writer = new AuditWriter(repo, join(mkdtempSync(join(tmpdir(), 'modgate-audit-')), 'spill'), new AuditMetrics(new Metrics()), makeLogger('silent'));
  return { audit: new AuditService(writer, true), writer, repo };
}
