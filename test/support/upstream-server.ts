// A local upstream GOPROXY: serves a module-tree.ts directory file by file,
// records every request (tests assert that private paths never leave
// ModGate) and lets a test take over requests to inject faults.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

export interface UpstreamRequest {
  method: string;
  /** Percent-decoded URL path, base path included; module paths stay
   *  case-encoded: /github.com/!corp/!thing/@v/list. */
  path: string;
  /** The path exactly as sent: Go 1.19 percent-encodes `!` (%21) but not `+`. */
  rawPath: string;
  /** Final status; 0 until answered, and for requests that never were. */
  status: number;
  /** The Authorization header, when one was sent (netrc tests). */
  authorization?: string;
}

/** What the server would have served for this request. */
export interface FaultContext {
  /** Decoded path below the base path, e.g. /github.com/!corp/!thing/@v/list. */
  path: string;
  /** File that would be served, or null if none exists. */
  file: string | null;
}

/** Returns true when it has taken over (and will finish) the response. */
export type Fault = (req: IncomingMessage, res: ServerResponse, ctx: FaultContext) => boolean;

export interface UpstreamOptions {
  /** Serve below this path (the proxy URL then has a path), e.g. /goproxy. */
  basePath?: string;
  /** Serve https with this certificate (see tls.ts) instead of http. */
  tls?: { certFile: string; keyFile: string };
  /** Relay checksum database `name` at /sumdb/<name>/..., as proxy.golang.org
   *  does for sum.golang.org; then GOSUMDB=<vkey> alone reaches it. */
  sumdbRelay?: { name: string; url: string };
}

export interface Upstream {
  /** Base URL for GOPROXY, without a trailing slash. */
  url: string;
  requests: UpstreamRequest[];
  setFault(fault: Fault | null): void;
  /** Closes the listener and every open connection, hung ones included. */
  stop(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.info': 'application/json',
  '.mod': 'text/plain; charset=utf-8',
  '.zip': 'application/zip',
};

export async function startUpstream(dir: string, opts: UpstreamOptions = {}): Promise<Upstream> {
  const root = resolve(dir);
  const base = (opts.basePath ?? '').replace(/\/+$/, '');
  const requests: UpstreamRequest[] = [];
  let fault: Fault | null = null;
  const relay = opts.sumdbRelay && { prefix: `/sumdb/${opts.sumdbRelay.name}/`, url: opts.sumdbRelay.url };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const rawPath = (req.url ?? '/').split('?')[0];
    const rec: UpstreamRequest = { method: req.method ?? '', path: safeDecode(rawPath) ?? rawPath, rawPath, status: 0 };
    if (req.headers.authorization) rec.authorization = req.headers.authorization;
    requests.push(rec);
    res.on('close', () => {
      rec.status = res.headersSent ? res.statusCode : 0;
    });

    const path = decodeBelowBase(rawPath, base);
    const file = path === null ? null : existingFile(root, path);
    if (fault && fault(req, res, { path: path ?? rawPath, file })) return;

    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
    if (relay && path?.startsWith(relay.prefix)) return relaySumdb(path.slice(relay.prefix.length), relay.url, res);
    if (path === null) return sendText(res, 404, `not found: ${rawPath}\n`);
    // A missing file is 404 (so the go command falls through and probes
    // shorter module paths); that includes @latest unless a test wrote one.
    if (file === null) return sendText(res, 404, `not found: ${path}\n`);
    const size = statSync(file).size;
    res.writeHead(200, { 'Content-Type': contentTypes[extname(file)] ?? 'text/plain; charset=utf-8', 'Content-Length': size });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  };

  const server: Server = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, handle)
    : createHttpServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}${base}`,
    requests,
    setFault: (f) => {
      fault = f;
    },
    stop: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

/** The decoded path below base, or null if outside it or malformed. */
function decodeBelowBase(rawPath: string, base: string): string | null {
  if (base !== '' && rawPath !== base && !rawPath.startsWith(`${base}/`)) return null;
  return safeDecode(rawPath.slice(base.length));
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The regular file at root+path, refusing anything that escapes root. */
function existingFile(root: string, path: string): string | null {
  const file = join(root, path);
  if (!file.startsWith(root + sep)) return null;
  try {
    return statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

/** Answers "supported" itself and forwards anything else to the database. */
function relaySumdb(rest: string, sumdbUrl: string, res: ServerResponse): void {
  if (rest === 'supported') return sendText(res, 200, '');
  httpGet(`${sumdbUrl}/${rest}`, (up) => {
    res.writeHead(up.statusCode ?? 502, { 'Content-Type': up.headers['content-type'] ?? 'text/plain; charset=utf-8' });
    up.pipe(res);
  }).on('error', (err) => sendText(res, 502, `sumdb relay: ${err.message}\n`));
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// Ready-made faults. `match` selects requests by decoded path.
type Match = RegExp | ((path: string) => boolean);
const matches = (m: Match, path: string): boolean => (m instanceof RegExp ? m.test(path) : m(path));

/** Answers matching requests with status and a text/plain body. */
export function failWith(match: Match, status: number, body = `injected ${status}\n`): Fault {
  return (_req, res, ctx) => {
    if (!matches(match, ctx.path)) return false;
    sendText(res, status, body);
    return true;
  };
}

/** Never answers matching requests (until stop() closes the connection). */
export function hang(match: Match): Fault {
  return (_req, _res, ctx) => matches(match, ctx.path);
}

/** Promises the full Content-Length, sends half the file, then resets the socket. */
export function truncateBody(match: Match): Fault {
  return (_req, res, ctx) => {
    if (!matches(match, ctx.path) || ctx.file === null) return false;
    const data = readFileSync(ctx.file);
    res.writeHead(200, { 'Content-Length': data.length });
    res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.destroy());
    return true;
  };
}

/** Serves the file with one byte flipped in the middle and an honest length. */
export function corruptBody(match: Match): Fault {
  return (_req, res, ctx) => {
    if (!matches(match, ctx.path) || ctx.file === null) return false;
    const data = Buffer.from(readFileSync(ctx.file));
    data[Math.floor(data.length / 2)] ^= 0xff;
    res.writeHead(200, { 'Content-Length': data.length });
    res.end(data);
    return true;
  };
}
