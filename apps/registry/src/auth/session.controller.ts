import { Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrorDto } from '../admin/dto/page.dto';
import { GoproxyError } from '../common/goproxy-error';
import { ENV, type Env } from '../config/env';
import { clearCookie, SESSION_COOKIE } from '../oidc/cookies';
import { CurrentCredential, CurrentPrincipal, Public } from './auth.decorators';
import type { CredentialInfo } from './authentication.service';
import { CSRF_HEADER } from './credentials';
import type { Principal } from './principal';
import { SessionTokensService, type IssuedSession } from './session-tokens.service';

const COOKIE_NOTE =
  'Takes "Authorization: Bearer <token or JWT>" or, from a browser, the modgate_session cookie set by the SSO sign-in ' +
  '(with methods other than GET/HEAD only together with the header "X-ModGate-CSRF: 1").';

class SessionTeamDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'payments' }) name!: string;
  @ApiProperty({ enum: ['maintainer', 'publisher', 'reader'] }) role!: string;
}

class SessionDto {
  @ApiProperty({ example: 'alice' }) login!: string;
  @ApiProperty({ enum: ['admin', 'auditor', 'user'] }) role!: string;
  @ApiProperty({ enum: ['user', 'service'] }) kind!: string;
  @ApiProperty({ type: [SessionTeamDto], description: 'The caller’s teams; for a team-restricted credential only those it is restricted to' })
  teams!: SessionTeamDto[];
  @ApiProperty({ enum: ['cookie', 'jwt', 'token'], description: 'How this request authenticated: the browser session cookie, a session JWT or an API token' })
  via!: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'When the credential in use expires; absent for a token without expiry' })
  expiresAt?: string;
}

class AccessTokenDto {
  @ApiProperty({ description: 'A session JWT, for "Authorization: Bearer …"' }) accessToken!: string;
  @ApiProperty({ enum: ['Bearer'] }) tokenType!: 'Bearer';
  @ApiProperty({ description: 'Seconds until it expires' }) expiresIn!: number;
}

const CSRF_HEADER_DOC = { name: 'X-ModGate-CSRF', required: false, description: 'Send "1" when authenticating with the session cookie' } as const;

/**
 * The caller's own session: who it is, a short-lived JWT in exchange for the
 * credential in use, and signing out of the browser session.
 */
@ApiTags('auth')
@ApiBearerAuth('bearer')
@ApiUnauthorizedResponse({ type: ApiErrorDto, description: 'No, unknown, revoked or expired credentials, or a disabled account' })
@ApiTooManyRequestsResponse({ type: ApiErrorDto, description: 'Too many failed authentications from this address or login' })
@Controller('api/v1/auth')
export class SessionController {
  constructor(
    @Inject(SessionTokensService) private readonly sessions: SessionTokensService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  @Get('session')
  @ApiOperation({ summary: 'Who the caller is and how it authenticated', description: COOKIE_NOTE })
  @ApiOkResponse({ type: SessionDto })
  session(@CurrentPrincipal() who: Principal, @CurrentCredential() cred: CredentialInfo, @Res({ passthrough: true }) reply: FastifyReply): SessionDto {
    void reply.header('cache-control', 'no-store');
    const teams = [...who.teams]
      .filter(([id]) => who.teamRestriction === null || who.teamRestriction.has(id))
      .map(([id, role]) => ({ id, name: who.teamNames.get(id) ?? id, role }));
    return {
      login: who.login,
      role: who.role ?? 'user',
      kind: who.kind,
      teams,
      via: cred.via,
      ...(cred.expiresAt ? { expiresAt: cred.expiresAt.toISOString() } : {}),
    };
  }

  /**
   * The JWT never grants more than the credential it is minted from. From a
   * token it carries the token's id, scopes and team restriction as claims
   * (tid, scp, teams), which authentication enforces, and it stops the
   * moment the token is revoked or its owner disabled. From a session it is
   * an equal session. Either way it expires no later than the credential
   * presented, so exchanging JWTs for JWTs cannot keep a session alive.
   * (Refusing restricted tokens was the alternative; carrying the limits
   * lets a read-only CI token get a read-only JWT.)
   */
  @Post('token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Exchange the credential in use (an API token or a session) for a short-lived session JWT',
    description:
      'The JWT has the scopes and team restriction of that credential, stops working when its token is revoked or the account disabled, ' +
      `and expires with the credential at the latest. ${COOKIE_NOTE}`,
  })
  @ApiHeader(CSRF_HEADER_DOC)
  @ApiOkResponse({ type: AccessTokenDto })
  @ApiForbiddenResponse({ type: ApiErrorDto, description: 'The account is disabled' })
  async token(@CurrentPrincipal() who: Principal, @CurrentCredential() cred: CredentialInfo, @Res({ passthrough: true }) reply: FastifyReply): Promise<IssuedSession> {
    const token = who.tokenId ? { id: who.tokenId, scopes: [...who.scopes], teamIds: who.teamRestriction ? [...who.teamRestriction] : null } : null;
    const issued = await this.sessions.issue(who.userId!, { token, notAfter: cred.expiresAt });
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return { accessToken: issued.accessToken, tokenType: issued.tokenType, expiresIn: issued.expiresIn };
  }

  /**
   * Public: signing out needs no valid session (an expired one must be
   * clearable too). It does need the CSRF header, like every cookie-borne
   * change: a cross-site form must not sign people out. It clears the cookie
   * only: session JWTs are not stored, so one copied elsewhere keeps working
   * until it expires; the cookie is HttpOnly, so no script could copy it.
   */
  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign the browser out: clears the modgate_session cookie', description: 'Needs the header "X-ModGate-CSRF: 1".' })
  @ApiHeader({ ...CSRF_HEADER_DOC, required: true })
  @ApiNoContentResponse({ description: 'Answers "Set-Cookie: modgate_session=; Max-Age=0"' })
  @ApiForbiddenResponse({ type: ApiErrorDto, description: 'The X-ModGate-CSRF header is missing' })
  logout(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): void {
    if (req.headers[CSRF_HEADER] !== '1') throw new GoproxyError('forbidden', 'signing out needs the header "X-ModGate-CSRF: 1" (a cross-site form cannot send it)');
    const secure = (this.env.publicUrl ?? `${req.protocol}:`).startsWith('https:');
    void reply.header('set-cookie', clearCookie(SESSION_COOKIE, '/', secure)).header('cache-control', 'no-store');
  }
}
