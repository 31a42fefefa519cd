// A front for s3rver that adds what it lacks for crash tests: s3rver answers
// ListMultipartUploads with NotImplemented and refuses AbortMultipartUpload
// (405), so the leftover sweep's S3 path cannot run against it alone. The
// shim forwards every request to s3rver unchanged (SigV4 still checked
// there; `expect` is not a signed header) and keeps its own table of the
// multipart uploads that went through it: CreateMultipartUpload adds one,
// CompleteMultipartUpload removes it; ListMultipartUploads (paged, with
// Prefix and the key/upload-id markers) and AbortMultipartUpload are
// answered from the table. A test can age an upload (S3 sets Initiated
// itself; nothing else can make one an hour old) and hold UploadPart
// requests unanswered, so a process can be killed in the middle of a put.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ShimUpload {
  readonly key: string;
  readonly uploadId: string;
  initiated: Date;
}

export interface MultipartShim {
  /** Endpoint for S3_ENDPOINT (path-style). */
  readonly url: string;
  /** Uploads created and neither completed nor aborted. */
  uploads(): ShimUpload[];
  /** What was aborted, in order. */
  readonly aborted: ShimUpload[];
  /** Every ListMultipartUploads query string seen. */
  readonly listQueries: string[];
  /** Sets an upload's Initiated (as if S3 had started it then). */
  age(uploadId: string, initiated: Date): void;
  /** While on, UploadPart requests are never answered (counted in heldParts). */
  holdParts(on: boolean): void;
  heldParts(): number;
  stop(): Promise<void>;
}

/** Page size of the shim's ListMultipartUploads, small so that paging is exercised. */
export const SHIM_PAGE_SIZE = 2;

export async function startMultipartShim(s3rverEndpoint: string): Promise<MultipartShim> {
  const target = new URL(s3rverEndpoint);
  const table = new Map<string, ShimUpload>();
  const aborted: ShimUpload[] = [];
  const listQueries: string[] = [];
  let hold = false;
  let held = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, onBody?: (status: number, body: Buffer) => void): void => {
    const headers = { ...req.headers };
    delete headers.expect;
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
      if (!onBody) {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const body = Buffer.concat(chunks);
        onBody(r.statusCode ?? 502, body);
        res.writeHead(r.statusCode ?? 502, { ...r.headers, 'content-length': String(body.length) });
        res.end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://shim');
    const [, bucket = '', ...rest] = u.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const q = u.searchParams;
    if (req.method === 'GET' && key === '' && q.has('uploads')) {
      listQueries.push(u.search);
      return sendXml(res, 200, listing(bucket, [...table.values()], q));
    }
    if (req.method === 'DELETE' && q.has('uploadId')) {
      const found = table.get(q.get('uploadId')!);
      if (!found || found.key !== key) return sendXml(res, 404, error('NoSuchUpload', 'The specified upload does not exist.'));
      table.delete(found.uploadId);
      aborted.push(found);
      req.resume();
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'PUT' && q.has('uploadId') && q.has('partNumber') && hold) {
      held++;
      req.resume(); // read and never answer, like a store that stopped responding
      return;
    }
    if (req.method === 'POST' && q.has('uploads')) {
      return forward(req, res, (status, body) => {
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(body.toString('utf8'))?.[1];
        if (status === 200 && id) table.set(id, { key, uploadId: id, initiated: new Date() });
      });
    }
    if (req.method === 'POST' && q.has('uploadId')) {
      return forward(req, res, (status) => {
        if (status === 200) table.delete(q.get('uploadId')!);
      });
    }
    forward(req, res);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    uploads: () => [...table.values()],
    aborted,
    listQueries,
    age(uploadId, initiated) {
      const u = table.get(uploadId);
      if (!u) throw new Error(`shim: no upload ${uploadId}`);
      u.initiated = initiated;
    },
    holdParts(on) {
      hold = on;
    },
    heldParts: () => held,
    stop: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

/** One page of ListMultipartUploadsResult: uploads under Prefix after the markers, in key then upload-id order. */
function listing(bucket: string, all: ShimUpload[], q: URLSearchParams): string {
  const prefix = q.get('prefix') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const idMarker = q.get('upload-id-marker') ?? '';
  const max = Math.min(Number(q.get('max-uploads') ?? SHIM_PAGE_SIZE), SHIM_PAGE_SIZE);
  const after = (u: ShimUpload): boolean => keyMarker === '' || u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker);
  const matching = all
    .filter((u) => u.key.startsWith(prefix) && after(u))
    .sort((a, b) => (a.key === b.key ? (a.uploadId < b.uploadId ? -1 : 1) : a.key < b.key ? -1 : 1));
  const page = matching.slice(0, max);
  const truncated = matching.length > page.length;
  const last = page[page.length - 1];
  const owner = '<Owner><ID>shim</ID><DisplayName>shim</DisplayName></Owner>';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Bucket>${esc(bucket)}</Bucket><KeyMarker>${esc(keyMarker)}</KeyMarker><UploadIdMarker>${esc(idMarker)}</UploadIdMarker>` +
    (truncated ? `<NextKeyMarker>${esc(last.key)}</NextKeyMarker><NextUploadIdMarker>${esc(last.uploadId)}</NextUploadIdMarker>` : '') +
    `<Prefix>${esc(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
    page
      .map((u) => `<Upload><Key>${esc(u.key)}</Key><UploadId>${esc(u.uploadId)}</UploadId><Initiator><ID>shim</ID><DisplayName>shim</DisplayName></Initiator>${owner}<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`)
      .join('') +
    `</ListMultipartUploadsResult>`
  );
}

function error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message></Error>`;
}

function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
