import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Global, Inject, Module, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { BlobStore } from '@modgate/storage';
import type { FastifyInstance } from 'fastify';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../config/env';
import { BLOB_STORE } from '../core.module';
import { LOGGER, AppLogger } from '../logging/logger';
import { Metrics } from '../metrics/metrics';
import { AuditLogService } from './audit-log.service';
import { AuditRetention } from './audit-retention';
import { AuditSigner } from './audit-signer';
import { AuditWriter } from './audit-writer';
import { AuditController } from './audit.controller';
import { AuditMetrics } from './audit.metrics';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { runInOrigin } from './request-context';

const HOUR = 3_600_000;

/**
 * The audit log: global, so every feature can record through AuditService.
 * The writer starts before the app listens and is flushed after it stops
 * (OnApplicationShutdown runs after the server has closed).
 */
@Global()
@Module({
  controllers: [AuditController],
  providers: [
    { provide: AuditRepository, inject: [DataSource], useFactory: (ds: DataSource) => new AuditRepository(ds) },
    {
      provide: AuditWriter,
      inject: [AuditRepository, ENV, Metrics, LOGGER],
      useFactory: (r: AuditRepository, env: Env, m: Metrics, log: AppLogger) => new AuditWriter(r, join(env.dataDir, 'audit-spill'), new AuditMetrics(m), log, { flushMs: env.audit.flushMs }),
    },
    { provide: AuditService, inject: [AuditWriter, ENV], useFactory: (w: AuditWriter, env: Env) => new AuditService(w, env.audit.enabled) },
    {
      provide: 'AUDIT_SIGNER',
      inject: [DataSource, ENV],
      useFactory: (ds: DataSource, env: Env) => {
        let signer: Promise<AuditSigner> | null = null;
        // Loaded on first use: a key file is read once, a generated key made once.
        return () =>
          (signer ??= env.audit.signingKeyFile ? Promise.resolve(AuditSigner.fromPem(readFileSync(env.audit.signingKeyFile, 'utf8'))) : AuditSigner.fromDatabase(ds));
      },
    },
    {
      provide: AuditLogService,
      inject: [AuditRepository, 'AUDIT_SIGNER', BLOB_STORE],
      useFactory: (r: AuditRepository, s: () => Promise<AuditSigner>, b: BlobStore) => new AuditLogService(r, s, b),
    },
    {
      provide: AuditRetention,
      inject: [DataSource, AuditRepository, BLOB_STORE, 'AUDIT_SIGNER', ENV, LOGGER],
      useFactory: (ds: DataSource, r: AuditRepository, b: BlobStore, s: () => Promise<AuditSigner>, env: Env, log: AppLogger) =>
        env.audit.retentionDays === null ? null : new AuditRetention(ds, r, b, s, env.audit.retentionDays, log),
    },
  ],
  exports: [AuditService, AuditLogService, AuditRetention],
})
export class AuditModule implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(AuditWriter) private readonly writer: AuditWriter,
    @Inject(AuditRetention) private readonly retention: AuditRetention | null,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Services deep in /api and /auth requests learn the request's origin from
    // here; the GOPROXY hot path passes its request explicitly instead.
    fastify.addHook('onRequest', (req, _reply, done) => {
      if (req.url.startsWith('/api/') || req.url.startsWith('/auth/')) runInOrigin(req, done);
      else done();
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.writer.start();
    if (this.retention) {
      const run = () => void this.retention!.run().catch((err) => this.log.error({ err: (err as Error).message }, 'audit: retention run failed'));
      run();
      this.timer = setInterval(run, HOUR);
      this.timer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.writer.stop();
  }
}
