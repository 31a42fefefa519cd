import { DynamicModule, Global, Module } from '@nestjs/common';
import type { BlobStore } from '@modgate/storage';
import { DataSource } from 'typeorm';
import { ENV, Env } from './config/env';
import { OwnedPaths } from './config/owned-paths';
import { LOGGER, AppLogger } from './logging/logger';
import { Metrics } from './metrics/metrics';

export const BLOB_STORE = Symbol('BLOB_STORE');

/** What the composition root (main.ts, or a test) builds before Nest starts. */
export interface CoreDeps {
  readonly env: Env;
  readonly dataSource: DataSource;
  readonly blobs: BlobStore;
  readonly logger: AppLogger;
  readonly metrics: Metrics;
}

/** Provides the process-wide singletons to every feature module. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(deps: CoreDeps): DynamicModule {
    const providers = [
      { provide: ENV, useValue: deps.env },
      { provide: DataSource, useValue: deps.dataSource },
      { provide: BLOB_STORE, useValue: deps.blobs },
      { provide: LOGGER, useValue: deps.logger },
      { provide: Metrics, useValue: deps.metrics },
      // The dependency-confusion guard: one rule for proxy, sumdb, access, publish and the catalogue.
      { provide: OwnedPaths, useValue: new OwnedPaths(deps.env.privatePatterns) },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}
