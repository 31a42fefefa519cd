import { createHash } from 'node:crypto';
import { canonicalJson, jsonlLine, type AuditRow, type ExportManifest } from '@modgate/auditlog';
import type { BlobStore } from '@modgate/storage';
import type { DataSource } from 'typeorm';
import type { AppLogger } from '../logging/logger';
import type { AuditSigner } from './audit-signer';
import type { AuditRepository } from './audit.repository';

const RETENTION_LOCK = 7007003;

/**
 * MODGATE_AUDIT_RETENTION_DAYS: rows older than that are first archived to
 * blob storage, one signed JSON Lines export per calendar month (UTC), and
 * only then removed, by the one path the database lets delete. The archive
 * row records the chain hash the remaining log continues from, so verify
 * still proves continuity, and each archive can be checked offline like
 * any export. One instance at a time (advisory lock).
 */
export class AuditRetention {
  constructor(
    private readonly ds: DataSource,
    private readonly repo: AuditRepository,
    private readonly blobs: BlobStore,
    private readonly signer: () => Promise<AuditSigner>,
    private readonly retentionDays: number,
    private readonly log: AppLogger,
  ) {}

  /** Archives and prunes every whole month older than the retention; returns the rows removed. */
  async run(now = new Date()): Promise<number> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ ok }] = await runner.query(`SELECT pg_try_advisory_lock($1, 0) AS ok`, [RETENTION_LOCK]);
      if (!ok) return 0;
      try {
        return await this.archiveMonths(new Date(now.getTime() - this.retentionDays * 86_400_000));
      } finally {
        await runner.query(`SELECT pg_advisory_unlock($1, 0)`, [RETENTION_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }

  private async archiveMonths(cutoff: Date): Promise<number> {
    let removed = 0;
    for (;;) {
      const after = (await this.repo.anchor())?.seq ?? 0;
      const first = await this.repo.firstRowAfter(after);
      if (!first) return removed;
      const monthStart = new Date(Date.UTC(first.at.getUTCFullYear(), first.at.getUTCMonth(), 1));
      const monthEnd = new Date(Date.UTC(first.at.getUTCFullYear(), first.at.getUTCMonth() + 1, 1));
      // Only whole months that are entirely past the retention.
      if (monthEnd > cutoff) return removed;
      const lastSeq = await this.repo.lastSeqBefore(monthEnd, after);
      if (lastSeq === null) return removed;
      removed += await this.archive(monthStart.toISOString().slice(0, 7), after, lastSeq);
    }
  }

  private async archive(month: string, after: number, lastSeq: number): Promise<number> {
    const signer = await this.signer();
    const sha = createHash('sha256');
    const chunks: string[] = [];
    let bytes = 0;
    let rows = 0;
    let firstSeq = 0;
    let last: AuditRow | null = null;
    // A month of rows is written as one blob; it is built in pieces and
    // streamed to the store, never as one string.
    const lines = async function* (repo: AuditRepository): AsyncGenerator<Buffer> {
      for await (const r of repo.stream({ afterSeq: after, upToSeq: lastSeq })) {
        if (rows === 0) firstSeq = r.seq;
        rows++;
        last = r;
        chunks.push(jsonlLine(r));
        if (chunks.length >= 1000) {
          const b = Buffer.from(chunks.splice(0).join(''));
          sha.update(b);
          bytes += b.length;
          yield b;
        }
      }
      if (chunks.length) {
        const b = Buffer.from(chunks.splice(0).join(''));
        sha.update(b);
        bytes += b.length;
        yield b;
      }
    };
    const { Readable } = await import('node:stream');
    const blobKey = `audit-archive/${month}-${after + 1}.jsonl`;
    await this.blobs.put(blobKey, Readable.from(lines(this.repo)), { contentType: 'application/x-ndjson' });
    const lastRow = last as AuditRow | null;
    if (!lastRow || rows === 0) return 0;
    const manifest: ExportManifest = {
      kind: 'modgate-audit-archive',
      version: 1,
      id: `${month}-${firstSeq}`,
      format: 'jsonl',
      filters: { month },
      createdAt: new Date().toISOString(),
      createdBy: 'retention',
      rows,
      firstSeq,
      lastSeq: lastRow.seq,
      lastHash: lastRow.hash.toString('hex'),
      headSeq: lastRow.seq,
      sha256: sha.digest('hex'),
      bytes,
      keyId: signer.keyId,
      continuesFrom: lastRow.hash.toString('hex'),
    };
    const manifestKey = `${blobKey}.manifest.json`;
    const signed = JSON.stringify({ manifest, signature: signer.sign(canonicalJson(manifest)) }, null, 2);
    await this.blobs.put(manifestKey, Buffer.from(signed), { contentType: 'application/json' });
    const n = await this.repo.prune({ firstSeq, lastSeq: lastRow.seq, lastHash: lastRow.hash, rows, month, blobKey, manifestKey });
    this.log.info({ month, rows: n, firstSeq, lastSeq: lastRow.seq, blobKey }, 'audit: archived and removed rows past the retention');
    return n;
  }
}
