import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { BlobStore } from '@modgate/storage';
import { DataSource } from 'typeorm';
import { BLOB_STORE } from '../core.module';
import { LOGGER, AppLogger } from '../logging/logger';
import { Metrics } from '../metrics/metrics';

/**
 * /healthz: the process is up. /readyz: it can serve (database and blob
 * store answer). /metrics: Prometheus text format.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly ds: DataSource,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  @Get('healthz')
  @Header('cache-control', 'no-store')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Header('cache-control', 'no-store')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const [db, storage] = await Promise.all([
      check(() => this.ds.query('SELECT 1')),
      check(() => this.blobs.check()),
    ]);
    const ok = db === 'ok' && storage === 'ok';
    if (!ok) this.log.warn({ db, storage }, 'not ready');
    await reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: { database: db, storage } });
  }

  @Get('metrics')
  async prometheus(@Res() reply: FastifyReply): Promise<void> {
    await reply.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}

async function check(probe: () => Promise<unknown>): Promise<string> {
  try {
    await withTimeout(probe(), 3000);
    return 'ok';
  } catch (err) {
    return (err as Error).message.split('\n')[0].slice(0, 200) || 'failed';
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(t),
  );
}
