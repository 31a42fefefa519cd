import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../config/env';
import { LOGGER, AppLogger } from '../logging/logger';
import { OwnedPaths } from '../config/owned-paths';
import { AccessRuleRepository } from './access-rule.repository';
import { AccessService } from './access.service';
import { AuditService } from '../audit/audit.service';

/**
 * Access rules and decisions. Rules are loaded before the application
 * listens (onModuleInit), so no request is ever decided on an empty set.
 */
@Module({
  providers: [
    { provide: AccessRuleRepository, inject: [DataSource], useFactory: (ds: DataSource) => new AccessRuleRepository(ds) },
    {
      provide: AccessService,
      inject: [AccessRuleRepository, OwnedPaths, ENV, DataSource, LOGGER, AuditService],
      useFactory: (repo: AccessRuleRepository, owned: OwnedPaths, env: Env, ds: DataSource, log: AppLogger, audit: AuditService) =>
        new AccessService(
          repo,
          owned,
          {
            anonymousRead: env.anonymousRead,
            databaseUrl: (ds.options as { url?: string }).url ?? null,
            defaultHost: env.publicUrl ? new URL(env.publicUrl).hostname : undefined,
          },
          log,
          audit,
        ),
    },
  ],
  exports: [AccessService],
})
export class AccessModule implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(AccessService) private readonly access: AccessService) {}

  async onModuleInit(): Promise<void> {
    await this.access.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.access.stop();
  }
}
