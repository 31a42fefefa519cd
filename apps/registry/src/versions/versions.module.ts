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
import { VersionChangeFeed } from './version-change-feed';
import { VersionIndex } from './version-index';

@Module({
  providers: [
    { provide: ModuleVersionRepository, inject: [DataSource], useFactory: (ds: DataSource) => new ModuleVersionRepository(ds) },
    { provide: VersionIndex, inject: [ModuleVersionRepository], useFactory: (r: ModuleVersionRepository) => new VersionIndex(r) },
    { provide: ModuleModStore, inject: [DataSource], useFactory: (ds: DataSource) => new ModuleModStore(ds) },
    {
      provide: IngestService,
      inject: [ModuleVersionRepository, BLOB_STORE, VersionIndex, ENV],
      useFactory: (r: ModuleVersionRepository, b: BlobStore, i: VersionIndex, env: Env) => new IngestService(r, b, i, join(env.dataDir, 'tmp')),
    },
    {
      provide: VersionChangeFeed,
      inject: [DataSource, VersionIndex, LOGGER],
      useFactory: (ds: DataSource, i: VersionIndex, log: AppLogger) => new VersionChangeFeed(ds, i, (ds.options as { url?: string }).url ?? null, log),
    },
  ],
  exports: [ModuleVersionRepository, VersionIndex, IngestService, ModuleModStore, VersionChangeFeed],
})
export class VersionsModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly index: VersionIndex,
    private readonly feed: VersionChangeFeed,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Listening first: a deletion during the warm-up is then replayed after it.
    await this.feed.start();
    const n = await this.index.warm();
    this.log.info({ versions: n }, 'version index warmed');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.feed.stop();
  }
}
