// Audit rows as files: JSON Lines and CSV, both lossless (every field of a
// row comes back exactly, so its hash can be recomputed from the file alone).
import type { AuditRow } from './event';

/** Column order of CSV exports (and key order of JSON Lines). */
export const COLUMNS = [
  'seq', 'at', 'principalKind', 'principalId', 'principal', 'tokenId', 'teams', 'sourceIp', 'userAgent', 'requestId',
  'action', 'module', 'version', 'outcome', 'status', 'reason', 'bytes', 'details', 'prevHash', 'hash',
] as const;

export type ExportFormat = 'csv' | 'jsonl';

/** The plain-JSON shape of a row in an export. */
export function rowJson(r: AuditRow): Record<(typeof COLUMNS)[number], unknown> {
  return {
    seq: r.seq,
    at: r.at.toISOString(),
    principalKind: r.principalKind,
    principalId: r.principalId,
    principal: r.principal,
    tokenId: r.tokenId,
    teams: r.teams,
    sourceIp: r.sourceIp,
    userAgent: r.userAgent,
    requestId: r.requestId,
    action: r.action,
    module: r.module,
    version: r.version,
    outcome: r.outcome,
    status: r.status,
    reason: r.reason,
    bytes: r.bytes,
    details: r.details,
    prevHash: r.prevHash.toString('hex'),
    hash: r.hash.toString('hex'),
  };
}

export function jsonlLine(r: AuditRow): string {
  return `${JSON.stringify(rowJson(r))}\n`;
}

export function csvHeader(): string {
  return `${COLUMNS.join(',')}\n`;
}

/** RFC 4180 with LF line ends (as PostgreSQL writes CSV); null is an empty field, '' is `""`, teams a JSON array. */
export function csvLine(r: AuditRow): string {
  const j = rowJson(r);
  return `${COLUMNS.map((c) => csvField(c === 'teams' ? JSON.stringify(j[c]) : j[c])).join(',')}\n`;
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return s === '' || /[",\r\n]/.test(s) || s.trim() !== s ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A row back from its JSON shape. */
export function rowFromJson(j: Record<string, unknown>): AuditRow {
  return {
    seq: Number(j.seq),
    at: new Date(String(j.at)),
    principalKind: j.principalKind as AuditRow['principalKind'],
    principalId: (j.principalId as string | null) ?? null,
    principal: String(j.principal),
    tokenId: (j.tokenId as string | null) ?? null,
    teams: (j.teams as string[]) ?? [],
    sourceIp: (j.sourceIp as string | null) ?? null,
    userAgent: (j.userAgent as string | null) ?? null,
    requestId: (j.requestId as string | null) ?? null,
    action: String(j.action),
    module: (j.module as string | null) ?? null,
    version: (j.version as string | null) ?? null,
    outcome: j.outcome as AuditRow['outcome'],
    status: j.status === null || j.status === undefined ? null : Number(j.status),
    reason: (j.reason as string | null) ?? null,
    bytes: j.bytes === null || j.bytes === undefined ? null : Number(j.bytes),
    details: (j.details as string | null) ?? null,
    prevHash: Buffer.from(String(j.prevHash), 'hex'),
    hash: Buffer.from(String(j.hash), 'hex'),
  };
}

/**
 * Reads an export (as text chunks) back into rows, one at a time: JSON
 * Lines, or CSV with the header above. Throws on a malformed line.
 */
export async function* parseExport(chunks: AsyncIterable<string>, format: ExportFormat): AsyncGenerator<AuditRow> {
  if (format === 'jsonl') {
    for await (const line of lines(chunks)) if (line !== '') yield rowFromJson(JSON.parse(line));
    return;
  }
  let header = true;
  for await (const fields of csvRecords(chunks)) {
    if (header) {
      if (fields.join(',') !== COLUMNS.join(',')) throw new Error('not a ModGate audit CSV export (unexpected header)');
      header = false;
      continue;
    }
    const j: Record<string, unknown> = {};
    COLUMNS.forEach((c, i) => (j[c] = fields[i]));
    j.teams = JSON.parse(String(j.teams ?? '[]'));
    yield rowFromJson(j);
  }
}

async function* lines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let rest = '';
  for await (const c of chunks) {
    rest += c;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== '') yield rest;
}

/** CSV records; an unquoted empty field is null, a quoted one ''. */
async function* csvRecords(chunks: AsyncIterable<string>): AsyncGenerator<Array<string | null>> {
  let fields: Array<string | null> = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  let pendingQuote = false;
  let any = false;
  const endField = () => {
    fields.push(field === '' && !quoted ? null : field);
    field = '';
    quoted = false;
  };
  for await (const chunk of chunks) {
    for (const ch of chunk) {
      if (inQuotes) {
        if (pendingQuote) {
          pendingQuote = false;
          if (ch === '"') {
            field += '"';
            continue;
          }
          inQuotes = false;
        } else if (ch === '"') {
          pendingQuote = true;
          continue;
        } else {
          field += ch;
          continue;
        }
      }
      any = true;
      if (ch === '"' && field === '' && !quoted) {
        inQuotes = true;
        quoted = true;
      } else if (ch === ',') endField();
      else if (ch === '\n') {
        endField();
        yield fields;
        fields = [];
        any = false;
      } else if (ch !== '\r') field += ch;
    }
  }
  if (pendingQuote) inQuotes = false;
  if (inQuotes) throw new Error('CSV ends inside a quoted field');
  if (any) {
    endField();
    yield fields;
  }
}
