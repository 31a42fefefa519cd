// What every BlobStore must do, as jest blocks; each adapter's suite calls
// blobStoreContract with a factory. Kept next to the interface it pins down,
// and out of the build by its name.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobNotFound, BlobRangeNotSatisfiable, BlobStoreError } from './blob-store';
import type { BlobStore } from './blob-store';

const MiB = 1024 * 1024;

/**
 * Sizes are chosen against the S3 factory's 5 MiB part size: 1 KiB goes
 * through a single PutObject, 12 MiB through a multipart upload of three parts.
 */
export function blobStoreContract(name: string, make: () => Promise<{ store: BlobStore; cleanup: () => Promise<void> }>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    let n = 0;
    /** A fresh prefix per test, so tests never see each other's keys. */
    let dir: string;

    beforeAll(async () => {
      ({ store, cleanup } = await make());
    });
    afterAll(async () => {
      await cleanup?.();
    });
    beforeEach(() => {
      dir = `contract/t${++n}`;
    });

    it('check() passes', async () => {
      await expect(store.check()).resolves.toBeUndefined();
    });

    it('round-trips binary data through put, read, open and stat', async () => {
      const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(100_000)]);
      const key = `${dir}/blob.bin`;
      await expect(store.put(key, data, { contentType: 'application/octet-stream' })).resolves.toEqual({ size: data.length });
      expect((await store.read(key)).equals(data)).toBe(true);
      const opened = await store.open(key);
      expect(opened.size).toBe(data.length);
      expect((await readAll(opened.body)).equals(data)).toBe(true);
      await expect(store.stat(key)).resolves.toEqual({ size: data.length });
    });

    it('round-trips a streamed body with an announced size', async () => {
      const data = randomBytes(70_000);
      const key = `${dir}/streamed`;
      await expect(store.put(key, Readable.from(chunks(data, 4096)), { size: data.length })).resolves.toEqual({ size: data.length });
      expect((await store.read(key)).equals(data)).toBe(true);
    });

    it('stores an empty blob', async () => {
      const key = `${dir}/empty`;
      await expect(store.put(key, Buffer.alloc(0))).resolves.toEqual({ size: 0 });
      await expect(store.stat(key)).resolves.toEqual({ size: 0 });
      expect((await store.read(key)).length).toBe(0);
      expect((await readAll((await store.open(key)).body)).length).toBe(0);
    });

    it('overwrites: the last put wins, size included', async () => {
      const key = `${dir}/over`;
      await store.put(key, randomBytes(5000));
      const second = randomBytes(300);
      await store.put(key, Readable.from([second]));
      expect((await store.read(key)).equals(second)).toBe(true);
      await expect(store.stat(key)).resolves.toEqual({ size: 300 });
    });

    it('reads ranges, inclusive at both ends, clamping an end past the blob', async () => {
      const data = randomBytes(10_000);
      const key = `${dir}/ranged`;
      await store.put(key, data);
      for (const [start, end] of [[0, 9], [1234, 5678], [9999, 9999], [9000, 20_000]]) {
        const { body, size } = await store.open(key, { start, end });
        expect(size).toBe(data.length);
        expect((await readAll(body)).equals(data.subarray(start, Math.min(end, 9999) + 1))).toBe(true);
      }
    });

    it('refuses ranges that start past the end or are malformed', async () => {
      const key = `${dir}/ranged`;
      await store.put(key, randomBytes(100));
      for (const range of [{ start: 100, end: 200 }, { start: 5, end: 4 }, { start: -1, end: 3 }, { start: 0.5, end: 3 }]) {
        await expect(store.open(key, range)).rejects.toBeInstanceOf(BlobRangeNotSatisfiable);
      }
    });

    it('reports a missing key: BlobNotFound from open and read, null from stat', async () => {
      const key = `${dir}/missing`;
      await expectNotFound(store.open(key), key);
      await expectNotFound(store.open(key, { start: 0, end: 10 }), key);
      await expectNotFound(store.read(key), key);
      await expect(store.stat(key)).resolves.toBeNull();
    });

    it('deletes idempotently', async () => {
      const key = `${dir}/doomed`;
      await store.put(key, Buffer.from('x'));
      await store.delete(key);
      await expect(store.stat(key)).resolves.toBeNull();
      await expect(store.read(key)).rejects.toBeInstanceOf(BlobNotFound);
      await expect(store.delete(key)).resolves.toBeUndefined();
      await expect(store.delete(`${dir}/never-was`)).resolves.toBeUndefined();
      expect(await listAll(store, `${dir}/`)).toEqual([]);
    });

    it('lists keys by plain string prefix', async () => {
      const keys = ['a/1', 'a/2', 'ab/3', 'b/deep/er/4', 'c'].map((k) => `${dir}/${k}`);
      await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
      expect(await listAll(store, `${dir}/`)).toEqual(keys);
      expect(await listAll(store, `${dir}/a/`)).toEqual(keys.slice(0, 2));
      expect(await listAll(store, `${dir}/a`)).toEqual(keys.slice(0, 3));
      expect(await listAll(store, `${dir}/b/deep/e`)).toEqual([keys[3]]);
      expect(await listAll(store, `${dir}/c`)).toEqual([keys[4]]);
      expect(await listAll(store, `${dir}/nothing/`)).toEqual([]);
      expect(await listAll(store, '')).toEqual(expect.arrayContaining(keys));
    });

    it('keeps keys with !, +, @ and non-ASCII characters exact', async () => {
      const keys = [
        'modules/github.com/!azure/azure-sdk/@v/v1.0.0+incompatible.zip',
        'modules/example.com/ünïcödé/日本/@v/v0.0.0-20240101000000-abcdef123456.mod',
        'sumdb/sum.golang.org/tile/8/0/x001/234.p/5',
      ].map((k) => `${dir}/${k}`);
      for (const key of keys) await store.put(key, Buffer.from(key));
      for (const key of keys) expect((await store.read(key)).toString()).toBe(key);
      expect(await listAll(store, `${dir}/`)).toEqual([...keys].sort());
    });

    it('refuses keys that are not clean relative paths', async () => {
      for (const key of ['', '/abs', '../up', 'a/../../b', 'a/./b', 'a//b', 'a/', 'nul\u0000byte', 'back\\slash']) {
        await expect(store.put(key, Buffer.from('x'))).rejects.toBeInstanceOf(BlobStoreError);
        await expect(store.read(key)).rejects.toBeInstanceOf(BlobStoreError);
      }
      await expect(collectList(store.list('../'))).rejects.toBeInstanceOf(BlobStoreError);
    });

    describe.each([
      ['small', 1024, 700],
      ['multipart-sized', 12 * MiB, 11 * MiB],
    ])('a put whose source fails midway (%s body)', (_label, size, failAt) => {
      it('rejects with the source error and leaves no key', async () => {
        const key = `${dir}/broken`;
        const broken = new Error('source broke');
        await expect(store.put(key, failingAfter(failAt, broken), { size })).rejects.toBe(broken);
        await expect(store.stat(key)).resolves.toBeNull();
        expect(await listAll(store, `${dir}/`)).toEqual([]);
      });

      it('rejects without an announced size too', async () => {
        const key = `${dir}/broken`;
        await expect(store.put(key, failingAfter(failAt, new Error('source broke')))).rejects.toThrow('source broke');
        await expect(store.stat(key)).resolves.toBeNull();
      });

      it('keeps the earlier blob intact when an overwrite fails', async () => {
        const key = `${dir}/kept`;
        const old = randomBytes(2000);
        await store.put(key, old);
        await expect(store.put(key, failingAfter(failAt, new Error('source broke')), { size })).rejects.toThrow('source broke');
        expect((await store.read(key)).equals(old)).toBe(true);
      });
    });

    it.each([
      ['shorter', 1000, 999],
      ['longer', 1000, 1001],
      ['much longer (multipart-sized)', 6 * MiB, 7 * MiB],
    ])('refuses a body %s than its announced size and leaves no key', async (_label, announced, actual) => {
      const key = `${dir}/mis-sized`;
      await expect(store.put(key, Readable.from(chunks(randomBytes(actual), 64 * 1024)), { size: announced })).rejects.toBeInstanceOf(BlobStoreError);
      await expect(store.stat(key)).resolves.toBeNull();
    });

    it.each([
      ['without', undefined],
      ['with', 20 * MiB],
    ])('round-trips a 20 MiB streamed body (%s an announced size)', async (_label, size) => {
      const key = `${dir}/large.zip`;
      const source = generated(20 * MiB);
      await expect(store.put(key, source.stream, { size })).resolves.toEqual({ size: 20 * MiB });
      await expect(store.stat(key)).resolves.toEqual({ size: 20 * MiB });
      const { body } = await store.open(key);
      expect(await sha256(body)).toBe(source.sha256());
      const tail = await store.open(key, { start: 20 * MiB - 10, end: 20 * MiB + 100 });
      expect((await readAll(tail.body)).length).toBe(10);
    });

    it('handles concurrent puts of different keys', async () => {
      const blobs = Array.from({ length: 8 }, (_, i) => ({ key: `${dir}/c${i}`, data: randomBytes(1000 + i * 50_000) }));
      // Alternate stream and Buffer bodies.
      await Promise.all(blobs.map(({ key, data }, at) => store.put(key, at % 2 ? Readable.from(chunks(data, 16 * 1024)) : data)));
      for (const { key, data } of blobs) expect((await store.read(key)).equals(data)).toBe(true);
      expect(await listAll(store, `${dir}/`)).toEqual(blobs.map((b) => b.key).sort());
    });
  });
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/** A body produced on the fly (never one Buffer), hashed as it is produced. */
function generated(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(left, 256 * 1024));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.copy().digest('hex') };
}

/** Emits `bytes` bytes, then fails as a dropped upstream connection would. */
function failingAfter(bytes: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.destroy(error);
      const chunk = randomBytes(Math.min(bytes - sent, 256 * 1024));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

async function expectNotFound(p: Promise<unknown>, key: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BlobNotFound);
  expect((err as BlobNotFound).key).toBe(key);
}

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

async function sha256(body: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk);
  return hash.digest('hex');
}

async function collectList(keys: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of keys) out.push(key);
  return out;
}

async function listAll(store: BlobStore, prefix: string): Promise<string[]> {
  return (await collectList(store.list(prefix))).sort();
}
