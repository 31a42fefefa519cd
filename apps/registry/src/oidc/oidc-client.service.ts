import { Inject, Injectable } from '@nestjs/common';
import { type BaseClient, custom, errors, Issuer } from 'openid-client';
import { GoproxyError } from '../common/goproxy-error';
import { ENV, type Env } from '../config/env';
import { LOGGER, type AppLogger } from '../logging/logger';

/** After a failed discovery, wait this long before asking the provider again. */
const RETRY_AFTER_MS = 5_000;
const HTTP_TIMEOUT_MS = 10_000;

export interface OidcSettings {
  readonly client: BaseClient;
  /** The issuer as the provider names itself (the `iss` of its tokens). */
  readonly issuer: string;
  readonly scope: string;
  readonly groupsClaim: string | undefined;
}

/**
 * The OpenID Connect relying party. Discovery happens at the first sign-in,
 * not at start: ModGate must serve modules while the identity provider is
 * down, and a failed discovery is retried by a later request instead of
 * being remembered.
 */
@Injectable()
export class OidcClientService {
  private discovery: Promise<OidcSettings> | null = null;
  private failedAt = 0;

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  get configured(): boolean {
    return !!(this.env.oidc.issuer && this.env.oidc.clientId);
  }

  /** Throws 404 "SSO is not configured" when it is not; 503 while the provider cannot be reached. */
  settings(): Promise<OidcSettings> {
    if (!this.configured) return Promise.reject(new GoproxyError('not-found', 'SSO is not configured'));
    if (this.discovery) return this.discovery;
    if (Date.now() - this.failedAt < RETRY_AFTER_MS) return Promise.reject(this.unreachable());
    this.discovery = this.discover().catch((err: unknown) => {
      this.discovery = null;
      this.failedAt = Date.now();
      this.log.warn({ issuer: this.env.oidc.issuer, err: describeOidcError(err) }, 'OIDC discovery failed');
      throw this.unreachable();
    });
    return this.discovery;
  }

  private async discover(): Promise<OidcSettings> {
    const { issuer: issuerUrl, clientId, clientSecret, scopes, groupsClaim } = this.env.oidc;
    Issuer[custom.http_options] = () => ({ timeout: HTTP_TIMEOUT_MS });
    const issuer = await Issuer.discover(issuerUrl!);
    const client = new issuer.Client({
      client_id: clientId!,
      client_secret: clientSecret,
      // Without a secret ModGate is a public client: PKCE alone protects the code.
      token_endpoint_auth_method: clientSecret ? 'client_secret_basic' : 'none',
      response_types: ['code'],
    });
    client[custom.http_options] = () => ({ timeout: HTTP_TIMEOUT_MS });
    // Small clock differences between ModGate and the provider are normal.
    client[custom.clock_tolerance] = 30;
    this.log.info({ issuer: issuer.metadata.issuer, deviceFlow: !!issuer.metadata.device_authorization_endpoint }, 'OIDC provider discovered');
    return { client, issuer: issuer.metadata.issuer, scope: scopes, groupsClaim };
  }

  private unreachable(): GoproxyError {
    return new GoproxyError('unavailable', `the identity provider ${this.env.oidc.issuer} cannot be reached; try again in a minute`);
  }
}

/**
 * A loggable description of an openid-client or network error: the error
 * name and the provider's error code, with anything token-like cut out
 * (RPError messages may quote states, nonces or claims).
 */
export function describeOidcError(err: unknown): string {
  if (err instanceof errors.OPError) return `OPError ${err.error}`;
  if (err instanceof GoproxyError) return `${err.kind}: ${err.message}`;
  const e = err as { name?: string; message?: string; code?: string };
  const msg = (e.message ?? String(err)).replace(/[A-Za-z0-9_\-.~+/=]{20,}/g, '[redacted]').slice(0, 200);
  return `${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}: ${msg}`;
}
