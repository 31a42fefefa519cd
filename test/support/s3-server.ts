// Starts s3rver in this process: a small S3 look-alike that stores objects in a
// temp directory, so integration tests need no MinIO or network access.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: string[] }[];
}
interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no type declarations; this is the part of it we use.
const S3rver = createRequire(__filename)('s3rver') as new (options: S3rverOptions) => S3rver;

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

/** s3rver checks signatures against this fixed account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3Server(bucket = 'modgate-test'): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'modgate-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0, // any free port, so suites can run in parallel
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
