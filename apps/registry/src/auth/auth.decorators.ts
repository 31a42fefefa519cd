import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { CredentialInfo } from './authentication.service';
import { ANONYMOUS, type GlobalRole, type Principal, type Scope } from './principal';

export const IS_PUBLIC = 'modgate:auth:public';
export const REQUIRED_ROLES = 'modgate:auth:roles';
export const REQUIRED_SCOPES = 'modgate:auth:scopes';

/** The route answers without credentials (credentials, if sent and valid, still identify the caller). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** One of these global roles is needed; admin always passes. */
export const RequireRole = (...roles: GlobalRole[]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);

/** The credential must carry one of these scopes (JWT sessions carry all). */
export const RequireScope = (...scopes: Scope[]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_SCOPES, scopes);

// Keyed by the request object, so nothing is added to Fastify's request type.
const principals = new WeakMap<object, Principal>();
const credentials = new WeakMap<object, CredentialInfo>();
const NO_CREDENTIAL: CredentialInfo = Object.freeze({ via: 'anonymous', expiresAt: null });

export function setRequestPrincipal(req: FastifyRequest, p: Principal): void {
  principals.set(req, p);
}

/** The principal ApiAuthGuard attached (ANONYMOUS outside /api or before the guard ran). */
export function requestPrincipal(req: FastifyRequest): Principal {
  return principals.get(req) ?? ANONYMOUS;
}

/** Controller parameter: the caller, as established by ApiAuthGuard. */
export const CurrentPrincipal: () => ParameterDecorator = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal =>
  requestPrincipal(ctx.switchToHttp().getRequest<FastifyRequest>()),
);

export function setRequestCredential(req: FastifyRequest, c: CredentialInfo): void {
  credentials.set(req, c);
}

/** How the caller authenticated (cookie, JWT or token) and until when; as ApiAuthGuard found it. */
export function requestCredential(req: FastifyRequest): CredentialInfo {
  return credentials.get(req) ?? NO_CREDENTIAL;
}

/** Controller parameter: the credential behind CurrentPrincipal. */
export const CurrentCredential: () => ParameterDecorator = createParamDecorator((_data: unknown, ctx: ExecutionContext): CredentialInfo =>
  requestCredential(ctx.switchToHttp().getRequest<FastifyRequest>()),
);
