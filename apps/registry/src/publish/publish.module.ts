import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { BlobStore } from '@modgate/storage';
import type { FastifyInstance } from 'fastify';
import { AccessModule } from '../access/access.module';
import { AccessService } from '../access/access.service';
import { AuditService } from '../audit/audit.service';
import { BLOB_STORE } from '../core.module';
import { LOGGER, AppLogger } from '../logging/logger';
import { OwnedPaths } from '../config/owned-paths';
import { IngestService } from '../versions/ingest.service';
import { ModuleVersionRepository } from '../versions/module-version.repository';
import { VersionChangeFeed } from '../versions/version-change-feed';
import { VersionIndex } from '../versions/version-index';
import { VersionsModule } from '../versions/versions.module';
import { MODULES_PREFIX } from './module-route';
import { PublishController } from './publish.controller';
import { PublishService } from './publish.service';

/** Content types a module upload may come with; `curl -T` sends none. */
const ZIP_TYPES = ['application/zip', 'application/octet-stream', 'application/x-zip-compressed'];

@Module({
  imports: [VersionsModule, AccessModule],
  controllers: [PublishController],
  providers: [
    {
      provide: PublishService,
      inject: [OwnedPaths, AccessService, IngestService, ModuleVersionRepository, VersionIndex, BLOB_STORE, VersionChangeFeed, AuditService, LOGGER],
      useFactory: (owned: OwnedPaths, a: AccessService, i: IngestService, r: ModuleVersionRepository, idx: VersionIndex, b: BlobStore, f: VersionChangeFeed, au: AuditService, log: AppLogger) =>
        new PublishService(owned, a, i, r, idx, b, f, au, log),
    },
  ],
})
export class PublishModule implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Zip bodies are handed on as the raw stream, unread: the publish
    // service spools them to disk with its own size limit.
    fastify.addContentTypeParser(ZIP_TYPES, (_req, _payload, done) => done(null));
    fastify.addHook('onRequest', (req, _reply, done) => {
      if (req.method === 'PUT' && req.headers['content-type'] === undefined && req.url.startsWith(MODULES_PREFIX)) {
        req.headers['content-type'] = 'application/zip';
      }
      done();
    });
  }
}
