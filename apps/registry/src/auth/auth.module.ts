import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ENV, type Env } from '../config/env';
import { AuthEvents } from '../identity/auth-events';
import { IdentityModule } from '../identity/identity.module';
import { TokensRepository } from '../identity/tokens.repository';
import { UsersRepository } from '../identity/users.repository';
import { LOGGER, type AppLogger } from '../logging/logger';
import { ApiAuthGuard } from './api-auth.guard';
import { AuthThrottle } from './auth-throttle';
import { AuditService } from '../audit/audit.service';
import { AuthenticationService } from './authentication.service';
import { JwtStrategy } from './jwt.strategy';
import { SessionController } from './session.controller';
import { SessionTokensService } from './session-tokens.service';
import { SigningKeyStore } from './signing-key-store';
import { SigningKeysRepository } from './signing-keys.repository';
import { TokenUsage } from './token-usage';
import { UserPrincipals } from './user-principals';

/**
 * Authentication for every route: AuthenticationService (GOPROXY and API),
 * session JWTs, the /api guard, and the caller's own session routes
 * (/api/v1/auth/session, /token, /logout). Global, so the proxy controller and the
 * admin controllers inject AuthenticationService / SessionTokensService
 * without importing this module.
 */
@Global()
@Module({
  imports: [IdentityModule],
  controllers: [SessionController],
  providers: [
    UserPrincipals,
    { provide: AuthThrottle, inject: [ENV], useFactory: (env: Env) => new AuthThrottle({ maxFailures: env.auth.maxFailures, lockoutSeconds: env.auth.lockoutSeconds }) },
    { provide: TokenUsage, inject: [TokensRepository, LOGGER], useFactory: (r: TokensRepository, log: AppLogger) => new TokenUsage(r, log) },
    { provide: SigningKeysRepository, inject: [DataSource], useFactory: (ds: DataSource) => new SigningKeysRepository(ds) },
    {
      provide: SigningKeyStore,
      inject: [SigningKeysRepository, ENV, AuthEvents],
      useFactory: (r: SigningKeysRepository, env: Env, events: AuthEvents) => new SigningKeyStore(r, env, events),
    },
    { provide: JwtStrategy, inject: [SigningKeyStore], useFactory: (k: SigningKeyStore) => new JwtStrategy(k) },
    {
      provide: AuthenticationService,
      inject: [TokensRepository, UserPrincipals, JwtStrategy, AuthThrottle, TokenUsage, AuthEvents, ENV, AuditService],
      useFactory: (...deps: ConstructorParameters<typeof AuthenticationService>) => new AuthenticationService(...deps),
    },
    {
      provide: SessionTokensService,
      inject: [SigningKeyStore, UsersRepository, AuthEvents, ENV],
      useFactory: (...deps: ConstructorParameters<typeof SessionTokensService>) => new SessionTokensService(...deps),
    },
    ApiAuthGuard,
    { provide: APP_GUARD, useExisting: ApiAuthGuard },
  ],
  exports: [AuthenticationService, SessionTokensService, UserPrincipals, AuthThrottle, TokenUsage, ApiAuthGuard],
})
export class AuthModule {}
