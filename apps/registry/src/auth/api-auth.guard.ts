import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { GoproxyError } from '../common/goproxy-error';
import { IS_PUBLIC, REQUIRED_ROLES, REQUIRED_SCOPES, setRequestCredential, setRequestPrincipal } from './auth.decorators';
import { isApiRequest, noCredentials } from './auth-messages';
import { AuthenticationService } from './authentication.service';
import { ANONYMOUS, type GlobalRole, type Scope } from './principal';

/**
 * Registered as APP_GUARD, acting only on /api routes: there it denies by
 * default (credentials needed unless @Public()) and applies @RequireRole and
 * @RequireScope. Credentials: the Authorization header, else the browser
 * session cookie (GET/HEAD, or with X-ModGate-CSRF: 1; see credentials.ts).
 * GOPROXY routes authenticate in the proxy controller, where
 * the access layer decides whether anonymous reads are allowed; /healthz,
 * /readyz, /metrics, the start page and /auth/* are not the guard's business.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuthenticationService) private readonly auth: AuthenticationService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    if (!isApiRequest(req)) return true;
    const targets = [ctx.getHandler(), ctx.getClass()];

    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) {
      try {
        const { principal, credential } = await this.auth.identify(req);
        setRequestPrincipal(req, principal);
        setRequestCredential(req, credential);
      } catch (err) {
        // A public route works without identity; only throttling still applies.
        if (err instanceof GoproxyError && err.kind === 'too-many-requests') throw err;
        setRequestPrincipal(req, ANONYMOUS);
      }
      return true;
    }

    const { principal: who, credential } = await this.auth.identify(req);
    if (who.via === 'anonymous') throw noCredentials(req);

    const roles = this.reflector.getAllAndOverride<GlobalRole[] | undefined>(REQUIRED_ROLES, targets);
    if (roles?.length && who.role !== 'admin' && !(who.role && roles.includes(who.role))) {
      throw new GoproxyError('forbidden', `this needs the role ${roles.join(' or ')}; ${who.login} has the role ${who.role ?? 'none'}`);
    }
    const scopes = this.reflector.getAllAndOverride<Scope[] | undefined>(REQUIRED_SCOPES, targets);
    if (scopes?.length && !scopes.some((s) => who.scopes.has(s))) {
      throw new GoproxyError('forbidden', `this needs a token with the scope ${scopes.join(' or ')}; the one in use has ${[...who.scopes].join(', ')}`);
    }
    setRequestPrincipal(req, who);
    setRequestCredential(req, credential);
    return true;
  }
}
