// Export files: CSV and JSON Lines give every field of every row back exactly
// (null apart from "", separators, quotes, line breaks, unicode, team arrays),
// so each row's hash can be recomputed from the file alone, however the file
// is cut into chunks.
import { chainHash, chainRows, GENESIS } from './chain';
import type { AuditEvent, AuditRow } from './event';
import { COLUMNS, csvHeader, csvLine, jsonlLine, parseExport, rowFromJson, rowJson, type ExportFormat } from './format';

const base: AuditEvent = {
  at: new Date('2026-11-20T08:00:00.000Z'),
  principalKind: 'user',
  principalId: '6f1c2a8e-4b7d-4c3e-9a21-0d5e8f7b1c01',
  principal: 'alice',
  tokenId: 'tok1',
  teams: ['payments'],
  sourceIp: '10.0.0.7',
  userAgent: 'Go-http-client/1.1',
  requestId: 'req-1',
  action: 'download.zip',
  module: 'corp.example.com/payments/ledger',
  version: 'v1.2.3',
  outcome: 'allowed',
  status: 200,
  reason: null,
  bytes: 1234,
  details: null,
};

const NULLABLE_TEXT = ['principalId', 'tokenId', 'sourceIp', 'userAgent', 'requestId', 'module', 'version', 'reason', 'details'] as const;

// Each case is one row; together they cover what a CSV or JSON writer gets wrong.
const cases: Array<[string, Partial<AuditEvent>]> = [
  ['plain', {}],
  ...NULLABLE_TEXT.filter((f) => f !== 'principalId').flatMap((f): Array<[string, Partial<AuditEvent>]> => [
    [`${f} null`, { [f]: null }],
    [`${f} ""`, { [f]: '' }],
  ]),
  ['principalId null', { principalId: null }],
  ['principal ""', { principal: '' }],
  ['every nullable field null', { principalId: null, tokenId: null, sourceIp: null, userAgent: null, requestId: null, module: null, version: null, status: null, reason: null, bytes: null, details: null }],
  ['every nullable text field ""', { tokenId: '', sourceIp: '', userAgent: '', requestId: '', module: '', version: '', reason: '', details: '' }],
  ['status and bytes null', { status: null, bytes: null }],
  ['bytes 0', { bytes: 0 }],
  ['bytes 2^53-1', { bytes: Number.MAX_SAFE_INTEGER }],
  ['commas', { reason: 'a,b,,c,', userAgent: ',' }],
  ['quotes', { reason: 'say "hi" and ""', userAgent: '"' }],
  ['a quote only at the start', { reason: '"quoted" then text' }],
  ['newline', { reason: 'line one\nline two' }],
  ['CRLF and CR', { reason: 'one\r\ntwo\rthree\r\n' }],
  ['only line breaks', { reason: '\n', userAgent: '\r\n' }],
  ['leading and trailing spaces', { reason: '  padded  ', userAgent: ' ', requestId: '\t' }],
  ['the text "null"', { reason: 'null', userAgent: 'NULL' }],
  ['looks like a number', { reason: '007', version: '1e3' }],
  ['unicode in user agent and reason', { userAgent: 'Mözïllä/5.0 (日本語; Ελληνικά) 🦊 ﬁ', reason: 'refusé: “ŝtrange” — 💥 ‮rtl‬ é (e + combining acute)' }],
  ['astral and zero-width', { reason: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢\u200b\ufeff\u2028\u2029' }],
  ['backslashes', { reason: 'C:\\path\\"x"\\', userAgent: '\\' }],
  ['tabs', { reason: 'a\tb' }],
  ['details JSON with quotes and commas', { details: '{"after":{"name":"a,b","note":"say \\"x\\""},"before":null}' }],
  ['teams empty', { teams: [] }],
  ['teams several', { teams: ['payments', 'platform', 'web'] }],
  ['teams with separators, quotes, unicode', { teams: ['a,b', 'q"uote', 'ünï', 'line\nbreak', ' sp ', ''] }],
  ['teams that look like JSON', { teams: ['[]', '["x"]', 'null'] }],
  ['anonymous', { principalKind: 'anonymous', principal: 'anonymous', principalId: null, tokenId: null, teams: [] }],
  ['service, denied', { principalKind: 'service', outcome: 'denied', status: 403, reason: 'forbidden: ci may not read corp.example.com/x' }],
  ['error outcome', { outcome: 'error', status: 500 }],
  ['milliseconds', { at: new Date('2026-12-31T23:59:59.999Z') }],
  ['before 1970', { at: new Date('1969-07-20T20:17:40.001Z') }],
  ['IPv6 source', { sourceIp: '2001:db8::1' }],
];

const rows: AuditRow[] = chainRows(
  1_000_000_000_000 - 1,
  GENESIS,
  cases.map(([, over]) => ({ ...base, ...over })),
);

function fileOf(format: ExportFormat, rs: readonly AuditRow[] = rows): string {
  return (format === 'csv' ? csvHeader() : '') + rs.map(format === 'csv' ? csvLine : jsonlLine).join('');
}

async function* chunksOf(text: string, size: number): AsyncGenerator<string> {
  const cps = [...text]; // never split a surrogate pair: parseExport takes decoded text
  for (let i = 0; i < cps.length; i += size) yield cps.slice(i, i + size).join('');
}

async function parse(text: string, format: ExportFormat, chunk = 1 << 20): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  for await (const r of parseExport(chunksOf(text, chunk), format)) out.push(r);
  return out;
}

/** Every field, with Buffers and Dates in comparable form. */
function plain(r: AuditRow): Record<string, unknown> {
  return { ...r, at: r.at.toISOString(), prevHash: r.prevHash.toString('hex'), hash: r.hash.toString('hex'), teams: [...r.teams] };
}

describe.each<ExportFormat>(['csv', 'jsonl'])('%s export', (format) => {
  it.each(cases.map(([name], i) => [name, i] as const))('round-trips every field exactly: %s', async (_name, i) => {
    const [back] = await parse(fileOf(format, [rows[i]]), format);
    expect(plain(back)).toStrictEqual(plain(rows[i]));
    expect(back.at).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(back.prevHash) && Buffer.isBuffer(back.hash)).toBe(true);
    expect(chainHash(back.prevHash, back.seq, back).equals(back.hash)).toBe(true);
  });

  it('round-trips a whole file, row order and chain links included', async () => {
    const back = await parse(fileOf(format), format);
    expect(back.map(plain)).toStrictEqual(rows.map(plain));
    for (let i = 1; i < back.length; i++) expect(back[i].prevHash.equals(back[i - 1].hash)).toBe(true);
  });

  it.each([1, 2, 3, 7, 64, 997])('gives the same rows however the text is chunked (%i characters)', async (size) => {
    expect((await parse(fileOf(format), format, size)).map(plain)).toStrictEqual(rows.map(plain));
  });

  it('reads an empty export as no rows', async () => {
    expect(await parse(fileOf(format, []), format)).toEqual([]);
  });

  it('keeps every line break inside a field (a row per line only for JSON Lines)', () => {
    const text = fileOf(format);
    if (format === 'jsonl') expect(text.split('\n').length - 1).toBe(rows.length);
    else expect(text.startsWith(`${COLUMNS.join(',')}\n`)).toBe(true);
  });
});

describe('CSV encoding', () => {
  const fieldsOf = (r: AuditRow) => csvLine(r).slice(0, -1);

  it('writes null as an empty field and "" as ""', () => {
    const r = chainRows(0, GENESIS, [{ ...base, tokenId: null, reason: '' }])[0];
    const line = fieldsOf(r);
    expect(line).toContain(',alice,,"[""payments""]",');
    expect(line).toMatch(/,200,"",1234,,[0-9a-f]{64},[0-9a-f]{64}$/);
  });

  it('quotes fields with separators, quotes, line breaks or edge spaces, and nothing else', () => {
    const r = chainRows(0, GENESIS, [{ ...base, reason: 'a "b", c\nd', userAgent: ' x' }])[0];
    expect(csvLine(r)).toContain(',"a ""b"", c\nd",');
    expect(csvLine(r)).toContain(',10.0.0.7," x",req-1,');
    expect(csvLine(r).startsWith('1,2026-11-20T08:00:00.000Z,user,')).toBe(true);
  });

  it('writes teams as a JSON array', () => {
    const r = chainRows(0, GENESIS, [{ ...base, teams: [] }])[0];
    expect(csvLine(r)).toContain(',alice,tok1,[],10.0.0.7,');
  });

  it('refuses a file without the ModGate header', async () => {
    await expect(parse(`seq,at\r\n${csvLine(rows[0])}`, 'csv')).rejects.toThrow(/unexpected header/);
  });

  it('refuses a file that ends inside a quoted field', async () => {
    await expect(parse(`${csvHeader()}1,"unterminated`, 'csv')).rejects.toThrow(/inside a quoted field/);
  });

  it('reads a last record without its line break', async () => {
    const text = fileOf('csv', rows.slice(0, 2)).replace(/\n$/, '');
    expect((await parse(text, 'csv')).map(plain)).toStrictEqual(rows.slice(0, 2).map(plain));
  });

  it('reads CRLF line ends as well (a file re-saved by a spreadsheet or an editor)', async () => {
    const crlf = [{ ...base, reason: null }, { ...base, reason: 'plain' }];
    const r = chainRows(0, GENESIS, crlf);
    const text = `${csvHeader()}${r.map(csvLine).join('')}`.replace(/\n/g, '\r\n');
    expect((await parse(text, 'csv')).map(plain)).toStrictEqual(r.map(plain));
  });
});

describe('JSON Lines encoding', () => {
  it('writes one object per line with the columns as keys, in order, hashes as hex', () => {
    const line = jsonlLine(rows[0]);
    expect(line.endsWith('\n')).toBe(true);
    const j = JSON.parse(line);
    expect(Object.keys(j)).toEqual([...COLUMNS]);
    expect(j.prevHash).toBe(GENESIS.toString('hex'));
    expect(j.hash).toBe(rows[0].hash.toString('hex'));
    expect(j.seq).toBe(rows[0].seq);
  });

  it('rowFromJson inverts rowJson', () => {
    for (const r of rows) expect(plain(rowFromJson(JSON.parse(JSON.stringify(rowJson(r)))))).toStrictEqual(plain(r));
  });

  it('refuses a malformed line', async () => {
    await expect(parse(`${jsonlLine(rows[0])}{"seq":\n`, 'jsonl')).rejects.toThrow();
  });

  it('skips blank lines', async () => {
    expect(await parse(`\n${jsonlLine(rows[0])}\n\n`, 'jsonl')).toHaveLength(1);
  });
});
