// Runs the BlobStore contract against both stores (fs in a temp dir, S3 against
// s3rver in-process), then what is particular to each adapter.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobNotFound, BlobStoreError, createBlobStore, createS3Client, FsBlobStore, S3BlobStore } from '@modgate/storage';
import type { BlobStore, S3Options } from '@modgate/storage';
import { blobStoreContract } from '../../libs/storage/src/blob-store.contract';
import { S3RVER_CREDENTIALS, startS3Server } from '../support/s3-server';
import type { S3TestServer } from '../support/s3-server';

const MiB = 1024 * 1024;

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'modgate-blobs-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function s3Options(server: S3TestServer, extra: S3Options = {}): S3Options {
  // 5 MiB is S3's smallest part size: the contract's 12 MiB bodies become real multipart uploads.
  return { endpoint: server.endpoint, forcePathStyle: true, partSizeBytes: 5 * MiB, ...S3RVER_CREDENTIALS, ...extra };
}

function brokenSource(): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return void this.destroy(new Error('source broke'));
      sent = true;
      this.push(Buffer.alloc(4096, 1));
    },
  });
}

blobStoreContract('fs', async () => {
  const { dir, remove } = await tempDir();
  return { store: createBlobStore(`fs:${dir}`), cleanup: remove };
});

blobStoreContract('s3 (s3rver)', async () => {
  const server = await startS3Server();
  return { store: createBlobStore(`s3://${server.bucket}`, s3Options(server)), cleanup: () => server.stop() };
});

blobStoreContract('s3 under a key prefix (s3rver)', async () => {
  const server = await startS3Server();
  return { store: createBlobStore(`s3://${server.bucket}/tenant/one/`, s3Options(server)), cleanup: () => server.stop() };
});

describe('FsBlobStore', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let store: FsBlobStore;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    store = new FsBlobStore(join(dir, 'root'));
  });
  afterEach(() => remove());

  const tmpFiles = async () => readdir(join(store.root, '.tmp')).catch(() => []);

  it('refuses keys that would escape its root', async () => {
    for (const key of ['../outside', 'a/../../outside', '/etc/passwd', 'x\u0000y', '.tmp/planted']) {
      await expect(store.put(key, Buffer.from('x'))).rejects.toThrow(BlobStoreError);
      await expect(store.stat(key)).rejects.toThrow(BlobStoreError);
      await expect(store.delete(key)).rejects.toThrow(BlobStoreError);
    }
    expect(await readdir(dir)).toEqual([]); // refused before anything was created
  });

  it('leaves no temp file behind when the source fails', async () => {
    await expect(store.put('a/b', brokenSource())).rejects.toThrow('source broke');
    const gone = new Readable({ read() { this.push(Buffer.alloc(10)); this.destroy(); } });
    await expect(store.put('a/c', gone)).rejects.toThrow();
    expect(await tmpFiles()).toEqual([]);
  });

  it('leaves no temp file behind when the rename into place fails', async () => {
    await store.put('file', Buffer.from('x'));
    // "file" is a file, so "file/child" cannot be created: the put fails after the write.
    await expect(store.put('file/child', Buffer.alloc(1000))).rejects.toThrow(BlobStoreError);
    expect(await tmpFiles()).toEqual([]);
    await expect(store.stat('file/child')).resolves.toBeNull();
  });

  it('does not list its temp dir, and treats directories as absent keys', async () => {
    await store.put('mod/a', Buffer.from('a'));
    await store.check();
    expect(await collect(store.list(''))).toEqual(['mod/a']);
    await expect(store.stat('mod')).resolves.toBeNull();
    await expect(store.read('mod')).rejects.toThrow(BlobNotFound);
    await expect(store.open('mod')).rejects.toThrow(BlobNotFound);
  });

  it('serves a single-byte range at the start', async () => {
    await store.put('k', Buffer.from('hello'));
    const { body } = await store.open('k', { start: 0, end: 0 });
    expect((await collectBytes(body)).toString()).toBe('h');
  });

  it('check() fails with a short message when the root is not writable', async () => {
    await store.put('file', Buffer.from('x'));
    const blocked = new FsBlobStore(join(store.root, 'file', 'sub'));
    await expect(blocked.check()).rejects.toThrow(/^fs store: .* is not writable \(ENOTDIR\)$/);
  });
});

describe('S3BlobStore against s3rver', () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server('modgate-s3-specific');
  });
  afterAll(() => server.stop());

  const storeFor = (spec: string, extra: S3Options = {}) => createBlobStore(spec, s3Options(server, extra));

  it('translates NoSuchKey into BlobNotFound at the edge', async () => {
    const client = createS3Client(s3Options(server));
    const raw = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'no/such/key' })).catch((e: unknown) => e);
    expect(raw).toMatchObject({ name: 'NoSuchKey' }); // what the SDK says…
    const err = await storeFor(`s3://${server.bucket}`).read('no/such/key').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobNotFound); // …and what services see
    expect(err).not.toHaveProperty('$metadata');
  });

  it('fails check() with a clear message when the bucket does not exist', async () => {
    await expect(storeFor('s3://modgate-missing-bucket').check()).rejects.toThrow('s3 store: bucket "modgate-missing-bucket" does not exist');
  });

  it('keeps credentials out of error messages', async () => {
    const store = storeFor(`s3://${server.bucket}`, { accessKeyId: 'AKIAWRONGKEY', secretAccessKey: 'very-secret-value' });
    const errors = await Promise.all([store.check(), store.read('k'), store.put('k', Buffer.from('x'))].map((p) => p.then(() => null, (e: Error) => e)));
    for (const err of errors) {
      expect(err).toBeInstanceOf(BlobStoreError);
      expect(err?.message).not.toMatch(/AKIAWRONGKEY|very-secret-value|X-Amz-Signature/);
    }
    expect(errors[0]?.message).toBe(`s3 store: access to bucket "${server.bucket}" denied (403); check the credentials`);
  });

  it('stores keys under the spec prefix and lists them without it', async () => {
    const prefixed = storeFor(`s3://${server.bucket}/tenant/two`);
    const whole = storeFor(`s3://${server.bucket}`);
    await prefixed.put('mod/a', Buffer.from('a'));
    await expect(whole.read('tenant/two/mod/a')).resolves.toEqual(Buffer.from('a'));
    expect(await collect(prefixed.list(''))).toEqual(['mod/a']);
  });

  it('refuses an answer for other bytes than the range asked for', async () => {
    // s3rver reads "bytes=0-0" as "from 0 to the end"; passing that on as one byte would corrupt a download.
    const store = storeFor(`s3://${server.bucket}`);
    await store.put('ranged', Buffer.from('hello'));
    await expect(store.open('ranged', { start: 0, end: 0 })).rejects.toThrow('asked for bytes 0-0, store answered bytes 0-4/5');
  });

  it('aborts the multipart upload when the source fails, and still reports the source error', async () => {
    const client = createS3Client(s3Options(server));
    const sent: string[] = [];
    client.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName ?? '?'), next(args)), { step: 'initialize' });
    const store = new S3BlobStore(client, server.bucket, '', 5 * MiB);
    let left = 11 * MiB;
    const broken = new Error('source broke');
    const source = new Readable({
      read() {
        if (left <= 0) return void this.destroy(broken);
        left -= MiB;
        this.push(Buffer.alloc(MiB));
      },
    });
    // s3rver answers AbortMultipartUpload with 405 (it has no such route); S3 and MinIO drop the parts.
    await expect(store.put('aborted', source)).rejects.toBe(broken);
    // How many parts got under way before the failure depends on timing; the bracket does not.
    expect(sent[0]).toBe('CreateMultipartUploadCommand');
    expect(sent).toContain('UploadPartCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect(sent.at(-1)).toBe('AbortMultipartUploadCommand');
    await expect(store.stat('aborted')).resolves.toBeNull();
  });

  it('follows continuation tokens when listing', async () => {
    // s3rver cannot paginate on Node ≥ 17 (its tokens use DES, gone from OpenSSL 3), so pages come from a stub.
    const pages = [
      { Contents: [{ Key: 'p/a' }, { Key: 'p/b' }], IsTruncated: true, NextContinuationToken: 't1' },
      { Contents: [{ Key: 'p/c' }], IsTruncated: false },
    ];
    const tokens: (string | undefined)[] = [];
    const client = {
      send: async (cmd: { input: { ContinuationToken?: string } }) => {
        tokens.push(cmd.input.ContinuationToken);
        return pages[tokens.length - 1];
      },
    } as unknown as S3Client;
    const store: BlobStore = new S3BlobStore(client, 'stub-bucket', 'p');
    expect(await collect(store.list(''))).toEqual(['a', 'b', 'c']);
    expect(tokens).toEqual([undefined, 't1']);
  });

  it('refuses a part size below S3 minimum and a malformed spec', () => {
    expect(() => storeFor(`s3://${server.bucket}`, { partSizeBytes: MiB })).toThrow(BlobStoreError);
    expect(() => createBlobStore('s3://Bad_Bucket')).toThrow('storage spec: expected s3://<bucket>[/<prefix>] with a valid bucket name');
    expect(() => createBlobStore('gcs://x')).toThrow('storage spec: expected fs:<dir> or s3://<bucket>[/<prefix>]');
    expect(() => createBlobStore('s3://abc', { accessKeyId: 'only-half' })).toThrow(BlobStoreError);
  });
});

async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of keys) out.push(key);
  return out.sort();
}

async function collectBytes(body: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}
