import { Module, OnApplicationBootstrap, OnApplicationShutdown, Inject } from '@nestjs/common';
import { join } from 'node:path';
import type { BlobStore } from '@modgate/storage';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../config/env';
import { BLOB_STORE } from '../core.module';
import { LOGGER, AppLogger } from '../logging/logger';
import { IngestService } from './ingest.service';
import { ModuleVersionRepository } from './module-version.repository';
import { ModuleModStore } from './module-mod.store';
import { Metrics } from '../metrics/metrics';
import { LeftoverSweep } from './leftover-sweep';
import { NegativeCache } from './negative-cache';
import { VersionChangeFeed } from './version-change-feed';
import { VersionIndex } from './version-index';

@Module({
  providers: [
    { provide: ModuleVersionRepository, inject: [DataSource], useFactory: (ds: DataSource) => new ModuleVersionRepository(ds) },
    { provide: VersionIndex, inject: [ModuleVersionRepository], useFactory: (r: ModuleVersionRepository) => new VersionIndex(r) },
    { provide: ModuleModStore, inject: [DataSource], useFactory: (ds: DataSource) => new ModuleModStore(ds) },
    {
      provide: LeftoverSweep,
      inject: [DataSource, ENV, BLOB_STORE, Metrics, LOGGER],
      useFactory: (ds: DataSource, env: Env, b: BlobStore, m: Metrics, log: AppLogger) => new LeftoverSweep(ds, join(env.dataDir, 'tmp'), b, m, log, env.sweepMinAgeSeconds * 1000),
    },
    { provide: NegativeCache, inject: [ENV], useFactory: (env: Env) => new NegativeCache(env.negativeCacheSeconds * 1000) },
    {
      provide: VersionChangeFeed,
      inject: [DataSource, VersionIndex, NegativeCache, LOGGER],
      useFactory: (ds: DataSource, i: VersionIndex, n: NegativeCache, log: AppLogger) => new VersionChangeFeed(ds, i, n, (ds.options as { url?: string }).url ?? null, log),
    },
    {
      provide: IngestService,
      inject: [ModuleVersionRepository, BLOB_STORE, VersionIndex, ENV, VersionChangeFeed],
      useFactory: (r: ModuleVersionRepository, b: BlobStore, i: VersionIndex, env: Env, f: VersionChangeFeed) =>
        new IngestService(r, b, i, join(env.dataDir, 'tmp'), (path, version) => f.stored(path, version)),
    },
  ],
  exports: [ModuleVersionRepository, VersionIndex, IngestService, ModuleModStore, VersionChangeFeed, NegativeCache, LeftoverSweep],
})
export class VersionsModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly index: VersionIndex,
    private readonly feed: VersionChangeFeed,
    private readonly sweep: LeftoverSweep,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Listening first: a deletion during the warm-up is then replayed after it.
    await this.feed.start();
    const n = await this.index.warm();
    this.log.info({ versions: n }, 'version index warmed');
    this.sweep.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.sweep.stop();
    await this.feed.stop();
  }
}
