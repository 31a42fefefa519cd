import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { createBlobStore } from '@modgate/storage';
import type { FastifyRequest } from 'fastify';
import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import type { Env } from './config/env';
import { openDatabase } from './database/data-source';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres';
import type { AppLogger } from './logging/logger';
import { Metrics } from './metrics/metrics';
import { registryUrl } from './start-page/client-setup';

export interface RunningRegistry {
  readonly url: string;
  readonly port: number;
  readonly app: NestFastifyApplication;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * The composition root: picks the database (external or embedded), the blob
 * store and the HTTP server from the validated Env, then starts listening.
 */
export async function startRegistry(env: Env, logger: AppLogger): Promise<RunningRegistry> {
  let embedded: EmbeddedDatabase | null = null;
  if (!env.databaseUrl) embedded = await startEmbeddedPostgres(env.dataDir, logger, env.embeddedPgPort);
  try {
    const dataSource = await openDatabase(env.databaseUrl ?? embedded!.url, env.dbPoolSize);
    const blobs = createBlobStore(env.storage, env.s3);
    const metrics = new Metrics();

    const adapter = new FastifyAdapter({
      // Request line plus headers beyond this: Node answers 431 and closes.
      https: env.tls ? { cert: readFileSync(env.tls.cert), key: readFileSync(env.tls.key), maxHeaderSize: env.limits.maxHeaderBytes } : null,
      http: { maxHeaderSize: env.limits.maxHeaderBytes },
      // A client's X-Request-Id is kept only when it looks like one: it goes
      // into logs and audit rows.
      requestIdHeader: false,
      trustProxy: env.trustProxy,
      genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
        const given = req.headers['x-request-id'];
        return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
      },
      // Module paths can be long; versions contain '+'. Keep the router strict otherwise.
      routerOptions: { maxParamLength: 1024 },
      return503OnClosing: true,
      forceCloseConnections: 'idle',
    } as ConstructorParameters<typeof FastifyAdapter>[0]);
    const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot({ env, dataSource, blobs, logger, metrics }), adapter, {
      logger: false,
      bufferLogs: false,
    });
    installAccessLog(app, logger, metrics);
    // --- OpenAPI (admin API): /api/v1/openapi.json and the /api/v1/docs page; before listen ---
    setupOpenApi(app);
    // --- end OpenAPI ---
    await app.listen(env.port, env.host);
    const port = (app.getHttpServer().address() as { port: number }).port;
    const url = registryUrl(env, port);
    let closed = false;
    return {
      url,
      port,
      app,
      embedded: embedded !== null,
      async close() {
        if (closed) return;
        closed = true;
        await app.close(); // stops accepting, lets in-flight requests finish
        await dataSource.destroy();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}

/** One JSON line per request with its id; request metrics by route kind. */
function installAccessLog(app: NestFastifyApplication, logger: AppLogger, metrics: Metrics): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = routeKind(req);
    metrics.observeRequest(route, req.method, reply.statusCode, reply.elapsedTime / 1000);
    // Query strings never reach the log: OAuth callbacks carry codes there.
    if (logger.isLevelEnabled('info')) logger.info({ reqId: req.id, method: req.method, url: pathOnly(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, route }, 'request');
    done();
  });
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}

/** A small, fixed set of labels: never the module path itself. */
export function routeKind(req: FastifyRequest): string {
  const u = req.url;
  if (u.startsWith('/api/')) return 'api';
  if (u.startsWith('/sumdb/')) return 'sumdb';
  if (u === '/healthz' || u === '/readyz' || u === '/metrics' || u === '/') return u === '/' ? 'start' : u.slice(1);
  if (u.endsWith('/@v/list')) return 'list';
  if (u.endsWith('/@latest')) return 'latest';
  const dot = u.lastIndexOf('.');
  const ext = dot > 0 ? u.slice(dot + 1) : '';
  return ext === 'info' || ext === 'mod' || ext === 'zip' ? ext : 'other';
}
