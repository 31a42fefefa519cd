// Signed manifests and the offline check: an untouched export passes with the
// registry's public key; a changed byte, another key, or a manifest edited
// after signing (row count, hash, range) fails. Exports are built here exactly
// as the registry writes them (format.ts lines, SHA-256 of the bytes, Ed25519
// over canonicalJson(manifest)).
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chainHash, chainRows, GENESIS } from './chain';
import type { AuditEvent, AuditRow } from './event';
import { csvHeader, csvLine, jsonlLine, type ExportFormat } from './format';
import { canonicalJson, checkExport, keyIdOf, verifySignature, type ExportManifest, type SignedManifest } from './manifest';

interface Keys {
  readonly privateKey: KeyObject;
  readonly publicPem: string;
}

function keys(): Keys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

const registry = keys();
const other = keys();

function event(i: number): AuditEvent {
  return {
    at: new Date(Date.parse('2026-11-20T08:00:00.000Z') + i * 60_000),
    principalKind: i % 7 === 0 ? 'service' : 'user',
    principalId: null,
    principal: ['alice', 'bob', 'ci-bot'][i % 3],
    tokenId: `t${i % 4}`,
    teams: i % 2 ? ['payments'] : [],
    sourceIp: '10.1.2.3',
    userAgent: i % 5 === 0 ? 'Gö-client, "v1"\n🦊' : 'Go-http-client/1.1',
    requestId: `r${i}`,
    action: i % 3 === 0 ? 'download.zip' : 'download.info',
    module: `corp.example.com/m${i % 4}`,
    version: `v1.0.${i}`,
    outcome: 'allowed',
    status: 200,
    reason: i % 6 === 0 ? '' : null,
    bytes: i % 3 === 0 ? 1000 + i : null,
    details: null,
  };
}

const chain: AuditRow[] = chainRows(0, GENESIS, Array.from({ length: 40 }, (_, i) => event(i + 1)));

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function signWith(k: Keys, manifest: ExportManifest): SignedManifest {
  return { manifest, signature: sign(null, Buffer.from(canonicalJson(manifest)), k.privateKey).toString('base64') };
}

/** An export of `rows` and its manifest, signed by `k` (the registry's key unless given). */
function exportOf(rows: readonly AuditRow[], format: ExportFormat, k: Keys = registry, filters: Record<string, string> = {}): { file: Buffer; signed: SignedManifest } {
  const file = Buffer.from((format === 'csv' ? csvHeader() : '') + rows.map(format === 'csv' ? csvLine : jsonlLine).join(''), 'utf8');
  const last = rows[rows.length - 1];
  const manifest: ExportManifest = {
    kind: 'modgate-audit-export',
    version: 1,
    id: '0b8f6c1e-5d2a-4f3b-9c7e-1a2b3c4d5e6f',
    format,
    filters,
    createdAt: '2026-11-21T00:00:00.000Z',
    createdBy: 'carol',
    rows: rows.length,
    firstSeq: rows[0]?.seq ?? null,
    lastSeq: last?.seq ?? null,
    lastHash: last?.hash.toString('hex') ?? null,
    headSeq: chain.length,
    sha256: sha256Hex(file),
    bytes: file.length,
    keyId: keyIdOf(k.publicPem),
  };
  return { file, signed: signWith(k, manifest) };
}

/** The file as checkExport reads it: Buffers of `size` bytes (splitting UTF-8 sequences). */
function reader(file: Buffer, size = 1 << 16): () => AsyncIterable<Buffer> {
  return async function* () {
    for (let i = 0; i < file.length; i += size) yield file.subarray(i, i + size);
  };
}

const check = (file: Buffer, signed: SignedManifest, pem = registry.publicPem, size?: number) => checkExport(reader(file, size), signed, pem);

/** The same length, one byte different. */
function flipByte(file: Buffer, at: number): Buffer {
  const out = Buffer.from(file);
  out[at] = out[at] === 0x30 ? 0x31 : 0x30;
  return out;
}

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('writes Dates as ISO 8601', () => {
    expect(canonicalJson({ at: new Date('2026-01-02T03:04:05.006Z') })).toBe('{"at":"2026-01-02T03:04:05.006Z"}');
  });

  it('does not depend on key insertion order', () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });
});

describe('keyIdOf and verifySignature', () => {
  it('is a 16-character base64url fingerprint, the same for the same key, different for another', () => {
    const id = keyIdOf(registry.publicPem);
    expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(keyIdOf(registry.publicPem.replace(/\n/g, '\r\n'))).toBe(id);
    expect(keyIdOf(other.publicPem)).not.toBe(id);
  });

  it('verifies the key’s own signature and nothing else', () => {
    const sig = sign(null, Buffer.from('data'), registry.privateKey).toString('base64');
    expect(verifySignature(registry.publicPem, 'data', sig)).toBe(true);
    expect(verifySignature(registry.publicPem, 'datA', sig)).toBe(false);
    expect(verifySignature(other.publicPem, 'data', sig)).toBe(false);
    expect(verifySignature(registry.publicPem, 'data', 'not base64 at all!')).toBe(false);
    expect(verifySignature('not a PEM', 'data', sig)).toBe(false);
  });
});

describe.each<ExportFormat>(['jsonl', 'csv'])('checkExport (%s)', (format) => {
  const { file, signed } = exportOf(chain, format);

  it('passes an untouched export', async () => {
    await expect(check(file, signed)).resolves.toEqual({ ok: true, problems: [], rows: chain.length });
  });

  it.each([1, 3, 100])('passes it read in %i-byte chunks (UTF-8 sequences split across chunks)', async (size) => {
    await expect(check(file, signed, registry.publicPem, size)).resolves.toMatchObject({ ok: true, rows: chain.length });
  });

  it('passes a manifest that went through JSON (as the CLI reads it from a file)', async () => {
    await expect(check(file, JSON.parse(JSON.stringify(signed, null, 2)))).resolves.toMatchObject({ ok: true });
  });

  it('passes a filtered export (seq numbers with gaps)', async () => {
    const some = chain.filter((r) => r.principal === 'bob');
    const x = exportOf(some, format, registry, { principal: 'bob' });
    await expect(check(x.file, x.signed)).resolves.toEqual({ ok: true, problems: [], rows: some.length });
  });

  it('passes an empty export', async () => {
    const x = exportOf([], format);
    await expect(check(x.file, x.signed)).resolves.toEqual({ ok: true, problems: [], rows: 0 });
  });

  it.each([0.5, 0.1, 0.9])('fails when one byte (at %f of the file) changes', async (where) => {
    const r = await check(flipByte(file, Math.floor(file.length * where)), signed);
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual(expect.stringMatching(/SHA-256 or size differs/));
  });

  it('fails when one byte of a hex hash changes (the row no longer matches)', async () => {
    const at = file.indexOf(chain[20].hash.toString('hex')) + 10;
    const r = await check(flipByte(file, at), signed);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.stringMatching(/SHA-256/), 'row 21 does not match its hash']);
  });

  it('fails when the last row is cut off', async () => {
    const cut = exportOf(chain.slice(0, -1), format).file;
    const r = await check(cut, signed);
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual(expect.stringMatching(/SHA-256 or size/));
  });

  it('fails with another public key (signature and key id)', async () => {
    const r = await check(file, signed, other.publicPem);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(expect.arrayContaining([expect.stringMatching(/signature does not verify/), expect.stringMatching(/signed with key .* not with this public key/)]));
  });

  it('fails when the row count in the manifest was changed after signing', async () => {
    const r = await check(file, { ...signed, manifest: { ...signed.manifest, rows: chain.length - 1 } });
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual(expect.stringMatching(/signature does not verify/));
  });

  it.each<[string, Partial<ExportManifest>]>([
    ['lastSeq', { lastSeq: 39 }],
    ['lastHash', { lastHash: chain[38].hash.toString('hex') }],
    ['filters', { filters: { principal: 'alice' } }],
    ['createdBy', { createdBy: 'mallory' }],
  ])('fails when %s in the manifest was changed after signing', async (_f, change) => {
    const r = await check(file, { ...signed, manifest: { ...signed.manifest, ...change } });
    expect(r.problems).toContainEqual(expect.stringMatching(/signature does not verify/));
  });

  it('fails when the file was edited and the manifest’s SHA-256 and size updated without the key', async () => {
    const edited = flipByte(file, Math.floor(file.length / 2));
    const r = await check(edited, { ...signed, manifest: { ...signed.manifest, sha256: sha256Hex(edited), bytes: edited.length } });
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual(expect.stringMatching(/signature does not verify/));
  });

  it('fails a consistent forgery (rows re-hashed, manifest re-signed) with the registry’s key', async () => {
    const forged = chainRows(0, GENESIS, chain.map((r, i) => (i === 10 ? { ...r, principal: 'mallory' } : r)));
    const x = exportOf(forged, format, other);
    await expect(check(x.file, x.signed, other.publicPem)).resolves.toMatchObject({ ok: true }); // self-consistent…
    const r = await check(x.file, x.signed, registry.publicPem); // …but not the registry's
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(2);
  });

  it('reports a row that does not match its hash, even in a correctly signed file', async () => {
    const bad = chain.map((r) => (r.seq === 17 ? { ...r, reason: 'edited' } : r));
    const x = exportOf(bad, format);
    const r = await check(x.file, x.signed);
    expect(r).toMatchObject({ ok: false, problems: ['row 17 does not match its hash'] });
  });

  it('reports consecutive rows that do not link', async () => {
    const relinked = chain.map((r) => {
      if (r.seq !== 17) return r;
      const moved = { ...r, prevHash: Buffer.alloc(32, 7) };
      return { ...moved, hash: chainHash(moved.prevHash, moved.seq, moved) };
    });
    const x = exportOf(relinked, format);
    await expect(check(x.file, x.signed)).resolves.toMatchObject({ ok: false, problems: ['row 17 does not link to row 16'] });
  });

  it('reports rows out of order', async () => {
    const swapped = [...chain];
    [swapped[5], swapped[6]] = [swapped[6], swapped[5]];
    const x = exportOf(swapped, format);
    const r = await check(x.file, x.signed);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/row 6 is out of order/);
  });

  it('reports a row count or range that differs from a correctly signed manifest', async () => {
    const x = exportOf(chain, format);
    const lie = signWith(registry, { ...x.signed.manifest, rows: 41 });
    await expect(check(x.file, lie)).resolves.toMatchObject({ ok: false, problems: ['the file has 40 rows; the manifest says 41'] });
    const range = signWith(registry, { ...x.signed.manifest, firstSeq: 2 });
    await expect(check(x.file, range)).resolves.toMatchObject({ ok: false, problems: ['the seq range differs from the manifest'] });
    const head = signWith(registry, { ...x.signed.manifest, lastHash: chain[0].hash.toString('hex') });
    await expect(check(x.file, head)).resolves.toMatchObject({ ok: false, problems: ["the last row's hash differs from the manifest"] });
  });

  it('reports a file that does not parse', async () => {
    const junk = Buffer.from(format === 'csv' ? 'not,a,modgate,export\r\n' : '{"seq":1,\n');
    const x = signWith(registry, { ...exportOf([], format).signed.manifest, sha256: sha256Hex(junk), bytes: junk.length });
    const r = await check(junk, x);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(new RegExp(`does not parse as ${format}`));
  });
});

describe('checkExport across formats', () => {
  it('fails a CSV file checked against a JSON Lines manifest', async () => {
    const csv = exportOf(chain, 'csv');
    const jsonl = exportOf(chain, 'jsonl');
    const r = await check(csv.file, jsonl.signed);
    expect(r.ok).toBe(false);
  });
});

describe('checkExport of an archive (a whole stretch of the chain)', () => {
  /** An archive of rows as retention writes one: every row of the range, linked to the hash before it. */
  function archiveOf(rows: readonly AuditRow[], previousHash: string): { file: Buffer; signed: SignedManifest } {
    const { file, signed } = exportOf(rows, 'jsonl');
    const last = rows[rows.length - 1];
    return { file, signed: signWith(registry, { ...signed.manifest, kind: 'modgate-audit-archive', previousHash, continuesFrom: last.hash.toString('hex') }) };
  }
  const first = chain.slice(0, 20);
  const second = chain.slice(20);

  it('passes consecutive archives that link: the genesis, then the first one’s last hash', async () => {
    const a = archiveOf(first, GENESIS.toString('hex'));
    const b = archiveOf(second, first[first.length - 1].hash.toString('hex'));
    await expect(check(a.file, a.signed)).resolves.toEqual({ ok: true, problems: [], rows: 20 });
    await expect(check(b.file, b.signed)).resolves.toEqual({ ok: true, problems: [], rows: 20 });
  });

  it('fails an archive that does not start where the chain before it ended', async () => {
    const b = archiveOf(second, GENESIS.toString('hex'));
    await expect(check(b.file, b.signed)).resolves.toMatchObject({ ok: false, problems: [expect.stringMatching(/^row 21, the first, does not link to the chain before it/)] });
  });

  it('fails an archive with a row left out, although an export may have gaps', async () => {
    const holed = first.filter((r) => r.seq !== 9);
    const a = archiveOf(holed, GENESIS.toString('hex'));
    await expect(check(a.file, a.signed)).resolves.toMatchObject({ ok: false, problems: ['rows 9…9 are missing from the archive'] });
    const x = exportOf(holed, 'jsonl');
    await expect(check(x.file, x.signed)).resolves.toMatchObject({ ok: true });
  });
});
