// Signed manifests of audit exports and archives, and the offline check an
// external auditor runs with nothing but the file, the manifest and the
// registry's public key.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { chainHash } from './chain';
import { parseExport, type ExportFormat } from './format';

export interface ExportManifest {
  readonly kind: 'modgate-audit-export' | 'modgate-audit-archive';
  readonly version: 1;
  readonly id: string;
  readonly format: ExportFormat;
  /** The filters as given (time range, principal, team, module, action, outcome). */
  readonly filters: Record<string, string>;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly rows: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** Chain hash (hex) of the last exported row. */
  readonly lastHash: string | null;
  /** The head of the chain when the export began: rows after it are not in it. */
  readonly headSeq: number;
  readonly sha256: string;
  readonly bytes: number;
  /** Fingerprint of the signing key (keyIdOf). */
  readonly keyId: string;
  /** Archives: the chain hash the rest of the log continues from. */
  readonly continuesFrom?: string;
  /**
   * Archives: the chain hash of the row before the first (the previous
   * archive's last, or the genesis). An archive holds every row of its
   * range, so with this the archives and the live log link up offline.
   */
  readonly previousHash?: string;
}

/** Passes bytes through, keeping their SHA-256 and count (what a manifest states). */
export class ByteDigest {
  private readonly sha = createHash('sha256');
  bytes = 0;

  async *through(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const b of source) yield this.add(b);
  }

  add(b: Buffer): Buffer {
    this.sha.update(b);
    this.bytes += b.length;
    return b;
  }

  /** The hex digest (once: the hash is finished by it). */
  hex(): string {
    return this.sha.digest('hex');
  }
}

export interface SignedManifest {
  readonly manifest: ExportManifest;
  /** Base64 Ed25519 signature of canonicalJson(manifest). */
  readonly signature: string;
}

/** JSON with object keys sorted: what is signed. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v instanceof Date ? v.toISOString() : v;
}

export function verifySignature(publicPem: string, data: string | Buffer, signature: string): boolean {
  try {
    return verify(null, Buffer.from(data), createPublicKey(publicPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** A short fingerprint of a public key: SHA-256 of its SPKI DER, base64url, 16 characters. */
export function keyIdOf(publicPem: string): string {
  const der = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url').slice(0, 16);
}

export interface CheckResult {
  readonly ok: boolean;
  readonly problems: string[];
  readonly rows: number;
}

/**
 * Checks an export against its signed manifest: the signature (with the
 * given public key), the SHA-256 and size of the bytes, the row count and
 * seq range, each row's own hash, and the chain links between consecutive
 * rows. `read` yields the file's bytes (twice: once for the digest, once to
 * parse), so memory stays constant for any size.
 */
export async function checkExport(read: () => AsyncIterable<Buffer>, signed: SignedManifest, publicPem: string): Promise<CheckResult> {
  const problems: string[] = [];
  const m = signed.manifest;
  if (!verifySignature(publicPem, canonicalJson(m), signed.signature)) problems.push('the manifest signature does not verify with this public key');
  if (m.keyId !== keyIdOf(publicPem)) problems.push(`the manifest was signed with key ${m.keyId}, not with this public key (${keyIdOf(publicPem)})`);
  const digest = new ByteDigest();
  for await (const c of read()) digest.add(c);
  if (digest.hex() !== m.sha256 || digest.bytes !== m.bytes) problems.push(`the file's SHA-256 or size differs from the manifest (${digest.bytes} bytes; manifest: ${m.bytes})`);
  // An archive is a whole stretch of the chain: no row left out, linked to the one before it.
  const whole = m.kind === 'modgate-audit-archive';
  let rows = 0;
  let first: number | null = null;
  let last: { seq: number; hash: Buffer } | null = null;
  try {
    async function* text(): AsyncGenerator<string> {
      const dec = new TextDecoder('utf-8');
      for await (const c of read()) yield dec.decode(c, { stream: true });
      yield dec.decode();
    }
    for await (const r of parseExport(text(), m.format)) {
      rows++;
      if (first === null && whole && m.previousHash !== undefined && r.prevHash.toString('hex') !== m.previousHash) {
        problems.push(`row ${r.seq}, the first, does not link to the chain before it (${m.previousHash})`);
        break;
      }
      first ??= r.seq;
      if (!chainHash(r.prevHash, r.seq, r).equals(r.hash)) {
        problems.push(`row ${r.seq} does not match its hash`);
        break;
      }
      if (last && r.seq === last.seq + 1 && !r.prevHash.equals(last.hash)) {
        problems.push(`row ${r.seq} does not link to row ${last.seq}`);
        break;
      }
      if (last && r.seq <= last.seq) {
        problems.push(`row ${r.seq} is out of order`);
        break;
      }
      if (last && whole && r.seq !== last.seq + 1) {
        problems.push(`rows ${last.seq + 1}…${r.seq - 1} are missing from the archive`);
        break;
      }
      last = { seq: r.seq, hash: r.hash };
    }
  } catch (err) {
    problems.push(`the file does not parse as ${m.format}: ${(err as Error).message}`);
  }
  if (problems.length === 0) {
    if (rows !== m.rows) problems.push(`the file has ${rows} rows; the manifest says ${m.rows}`);
    if (first !== m.firstSeq || (last?.seq ?? null) !== m.lastSeq) problems.push('the seq range differs from the manifest');
    if ((last?.hash.toString('hex') ?? null) !== m.lastHash) problems.push("the last row's hash differs from the manifest");
  }
  return { ok: problems.length === 0, problems, rows };
}

