import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { IdentityModule } from '../identity/identity.module';
import { BrowserLoginController } from './browser-login.controller';
import { BrowserLoginService } from './browser-login.service';
import { DeviceLoginController } from './device-login.controller';
import { DeviceLoginService } from './device-login.service';
import { OidcClientService } from './oidc-client.service';
import { OidcSignInService } from './oidc-sign-in.service';

/**
 * SSO through OpenID Connect: the browser code flow (/auth/login,
 * /auth/callback) and the device flow for `modgate login`
 * (/api/v1/auth/device). Always loaded; without MODGATE_OIDC_ISSUER and
 * MODGATE_OIDC_CLIENT_ID every route answers 404 "SSO is not configured".
 */
@Module({
  imports: [IdentityModule, AuthModule],
  controllers: [BrowserLoginController, DeviceLoginController],
  providers: [OidcClientService, OidcSignInService, BrowserLoginService, DeviceLoginService],
})
export class OidcModule {}
