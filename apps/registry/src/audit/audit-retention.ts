import { Readable } from 'node:stream';
import { ByteDigest, canonicalJson, ChainVerifier, GENESIS, type ExportManifest, type SignedManifest } from '@modgate/auditlog';
import type { BlobStore } from '@modgate/storage';
import type { DataSource } from 'typeorm';
import type { AppLogger } from '../logging/logger';
import type { AuditSigner } from './audit-signer';
import type { AuditRepository, ExportedRange } from './audit.repository';

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
      const anchor = (await this.repo.anchor()) ?? { seq: 0, hash: GENESIS };
      const after = anchor.seq;
      const first = await this.repo.firstRowAfter(after);
      if (!first) return removed;
      const monthStart = new Date(Date.UTC(first.at.getUTCFullYear(), first.at.getUTCMonth(), 1));
      const monthEnd = new Date(Date.UTC(first.at.getUTCFullYear(), first.at.getUTCMonth() + 1, 1));
      // Only whole months that are entirely past the retention.
      if (monthEnd > cutoff) return removed;
      const lastSeq = await this.repo.lastSeqBefore(monthEnd, after);
      if (lastSeq === null) return removed;
      removed += await this.archive(monthStart.toISOString().slice(0, 7), anchor, lastSeq);
    }
  }

  /**
   * One month: the chain is checked over it first (a broken stretch is never
   * archived and removed, which would hide the break from verify), then it
   * is exported as JSON Lines to the store, signed, and only then pruned.
   */
  private async archive(month: string, { seq: after, hash: previous }: { seq: number; hash: Buffer }, lastSeq: number): Promise<number> {
    const check = new ChainVerifier(after, previous);
    for await (const r of this.repo.stream({ afterSeq: after, upToSeq: lastSeq })) if (!check.add(r)) break;
    if (check.broken) throw new Error(`audit: retention refused to archive ${month}: the chain is broken at ${check.broken.seq} (${check.broken.problem}); run verify`);
    if (check.headSeq !== lastSeq) throw new Error(`audit: retention refused to archive ${month}: rows ${check.headSeq + 1}…${lastSeq} are missing`);

    const signer = await this.signer();
    const blobKey = `audit-archive/${month}-${after + 1}.jsonl`;
    const range: ExportedRange = { rows: 0, first: null, last: null };
    const digest = new ByteDigest();
    await this.blobs.put(blobKey, Readable.from(digest.through(this.repo.exportBytes({ afterSeq: after, upToSeq: lastSeq }, 'jsonl', range))), {
      contentType: 'application/x-ndjson',
    });
    // The rows are immutable, so the export holds what was checked; if not, stop.
    if (range.rows !== check.rows || range.first !== after + 1 || range.last?.hash !== check.headHash.toString('hex')) {
      await this.blobs.delete(blobKey);
      throw new Error(`audit: retention: the archive of ${month} differs from the rows checked; nothing removed`);
    }
    const manifest: ExportManifest = {
      kind: 'modgate-audit-archive',
      version: 1,
      id: `${month}-${after + 1}`,
      format: 'jsonl',
      filters: { month },
      createdAt: new Date().toISOString(),
      createdBy: 'retention',
      rows: range.rows,
      firstSeq: after + 1,
      lastSeq,
      lastHash: range.last.hash,
      headSeq: lastSeq,
      sha256: digest.hex(),
      bytes: digest.bytes,
      keyId: signer.keyId,
      previousHash: previous.toString('hex'),
      continuesFrom: range.last.hash,
    };
    const manifestKey = `${blobKey}.manifest.json`;
    const signed: SignedManifest = { manifest, signature: signer.sign(canonicalJson(manifest)) };
    await this.blobs.put(manifestKey, Buffer.from(JSON.stringify(signed, null, 2)), { contentType: 'application/json' });
    const n = await this.repo.prune({ firstSeq: after + 1, lastSeq, lastHash: check.headHash, rows: range.rows, month, blobKey, manifestKey });
    this.log.info({ month, rows: n, firstSeq: after + 1, lastSeq, blobKey }, 'audit: archived and removed rows past the retention');
    return n;
  }
}
