import { accountPrincipal, AuditService, refusalOf } from '../audit/audit.service';
import { ANONYMOUS } from '../auth/principal';
import { Inject, Injectable } from '@nestjs/common';
import { errors, generators } from 'openid-client';
import { GoproxyError } from '../common/goproxy-error';
import { LOGGER, type AppLogger } from '../logging/logger';
import { SessionTokensService } from '../auth/session-tokens.service';
import type { UserView } from '../identity/users.service';
import { ExpiringStore } from './expiring-store';
import { describeOidcError, OidcClientService } from './oidc-client.service';
import { OidcSignInService } from './oidc-sign-in.service';

/** How long a user has at the identity provider before the sign-in must start over. */
export const BROWSER_LOGIN_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;

interface PendingBrowserLogin {
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
}

export interface BrowserLoginStart {
  readonly authorizationUrl: string;
  /** Also the value of the state cookie that binds the sign-in to this browser. */
  readonly state: string;
}

export interface BrowserLoginDone {
  readonly user: UserView;
  readonly session: { accessToken: string; expiresIn: number };
}

/**
 * The authorization code flow with PKCE (S256), state and nonce. What must
 * stay secret until the callback (nonce, code verifier) stays on the server;
 * the browser only carries the state, in the URL and in a cookie, and the
 * callback must show both: a callback URL made by someone else (login CSRF)
 * arrives without the matching cookie.
 */
@Injectable()
export class BrowserLoginService {
  private readonly pending = new ExpiringStore<PendingBrowserLogin>(MAX_PENDING);

  constructor(
    @Inject(OidcClientService) private readonly oidc: OidcClientService,
    @Inject(OidcSignInService) private readonly signIn: OidcSignInService,
    @Inject(SessionTokensService) private readonly sessions: SessionTokensService,
    @Inject(LOGGER) private readonly log: AppLogger,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  async start(redirectUri: string): Promise<BrowserLoginStart> {
    const { client, scope } = await this.oidc.settings();
    const state = generators.state();
    const nonce = generators.nonce();
    const codeVerifier = generators.codeVerifier();
    if (!this.pending.put(state, { nonce, codeVerifier, redirectUri }, BROWSER_LOGIN_TTL_MS)) {
      throw new GoproxyError('too-many-requests', 'too many sign-ins in progress; try again in a minute');
    }
    const authorizationUrl = client.authorizationUrl({
      scope,
      redirect_uri: redirectUri,
      response_type: 'code',
      state,
      nonce,
      code_challenge: generators.codeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { authorizationUrl, state };
  }

  /** `callbackUrl` is the request's path and query; `stateCookie` the cookie the browser sent. */
  async finish(callbackUrl: string, stateCookie: string | undefined): Promise<BrowserLoginDone> {
    try {
      const done = await this.finishSignIn(callbackUrl, stateCookie);
      await this.audit.security(accountPrincipal(done.user), 'login', { outcome: 'allowed', status: 200, reason: 'browser sign-in' });
      return done;
    } catch (err) {
      await this.audit.security(ANONYMOUS, 'login', { ...refusalOf(err), reason: `browser sign-in failed: ${(err as Error).message}` });
      throw err;
    }
  }

  private async finishSignIn(callbackUrl: string, stateCookie: string | undefined): Promise<BrowserLoginDone> {
    const oidc = await this.oidc.settings();
    const params = oidc.client.callbackParams(callbackUrl);
    const state = typeof params.state === 'string' ? params.state : '';
    // Only the browser that started the sign-in may finish (or cancel) it; a
    // request without its cookie leaves the sign-in untouched.
    const sameBrowser = state !== '' && stateCookie === state;
    if (params.error) {
      if (sameBrowser) this.pending.delete(state);
      this.log.info({ error: safeCode(params.error) }, 'OIDC sign-in refused by the provider');
      throw new GoproxyError('forbidden', `the identity provider did not sign you in (${safeCode(params.error)}); start again at /auth/login`);
    }
    // Used once, whatever happens next: a replayed callback finds nothing.
    const pending = sameBrowser ? this.pending.take(state) : undefined;
    if (!pending) {
      throw new GoproxyError('bad-request', 'this sign-in link is unknown, expired or from another browser; start again at /auth/login');
    }
    let tokens;
    try {
      tokens = await oidc.client.callback(pending.redirectUri, params, {
        state,
        nonce: pending.nonce,
        code_verifier: pending.codeVerifier,
        response_type: 'code',
      });
    } catch (err) {
      this.log.warn({ err: describeOidcError(err) }, 'OIDC code exchange failed');
      if (err instanceof errors.OPError) {
        throw new GoproxyError('bad-request', `the identity provider refused the sign-in (${safeCode(err.error)}); start again at /auth/login`);
      }
      throw new GoproxyError('bad-upstream', "the identity provider's answer could not be verified; start again at /auth/login");
    }
    const user = await this.signIn.complete(oidc, tokens, 'browser');
    const session = await this.sessions.issue(user.id);
    return { user, session };
  }
}

/** OAuth error codes are short ASCII words; anything else is not shown back. */
function safeCode(code: unknown): string {
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : 'error';
}
