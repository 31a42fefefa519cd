import { accountPrincipal, AuditService, refusalOf } from '../audit/audit.service';
import { ANONYMOUS } from '../auth/principal';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { type DeviceFlowHandle, errors, type TokenSet } from 'openid-client';
import { AuthenticationService } from '../auth/authentication.service';
import { GoproxyError } from '../common/goproxy-error';
import { ENV, type Env } from '../config/env';
import { TokensService } from '../identity/tokens.service';
import { LOGGER, type AppLogger } from '../logging/logger';
import { ExpiringStore } from './expiring-store';
import { describeOidcError, OidcClientService } from './oidc-client.service';
import { OidcSignInService } from './oidc-sign-in.service';

/** Seconds between the CLI's polls; cheap, they only read this process's memory. */
export const DEVICE_POLL_INTERVAL_S = 2;
/** A sign-in nobody polls for this long is abandoned (the CLI was stopped). */
const ABANDONED_AFTER_MS = 60_000;
const SWEEP_EVERY_MS = 10_000;
const MAX_PENDING = 500;
const TOKEN_LIFETIME_MS = 90 * 24 * 3600_000;
/** The token a device sign-in creates: enough for the go command and publishing. */
const TOKEN_SCOPES = ['read', 'publish'] as const;

type Outcome = { state: 'pending' } | { state: 'approved'; tokens: TokenSet } | { state: 'failed'; error: GoproxyError };

interface PendingDevice {
  readonly flow: DeviceFlowHandle;
  readonly abort: AbortController;
  outcome: Outcome;
  lastPolledAt: number;
}

export interface DeviceLoginStart {
  handle: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | null;
  interval: number;
  expiresIn: number;
}

export type DeviceLoginPoll =
  | { status: 'pending'; interval: number }
  | { status: 'complete'; login: string; token: string; tokenName: string; expiresAt: string | null; privatePatterns: string[] };

/**
 * The device authorization grant for `modgate login`. ModGate is the OAuth
 * client: it asks the provider for a device code, polls the provider's token
 * endpoint itself (openid-client's DeviceFlowHandle, in the background) and
 * gives the CLI only a random handle. The device code never leaves ModGate,
 * and what the CLI finally gets is a ModGate token, not the provider's.
 */
@Injectable()
export class DeviceLoginService implements OnModuleDestroy {
  private readonly pending = new ExpiringStore<PendingDevice>(MAX_PENDING);
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(OidcClientService) private readonly oidc: OidcClientService,
    @Inject(OidcSignInService) private readonly signIn: OidcSignInService,
    @Inject(AuthenticationService) private readonly auth: AuthenticationService,
    @Inject(TokensService) private readonly tokens: TokensService,
    @Inject(ENV) private readonly env: Env,
    @Inject(LOGGER) private readonly log: AppLogger,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  async start(): Promise<DeviceLoginStart> {
    const { client, scope } = await this.oidc.settings();
    if (!client.issuer.metadata.device_authorization_endpoint) {
      throw new GoproxyError('not-found', 'the identity provider offers no device sign-in; ask a ModGate admin to enable the device flow for the ModGate client');
    }
    let flow: DeviceFlowHandle;
    try {
      flow = await client.deviceAuthorization({ scope });
    } catch (err) {
      this.log.warn({ err: describeOidcError(err) }, 'OIDC device authorization failed');
      throw new GoproxyError('bad-upstream', `the identity provider refused to start a device sign-in${err instanceof errors.OPError ? ` (${err.error})` : ''}; ask a ModGate admin`);
    }
    const handle = randomBytes(24).toString('base64url');
    const entry: PendingDevice = { flow, abort: new AbortController(), outcome: { state: 'pending' }, lastPolledAt: Date.now() };
    if (!this.pending.put(handle, entry, flow.expires_in * 1000)) {
      throw new GoproxyError('too-many-requests', 'too many sign-ins in progress; try again in a minute');
    }
    flow.poll({ signal: entry.abort.signal }).then(
      (tokens) => (entry.outcome = { state: 'approved', tokens }),
      (err: unknown) => {
        if (!entry.abort.signal.aborted) entry.outcome = { state: 'failed', error: this.deviceError(err) };
      },
    );
    return {
      handle,
      userCode: flow.user_code,
      verificationUri: flow.verification_uri,
      verificationUriComplete: flow.verification_uri_complete ?? null,
      interval: DEVICE_POLL_INTERVAL_S,
      expiresIn: flow.expires_in,
    };
  }

  /** Pending until the user has approved; then, once, the new token. */
  async poll(handle: string, tokenName: string | undefined): Promise<DeviceLoginPoll> {
    // Checked here too: the route's DTO validation depends on a global pipe.
    if (typeof handle !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(handle)) {
      throw new GoproxyError('bad-request', 'handle: expected the handle from POST /api/v1/auth/device');
    }
    if (tokenName !== undefined && (typeof tokenName !== 'string' || tokenName.length > 100)) {
      throw new GoproxyError('bad-request', 'tokenName: expected at most 100 characters');
    }
    const entry = this.pending.get(handle);
    if (!entry) throw new GoproxyError('not-found', 'this sign-in is unknown, finished or expired; run "modgate login" again');
    entry.lastPolledAt = Date.now();
    if (entry.outcome.state === 'pending') return { status: 'pending', interval: DEVICE_POLL_INTERVAL_S };
    // Whatever the outcome, the handle is used up now (a second poll gets 404).
    this.pending.delete(handle);
    if (entry.outcome.state === 'failed') {
      await this.audit.security(ANONYMOUS, 'login', { ...refusalOf(entry.outcome.error), reason: `device sign-in failed: ${entry.outcome.error.message}` });
      throw entry.outcome.error;
    }

    const oidc = await this.oidc.settings();
    let user;
    try {
      user = await this.signIn.complete(oidc, entry.outcome.tokens, 'device');
    } catch (err) {
      await this.audit.security(ANONYMOUS, 'login', { ...refusalOf(err), reason: `device sign-in failed: ${(err as Error).message}` });
      throw err;
    }
    await this.audit.security(accountPrincipal(user), 'login', { outcome: 'allowed', status: 200, reason: 'device sign-in (modgate login)' });
    const actor = await this.auth.principalForUser(user.id, 'jwt');
    const name = tokenName?.trim() || `modgate login ${new Date().toISOString().slice(0, 10)}`;
    const expiresAt = new Date(Date.now() + TOKEN_LIFETIME_MS);
    const created = await this.tokens.create(user.id, { name, scopes: [...TOKEN_SCOPES], expiresAt }, actor);
    this.log.info({ login: user.login, tokenId: created.view.id }, 'token created by device sign-in');
    return {
      status: 'complete',
      login: user.login,
      token: created.token,
      tokenName: created.view.name,
      expiresAt: created.view.expiresAt?.toISOString() ?? null,
      privatePatterns: [...this.env.privatePatterns],
    };
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
    for (const e of this.pending.clear()) e.abort.abort();
  }

  /** Stops the background polling of expired and abandoned sign-ins. */
  private sweep(): void {
    const cutoff = Date.now() - ABANDONED_AFTER_MS;
    for (const e of this.pending.sweep((e) => e.lastPolledAt >= cutoff)) e.abort.abort();
  }

  private deviceError(err: unknown): GoproxyError {
    const code = err instanceof errors.OPError ? err.error : null;
    if (code === 'access_denied') return new GoproxyError('forbidden', 'the sign-in was refused at the identity provider; run "modgate login" again');
    if (code === 'expired_token' || (err instanceof errors.RPError && /expired/.test(err.message))) {
      return new GoproxyError('gone', 'the sign-in code expired before it was approved; run "modgate login" again');
    }
    this.log.warn({ err: describeOidcError(err) }, 'OIDC device sign-in failed');
    return new GoproxyError('bad-upstream', `the identity provider failed the sign-in${code ? ` (${code})` : ''}; run "modgate login" again`);
  }
}
