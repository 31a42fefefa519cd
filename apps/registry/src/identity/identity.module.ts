import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuthEvents } from './auth-events';
import { BootstrapAdmin } from './bootstrap-admin';
import { TeamsRepository } from './teams.repository';
import { TeamsService } from './teams.service';
import { TokensRepository } from './tokens.repository';
import { TokensService } from './tokens.service';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

const repositories = [
  { provide: UsersRepository, inject: [DataSource], useFactory: (ds: DataSource) => new UsersRepository(ds) },
  { provide: TeamsRepository, inject: [DataSource], useFactory: (ds: DataSource) => new TeamsRepository(ds) },
  { provide: TokensRepository, inject: [DataSource], useFactory: (ds: DataSource) => new TokensRepository(ds) },
];

/**
 * Users, teams, tokens and the change notifications that keep credential
 * caches honest. Global: the admin API, access checks and auth all use it.
 */
@Global()
@Module({
  providers: [...repositories, AuthEvents, UsersService, TeamsService, TokensService, BootstrapAdmin],
  exports: [UsersRepository, TeamsRepository, TokensRepository, AuthEvents, UsersService, TeamsService, TokensService, BootstrapAdmin],
})
export class IdentityModule {}
