import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GoproxyErrorFilter } from './common/goproxy-error.filter';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { CoreDeps, CoreModule } from './core.module';
import { HealthModule } from './health/health.module';
import { IdentityModule } from './identity/identity.module';
import { OidcModule } from './oidc/oidc.module';
import { ProxyModule } from './proxy/proxy.module';
import { PublishModule } from './publish/publish.module';
import { CatalogueModule } from './catalogue/catalogue.module';
import { AuditModule } from './audit/audit.module';
import { StartPageModule } from './start-page/start-page.module';
import { VersionsModule } from './versions/versions.module';

@Module({})
export class AppModule {
  static forRoot(deps: CoreDeps): DynamicModule {
    return {
      module: AppModule,
      // ProxyModule last: its catch-all GOPROXY route must not shadow the others.
      imports: [CoreModule.forRoot(deps), AuditModule, IdentityModule, AuthModule, OidcModule, VersionsModule, HealthModule, StartPageModule, AdminModule, PublishModule, CatalogueModule, ProxyModule],
      providers: [{ provide: APP_FILTER, useClass: GoproxyErrorFilter }],
    };
  }
}
