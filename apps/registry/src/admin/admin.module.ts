import { Module } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { AccessModule } from '../access/access.module';
import { AuthModule } from '../auth/auth.module';
import { IdentityModule } from '../identity/identity.module';
import { AccessExplainer } from './access-explainer';
import { AccessRulesController } from './access-rules.controller';
import { apiValidationPipe } from './api-validation.pipe';
import { GroupMappingsController } from './group-mappings.controller';
import { ServiceAccountsController } from './service-accounts.controller';
import { SessionKeysController } from './session-keys.controller';
import { TeamMembersController } from './team-members.controller';
import { TeamsController } from './teams.controller';
import { TokensController } from './tokens.controller';
import { UsersController } from './users.controller';

/**
 * The admin REST API under /api/v1: thin controllers over the identity,
 * auth and access services. It imports those modules itself (Nest keeps one
 * instance of each), so it works whatever else the app module imports.
 */
@Module({
  imports: [IdentityModule, AuthModule, AccessModule],
  controllers: [
    UsersController,
    ServiceAccountsController,
    TeamsController,
    TeamMembersController,
    GroupMappingsController,
    AccessRulesController,
    TokensController,
    SessionKeysController,
  ],
  providers: [AccessExplainer, { provide: APP_PIPE, useFactory: apiValidationPipe }],
})
export class AdminModule {}
