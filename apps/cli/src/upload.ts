/**
 * Streams a file to the registry with a PUT (node:http/https, so the body is
 * never held in memory and progress can be reported). TLS trusts the system
 * CAs plus NODE_EXTRA_CA_CERTS, which Node reads at start.
 */
import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryApiError } from './api-client';

export interface UploadOptions {
  readonly url: string;
  readonly file: string;
  readonly size: number;
  readonly token: string;
  readonly contentType: string;
  /** Called with the bytes sent so far. */
  readonly onProgress?: (sent: number) => void;
}

export interface UploadAnswer {
  readonly status: number;
  readonly json: unknown;
}

export async function uploadFile(o: UploadOptions): Promise<UploadAnswer> {
  const u = new URL(o.url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = request(u, {
    method: 'PUT',
    headers: { authorization: `Bearer ${o.token}`, 'content-type': o.contentType, 'content-length': String(o.size), accept: 'application/json' },
  });
  // The registry may refuse before it has read everything (413, 403): its
  // answer wins over the write error that follows.
  const answer = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      o.onProgress?.(sent);
      done(null, chunk);
    },
  });
  const sending = pipeline(createReadStream(o.file), counter, req).catch((err: unknown) => err);
  let res: IncomingMessage;
  try {
    res = await answer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RegistryApiError(0, 'network', `cannot reach ${u.origin}: ${code ?? (err as Error).message}`);
  }
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  await sending; // settled either way; its error (EPIPE after a refusal) is not the story
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RegistryApiError(res.statusCode ?? 0, 'bad-answer', `${u.origin} answered ${res.statusCode} without JSON; is it a ModGate registry?`);
  }
  const status = res.statusCode ?? 0;
  if (status >= 400) {
    const e = json as { code?: string; message?: string };
    throw new RegistryApiError(status, e.code ?? 'error', e.message ?? `${u.origin} answered ${status}`);
  }
  return { status, json };
}
