import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { ENV, type Env } from '../config/env';
import { BROWSER_LOGIN_TTL_MS, BrowserLoginService } from './browser-login.service';
import { clearCookie, readCookie, serializeCookie, SESSION_COOKIE, STATE_COOKIE } from './cookies';
import { signedInPage } from './signed-in-page';

const CALLBACK_PATH = '/auth/callback';

/**
 * GET /auth/login starts SSO in a browser; the identity provider sends the
 * browser back to GET /auth/callback. Outside /api: these are pages, and
 * their errors are the one-line text every non-API route answers with.
 */
@ApiExcludeController()
@Controller('auth')
export class BrowserLoginController {
  constructor(
    @Inject(BrowserLoginService) private readonly logins: BrowserLoginService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  @Public()
  @Get('login')
  async login(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const base = this.baseUrl(req);
    const { authorizationUrl, state } = await this.logins.start(`${base}${CALLBACK_PATH}`);
    await reply
      .header('cache-control', 'no-store')
      .header('set-cookie', serializeCookie(STATE_COOKIE, state, { path: CALLBACK_PATH, maxAgeSeconds: BROWSER_LOGIN_TTL_MS / 1000, secure: isHttps(base) }))
      .redirect(authorizationUrl, 302);
  }

  @Public()
  @Get('callback')
  async callback(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const base = this.baseUrl(req);
    const secure = isHttps(base);
    // The state cookie has done its job whatever the outcome (error answers keep this header).
    void reply.header('set-cookie', clearCookie(STATE_COOKIE, CALLBACK_PATH, secure));
    const { user, session } = await this.logins.finish(req.url, readCookie(req.headers.cookie, STATE_COOKIE));
    await reply
      // Fastify adds a second set-cookie header rather than replacing the first.
      .header('set-cookie', serializeCookie(SESSION_COOKIE, session.accessToken, { path: '/', maxAgeSeconds: session.expiresIn, secure }))
      .header('cache-control', 'no-store')
      // The URL still holds the (used) code: no referrer, no scripts, no frames.
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', "default-src 'none'; frame-ancestors 'none'")
      .type('text/html; charset=utf-8')
      .send(signedInPage(user.login, base));
  }

  /**
   * Where the provider must send the browser back: MODGATE_PUBLIC_URL when
   * set (behind a proxy it is the only reliable answer), else this request's
   * own origin. A forged Host header only yields a redirect URI the provider
   * does not know, so it cannot redirect anywhere.
   */
  private baseUrl(req: FastifyRequest): string {
    return this.env.publicUrl ?? `${req.protocol}://${req.host}`;
  }
}

function isHttps(url: string): boolean {
  return url.startsWith('https:');
}
