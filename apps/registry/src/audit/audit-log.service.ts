import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ByteDigest, canonicalJson, ChainVerifier, csvHeader, GENESIS, verifySignature, type AuditRow, type ExportFormat, type ExportManifest, type SignedManifest } from '@modgate/auditlog';
import { BlobNotFound, type BlobStore } from '@modgate/storage';
import { GoproxyError } from '../common/goproxy-error';
import type { AuditSigner } from './audit-signer';
import type { AuditFilter, AuditRepository, ExportedRange } from './audit.repository';

export interface VerifyReport {
  readonly ok: boolean;
  /** Rows checked (from the start of the stored chain). */
  readonly rows: number;
  /** Where the stored chain starts (0, or the last archived row). */
  readonly fromSeq: number;
  readonly headSeq: number;
  readonly headHash: string;
  /** The first sequence number that breaks the chain, and how. */
  readonly brokenAt?: number;
  readonly problem?: string;
}

export interface ArchiveInfo {
  readonly month: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly rows: number;
  /** Chain hash (hex) of the archive's last row. */
  readonly lastHash: string;
  /** Where to fetch the JSON Lines file and its signed manifest. */
  readonly file: string;
  readonly manifest: string;
}

export interface ExportStream {
  readonly id: string;
  readonly filename: string;
  readonly contentType: string;
  readonly body: Readable;
}

/**
 * Reading the audit log: pages with a cursor, the chain check, exports
 * with signed manifests, summaries. Everything streams from PostgreSQL a
 * page at a time, so memory stays flat for any range.
 */
export class AuditLogService {
  constructor(
    private readonly repo: AuditRepository,
    private readonly signer: () => Promise<AuditSigner>,
    private readonly blobs: BlobStore,
  ) {}

  async events(f: AuditFilter, limit: number): Promise<{ items: AuditRow[]; nextCursor: string | null }> {
    const items = await this.repo.page(f, limit);
    return { items, nextCursor: items.length === limit ? String(items[items.length - 1].seq) : null };
  }

  /** Walks the whole stored chain and compares its end with the head every writer moves. */
  async verify(): Promise<VerifyReport> {
    const anchor = await this.repo.anchor();
    const start = anchor ?? { seq: 0, hash: GENESIS };
    const head = await this.repo.head();
    const v = new ChainVerifier(start.seq, start.hash);
    for await (const r of this.repo.stream({ upToSeq: head.seq })) if (!v.add(r)) break;
    const report = { rows: v.rows, fromSeq: start.seq, headSeq: v.headSeq, headHash: v.headHash.toString('hex') };
    if (v.broken) return { ok: false, ...report, brokenAt: v.broken.seq, problem: v.broken.problem };
    if (v.headSeq !== head.seq || !v.headHash.equals(head.hash)) {
      return { ok: false, ...report, brokenAt: v.headSeq + 1, problem: `the log ends at ${v.headSeq} but its head says ${head.seq}: rows were removed from the end` };
    }
    const archived = await this.archiveProblem();
    if (archived) return { ok: false, ...report, brokenAt: archived.seq, problem: archived.problem };
    // Every export signed so far vouches for a row: it must still be there, unchanged.
    for (const text of await this.repo.exportManifests()) {
      const m = (JSON.parse(text) as SignedManifest).manifest;
      if (m.lastSeq === null || m.lastSeq <= start.seq) continue;
      const h = await this.repo.hashAt(m.lastSeq);
      if (!h || h.toString('hex') !== m.lastHash) {
        return { ok: false, ...report, brokenAt: Math.min(m.lastSeq, v.headSeq + 1), problem: `row ${m.lastSeq}, the last of export ${m.id} (${m.createdAt}), is missing or changed: rows were removed or rewritten` };
      }
      if (head.seq < m.headSeq) return { ok: false, ...report, brokenAt: v.headSeq + 1, problem: `export ${m.id} saw the log up to ${m.headSeq}; it now ends at ${head.seq}` };
    }
    return { ok: true, ...report };
  }

  /**
   * The archives stand for the front of the chain: each must start where
   * the one before ended (the first at 1, from the genesis) and agree with
   * its signed manifest in the blob store, or rows could have been cut from
   * the front with a made-up archive row. Manifests signed by an earlier key
   * (MODGATE_AUDIT_SIGNING_KEY rotated) are checked for linkage only.
   */
  private async archiveProblem(): Promise<{ seq: number; problem: string } | null> {
    const archives = await this.repo.archives();
    if (archives.length === 0) return null;
    const signer = await this.signer();
    let prev = { seq: 0, hash: GENESIS.toString('hex') };
    for (const a of archives) {
      if (a.firstSeq !== prev.seq + 1) return { seq: prev.seq + 1, problem: `archive ${a.month} starts at ${a.firstSeq}, not at ${prev.seq + 1}` };
      let signed: SignedManifest;
      try {
        signed = await this.readManifest(a.manifestKey);
      } catch (err) {
        if (err instanceof BlobNotFound || err instanceof SyntaxError) return { seq: a.firstSeq, problem: `the signed manifest of archive ${a.month} is missing or unreadable (${a.manifestKey})` };
        throw err;
      }
      const m = signed.manifest;
      if (m.keyId === signer.keyId && !verifySignature(signer.publicPem, canonicalJson(m), signed.signature)) {
        return { seq: a.firstSeq, problem: `the manifest of archive ${a.month} does not verify with the registry's key` };
      }
      if (m.kind !== 'modgate-audit-archive' || m.firstSeq !== a.firstSeq || m.lastSeq !== a.lastSeq || m.rows !== a.rows || m.lastHash !== a.lastHash || m.previousHash !== prev.hash) {
        return { seq: a.firstSeq, problem: `archive ${a.month} (${a.firstSeq}…${a.lastSeq}) does not match its signed manifest or the archive before it` };
      }
      prev = { seq: a.lastSeq, hash: a.lastHash };
    }
    return null;
  }

  /**
   * Streams the matching rows (as of now: rows written meanwhile are left
   * out) and, once the last byte is produced, stores the signed manifest
   * under the export id, for GET /audit/exports/<id>/manifest.
   */
  async export(f: AuditFilter, format: ExportFormat, filters: Record<string, string>, createdBy: string): Promise<ExportStream> {
    const signer = await this.signer();
    const head = await this.repo.head();
    const id = randomUUID();
    await this.repo.saveExportManifest(id, createdBy, null);
    const repo = this.repo;
    const createdAt = new Date().toISOString();
    async function* produce(): AsyncGenerator<Buffer> {
      const digest = new ByteDigest();
      if (format === 'csv') yield digest.add(Buffer.from(csvHeader()));
      const range: ExportedRange = { rows: 0, first: null, last: null };
      yield* digest.through(repo.exportBytes({ ...f, upToSeq: head.seq }, format, range));
      const { rows, first } = range;
      const lastSeq = range.last?.seq ?? null;
      const lastHash = range.last?.hash ?? null;
      const manifest: ExportManifest = {
        kind: 'modgate-audit-export',
        version: 1,
        id,
        format,
        filters,
        createdAt,
        createdBy,
        rows,
        firstSeq: first,
        lastSeq,
        lastHash,
        headSeq: head.seq,
        sha256: digest.hex(),
        bytes: digest.bytes,
        keyId: signer.keyId,
      };
      const signed: SignedManifest = { manifest, signature: signer.sign(canonicalJson(manifest)) };
      await repo.saveExportManifest(id, createdBy, JSON.stringify(signed, null, 2));
    }
    const stamp = (d?: Date) => (d ? d.toISOString().slice(0, 19).replace(/[:T]/g, '') : 'all');
    return {
      id,
      filename: `modgate-audit-${stamp(f.from)}-${stamp(f.to)}-${id.slice(0, 8)}.${format}`,
      contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      body: Readable.from(produce(), { objectMode: false, highWaterMark: 1 << 16 }),
    };
  }

  async manifest(id: string): Promise<SignedManifest> {
    const m = await this.repo.exportManifest(id);
    if (!m) throw new GoproxyError('not-found', `no export ${id}`);
    if (!m.manifest) throw new GoproxyError('conflict', `export ${id} has not finished streaming yet; fetch the manifest after the last byte`);
    return JSON.parse(m.manifest) as SignedManifest;
  }

  /** The monthly archives retention wrote, oldest first: together with the live log, the whole chain. */
  async archives(): Promise<ArchiveInfo[]> {
    return (await this.repo.archives()).map(({ blobKey: _b, manifestKey: _m, ...a }) => ({
      ...a,
      file: `/api/v1/audit/archives/${a.firstSeq}`,
      manifest: `/api/v1/audit/archives/${a.firstSeq}/manifest`,
    }));
  }

  async archiveFile(firstSeq: number): Promise<{ filename: string; size: number; body: NodeJS.ReadableStream }> {
    const a = await this.archiveStarting(firstSeq);
    const { body, size } = await this.blobs.open(a.blobKey);
    return { filename: `modgate-audit-archive-${a.month}-${a.firstSeq}.jsonl`, size, body };
  }

  async archiveManifest(firstSeq: number): Promise<SignedManifest> {
    return this.readManifest((await this.archiveStarting(firstSeq)).manifestKey);
  }

  private async readManifest(key: string): Promise<SignedManifest> {
    return JSON.parse((await this.blobs.read(key)).toString('utf8')) as SignedManifest;
  }

  private async archiveStarting(firstSeq: number) {
    const a = (await this.repo.archives()).find((x) => x.firstSeq === firstSeq);
    if (!a) throw new GoproxyError('not-found', `no audit archive starts at ${firstSeq}`);
    return a;
  }

  async publicKey(): Promise<{ keyId: string; publicKey: string }> {
    const s = await this.signer();
    return { keyId: s.keyId, publicKey: s.publicPem };
  }

  summary(from: Date, to: Date): ReturnType<AuditRepository['summary']> {
    if (!(from < to)) throw new GoproxyError('bad-request', 'from must be before to');
    return this.repo.summary(from, to);
  }
}
