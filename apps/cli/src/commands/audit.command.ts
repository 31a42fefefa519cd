/**
 * `modgate audit verify | export | check-export | public-key`: the auditor's
 * side of the audit log. check-export works offline, with nothing but the
 * file, its manifest and the registry's public key.
 */
import { createPublicKey } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkExport, type SignedManifest } from '@modgate/auditlog';
import type { Command } from 'commander';
import { registryFrom, tokenFor } from '../credentials';
import { formatBytes } from '../progress';

export interface AuditIo {
  readonly out: (line: string) => void;
  readonly env: Record<string, string | undefined>;
  readonly progress: NodeJS.WriteStream | null;
}

const defaultIo: AuditIo = { out: (l) => process.stdout.write(`${l}\n`), env: process.env, progress: process.stderr.isTTY ? process.stderr : null };

interface Conn {
  registry?: string;
  netrc?: string;
}

export function registerAuditCommand(program: Command, io: AuditIo = defaultIo): void {
  const audit = program.command('audit').description('the tamper-evident audit log (role auditor or admin, a token with the audit scope)');
  const conn = (c: Command) => c.option('--registry <url>', 'the ModGate URL (default: $MODGATE_REGISTRY)').option('--netrc <path>', 'the .netrc to take the token from');

  conn(audit.command('verify').description('walk the hash chain on the registry: the first broken sequence number, or the head hash and row count')).action(async (o: Conn) => {
    const r = (await getJson(await connect(o, io), '/api/v1/audit/verify')) as { ok: boolean; rows: number; headSeq: number; headHash: string; brokenAt?: number; problem?: string; fromSeq: number };
    if (!r.ok) {
      io.out(`BROKEN at sequence number ${r.brokenAt}: ${r.problem}`);
      process.exitCode = 1;
      return;
    }
    io.out(`intact: ${r.rows} rows (${r.fromSeq + 1}…${r.headSeq}), head hash ${r.headHash}`);
  });

  conn(
    audit
      .command('export')
      .description('download a range as CSV or JSON Lines, with its signed manifest (<file>.manifest.json)')
      .requiredOption('-o, --output <file>', 'where to write the export')
      .option('--format <format>', 'csv or jsonl', 'jsonl')
      .option('--from <time>', 'ISO 8601, inclusive')
      .option('--to <time>', 'ISO 8601, exclusive')
      .option('--principal <login>')
      .option('--team <name>')
      .option('--module <prefix>')
      .option('--action <action>', 'e.g. download.zip or download.*')
      .option('--outcome <outcome>', 'allowed, denied or error'),
  ).action(async (o: Conn & Record<string, string | undefined>) => {
    const c = await connect(o, io);
    const q = new URLSearchParams({ format: o.format ?? 'jsonl' });
    for (const k of ['from', 'to', 'principal', 'team', 'module', 'action', 'outcome']) if (o[k]) q.set(k, o[k]!);
    const { res, part, bytes } = await download(c, `/api/v1/audit/export?${q}`, o.output!, io, 'the export');
    const id = String(res.headers['x-modgate-export-id'] ?? '');
    await saveWithManifest(io, part, o.output!, (await getJson(c, `/api/v1/audit/exports/${id}/manifest`)) as SignedManifest, bytes);
  });

  conn(audit.command('archives').description('list the monthly archives retention moved out of the database, oldest first')).action(async (o: Conn) => {
    const list = (await getJson(await connect(o, io), '/api/v1/audit/archives')) as Array<{ month: string; firstSeq: number; lastSeq: number; rows: number; lastHash: string }>;
    if (list.length === 0) io.out('no archives (nothing has been past MODGATE_AUDIT_RETENTION_DAYS yet)');
    for (const a of list) io.out(`${a.month}  ${a.firstSeq}…${a.lastSeq}  ${a.rows} rows  last hash ${a.lastHash}`);
  });

  conn(
    audit
      .command('archive')
      .description('download an archive (by month, YYYY-MM, or first sequence number) with its signed manifest (<file>.manifest.json)')
      .argument('<month-or-first-seq>')
      .requiredOption('-o, --output <file>', 'where to write the JSON Lines file'),
  ).action(async (which: string, o: Conn & { output: string }) => {
    const c = await connect(o, io);
    const list = (await getJson(c, '/api/v1/audit/archives')) as Array<{ month: string; firstSeq: number; file: string; manifest: string }>;
    const a = list.find((x) => x.month === which || String(x.firstSeq) === which);
    if (!a) throw new Error(`no archive ${which}; "modgate audit archives" lists them`);
    const { part, bytes } = await download(c, a.file, o.output, io, `the archive ${a.month}`);
    await saveWithManifest(io, part, o.output, (await getJson(c, a.manifest)) as SignedManifest, bytes);
  });

  audit
    .command('check-export')
    .description('offline: check an export against its signed manifest and the public key')
    .argument('<file>')
    .argument('<manifest>')
    .requiredOption('--public-key <pem>', 'the registry audit public key (modgate audit public-key > modgate-audit.pem)')
    .action(async (file: string, manifestFile: string, o: { publicKey: string }) => {
      const signed = JSON.parse(await readFile(manifestFile, 'utf8')) as SignedManifest;
      const pem = await readFile(o.publicKey, 'utf8');
      try {
        createPublicKey(pem);
      } catch {
        io.out(`FAILED: ${o.publicKey} is not a public key (PEM); get it with "modgate audit public-key"`);
        process.exitCode = 1;
        return;
      }
      const r = await checkExport(() => createReadStream(file), signed, pem);
      if (!r.ok) {
        for (const p of r.problems) io.out(`FAILED: ${p}`);
        process.exitCode = 1;
        return;
      }
      const m = signed.manifest;
      io.out(`OK: ${r.rows} rows (${m.firstSeq ?? '-'}…${m.lastSeq ?? '-'}), sha256 ${m.sha256}, every row matches its hash, signed by ${m.keyId}`);
    });

  audit
    .command('public-key')
    .description('print the registry audit public key (PEM), to keep for offline checks')
    .option('--registry <url>', 'the ModGate URL (default: $MODGATE_REGISTRY)')
    .action(async (o: { registry?: string }) => {
      const registry = registryFrom(o.registry, io.env);
      const r = (await getJson({ registry, token: null }, '/api/v1/audit/public-key')) as { publicKey: string };
      process.stdout.write(r.publicKey);
    });
}

/** Streams a GET into <output>.part (removed if it breaks off), with a progress line on a terminal. */
async function download(c: { registry: string; token: string | null }, path: string, output: string, io: AuditIo, what: string): Promise<{ res: IncomingMessage; part: string; bytes: number }> {
  const res = await get(c, path);
  if ((res.statusCode ?? 0) >= 400) throw new Error(await errorOf(res));
  const part = `${output}.part`;
  let bytes = 0;
  let last = 0;
  const count = new Transform({
    transform(chunk: Buffer, _e, done) {
      bytes += chunk.length;
      if (io.progress && Date.now() - last > 100) {
        last = Date.now();
        io.progress.write(`\r  ${formatBytes(bytes)} received`);
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(res, count, createWriteStream(part));
  } catch (err) {
    await rm(part, { force: true });
    throw new Error(`${what} broke off after ${formatBytes(bytes)}: ${(err as Error).message}`);
  }
  if (io.progress) io.progress.write(`\r  ${formatBytes(bytes)} received\n`);
  return { res, part, bytes };
}

/** The finished download takes its name, its manifest goes beside it, and the user learns how to check both. */
async function saveWithManifest(io: AuditIo, part: string, output: string, signed: SignedManifest, bytes: number): Promise<void> {
  await rename(part, output);
  await writeFile(`${output}.manifest.json`, `${JSON.stringify(signed, null, 2)}\n`);
  const m = signed.manifest;
  io.out(`${output}: ${m.rows} rows (${m.firstSeq ?? '-'}…${m.lastSeq ?? '-'}), ${formatBytes(bytes)}, sha256 ${m.sha256}`);
  io.out(`${output}.manifest.json: signed by key ${m.keyId}`);
  io.out(`Check it anywhere with: modgate audit check-export ${output} ${output}.manifest.json --public-key modgate-audit.pem`);
}

async function connect(o: Conn, io: AuditIo): Promise<{ registry: string; token: string | null }> {
  const registry = registryFrom(o.registry, io.env);
  return { registry, token: await tokenFor(registry, io.env, o.netrc, 'audit') };
}

function get(c: { registry: string; token: string | null }, path: string): Promise<IncomingMessage> {
  const u = new URL(`${c.registry}${path}`);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { headers: c.token ? { authorization: `Bearer ${c.token}` } : {} }, resolve);
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot reach ${u.origin}: ${err.code ?? err.message}`)));
    req.end();
  });
}

async function getJson(c: { registry: string; token: string | null }, path: string): Promise<unknown> {
  const res = await get(c, path);
  if ((res.statusCode ?? 0) >= 400) throw new Error(await errorOf(res));
  const chunks: Buffer[] = [];
  for await (const x of res) chunks.push(x as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function errorOf(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const x of res) chunks.push(x as Buffer);
  try {
    return (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: string }).message ?? `the registry answered ${res.statusCode}`;
  } catch {
    return `the registry answered ${res.statusCode}`;
  }
}
