import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { BlobStore } from '@modgate/storage';
import { DataSource } from 'typeorm';
import { AccessModule } from '../access/access.module';
import { ENV, Env } from '../config/env';
import { BLOB_STORE } from '../core.module';
import { LOGGER, AppLogger } from '../logging/logger';
import { Metrics } from '../metrics/metrics';
import { SumdbController } from '../sumdb/sumdb.controller';
import { SumdbService } from '../sumdb/sumdb.service';
import { IngestService } from '../versions/ingest.service';
import { ModuleVersionRepository } from '../versions/module-version.repository';
import { VersionIndex } from '../versions/version-index';
import { ModuleModStore } from '../versions/module-mod.store';
import { VersionsModule } from '../versions/versions.module';
import { NegativeCache } from '../versions/negative-cache';
import { CacheFillService } from './cache-fill.service';
import { FillLimiter } from './fill-limiter';
import { ModCache } from './mod-cache';
import { OwnedPaths } from '../config/owned-paths';
import { ProxyController } from './proxy.controller';
import { ProxyMetrics } from './proxy.metrics';
import { ProxyService } from './proxy.service';
import { UpstreamClient } from './upstream.client';
import { VersionLock } from './version-lock';

@Module({
  // AuthenticationService comes from the global AuthModule.
  imports: [VersionsModule, AccessModule],
  // SumdbController first: its /sumdb/... routes are more specific than the catch-all.
  controllers: [SumdbController],
  providers: [
    ProxyController,
    { provide: ProxyMetrics, inject: [Metrics], useFactory: (m: Metrics) => new ProxyMetrics(m) },
    {
      provide: UpstreamClient,
      inject: [ENV, LOGGER, ProxyMetrics],
      useFactory: (env: Env, log: AppLogger, m: ProxyMetrics) => new UpstreamClient(env, log, m),
    },
    {
      provide: VersionLock,
      inject: [DataSource, ENV],
      // A lock connection per fill that may run at once, and a few for fills of .mod alone.
      useFactory: (ds: DataSource, env: Env) => new VersionLock(ds.options.type === 'postgres' ? String((ds.options as { url?: string }).url) : '', env.limits.maxFills + 4),
    },
    {
      provide: CacheFillService,
      inject: [UpstreamClient, IngestService, VersionIndex, VersionLock, ModuleModStore, ProxyMetrics, LOGGER, ENV],
      useFactory: (u: UpstreamClient, i: IngestService, idx: VersionIndex, l: VersionLock, ms: ModuleModStore, m: ProxyMetrics, log: AppLogger, env: Env) =>
        new CacheFillService(u, i, idx, l, ms, m, log, null, new FillLimiter({
          perClient: env.limits.fillsPerClient,
          queuePerClient: env.limits.fillQueuePerClient,
          max: env.limits.maxFills,
          queue: env.limits.fillQueue,
        })),
    },
    { provide: ModCache, useValue: new ModCache() },
    {
      provide: ProxyService,
      inject: [ENV, VersionIndex, ModuleVersionRepository, CacheFillService, UpstreamClient, BLOB_STORE, ModCache, ModuleModStore, OwnedPaths, ProxyMetrics, NegativeCache],
      useFactory: (
        env: Env,
        idx: VersionIndex,
        repo: ModuleVersionRepository,
        fill: CacheFillService,
        up: UpstreamClient,
        blobs: BlobStore,
        mods: ModCache,
        modStore: ModuleModStore,
        owned: OwnedPaths,
        m: ProxyMetrics,
        neg: NegativeCache,
      ) => new ProxyService(env, idx, repo, fill, up, blobs, mods, modStore, owned, m, neg),
    },
    {
      provide: SumdbService,
      inject: [ENV, OwnedPaths, BLOB_STORE, LOGGER],
      useFactory: (env: Env, owned: OwnedPaths, blobs: BlobStore, log: AppLogger) => new SumdbService(env, owned, blobs, log),
    },
  ],
})
export class ProxyModule implements OnApplicationShutdown {
  constructor(@Inject(VersionLock) private readonly lock: VersionLock) {}

  async onApplicationShutdown(): Promise<void> {
    await this.lock.close();
  }
}
