import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AccessModule } from '../access/access.module';
import { AccessService } from '../access/access.service';
import { ENV, Env } from '../config/env';
import { OwnedPaths } from '../proxy/owned-paths';
import { ModuleVersionRepository } from '../versions/module-version.repository';
import { VersionsModule } from '../versions/versions.module';
import { CatalogueController } from './catalogue.controller';
import { CatalogueRepository } from './catalogue.repository';
import { CatalogueService } from './catalogue.service';

@Module({
  imports: [VersionsModule, AccessModule],
  controllers: [CatalogueController],
  providers: [
    {
      provide: CatalogueService,
      inject: [DataSource, ModuleVersionRepository, AccessService, ENV],
      useFactory: (ds: DataSource, r: ModuleVersionRepository, a: AccessService, env: Env) =>
        new CatalogueService(new CatalogueRepository(ds), r, a, new OwnedPaths(env.privatePatterns)),
    },
  ],
})
export class CatalogueModule {}
