// Publishing in tests: PUT a zip (a file, bytes or a stream) to ModGate's
// upload API as curl -T or a CI job would, and read back the JSON answer.
import { createReadStream, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { escapePath, escapeVersion } from '@modgate/gomod';

export interface PublishAnswer {
  status: number;
  json: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export interface PutOptions {
  token: string;
  /** Query string without '?', e.g. 'allowPseudo=true'. */
  query?: string;
  /** Content-Length to declare (default: the real size; null: chunked). */
  length?: number | null;
  caFile?: string;
  contentType?: string | null;
}

export function publishUrl(base: string, path: string, version: string, query?: string): string {
  return `${base}/api/v1/modules/${escapePath(path)}/@v/${escapeVersion(version)}${query ? `?${query}` : ''}`;
}

/** PUTs body (a file path, bytes or a stream) to the upload API. */
export function putZip(base: string, path: string, version: string, body: string | Buffer | Readable, o: PutOptions): Promise<PublishAnswer> {
  const url = new URL(publishUrl(base, path, version, o.query));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const size = typeof body === 'string' ? statSync(body).size : Buffer.isBuffer(body) ? body.length : null;
  const length = o.length === undefined ? size : o.length;
  const headers: Record<string, string> = { authorization: `Bearer ${o.token}` };
  if (o.contentType !== null) headers['content-type'] = o.contentType ?? 'application/zip';
  if (length !== null) headers['content-length'] = String(length);
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'PUT', headers, ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text);
        } catch {
          json = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
      });
      res.on('error', reject);
    });
    // A refusal may come before the whole body is sent: the answer wins.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
      else setTimeout(() => reject(new Error(`upload cut off (${err.code}) without an answer`)), 5000).unref();
    });
    const source = typeof body === 'string' ? createReadStream(body) : Buffer.isBuffer(body) ? Readable.from([body]) : body;
    source.on('error', () => req.destroy());
    req.flushHeaders(); // the server may answer from the headers alone
    source.pipe(req);
  });
}
