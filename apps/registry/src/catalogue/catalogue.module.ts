import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AccessModule } from '../access/access.module';
import { AccessService } from '../access/access.service';
import { OwnedPaths } from '../config/owned-paths';
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
      inject: [DataSource, ModuleVersionRepository, AccessService, OwnedPaths],
      useFactory: (ds: DataSource, r: ModuleVersionRepository, a: AccessService, owned: OwnedPaths) =>
        new CatalogueService(new CatalogueRepository(ds), r, a, owned),
    },
  ],
})
export class CatalogueModule {}
