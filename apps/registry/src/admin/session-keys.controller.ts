import { HttpCode, Inject, Post } from '@nestjs/common';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiProperty } from '@nestjs/swagger';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { SessionTokensService } from '../auth/session-tokens.service';
import { ApiController } from './api-controller';
import { ApiErrorDto } from './dto/page.dto';

class RotatedKeyDto {
  @ApiProperty({ description: 'Id of the new signing key' }) kid!: string;
}

/** The keys that sign session JWTs. */
@ApiController('sessions')
export class SessionKeysController {
  constructor(@Inject(SessionTokensService) private readonly sessions: SessionTokensService) {}

  @Post('auth/keys/rotate')
  @RequireRole('admin')
  @RequireScope('admin')
  // An action, not a new resource at a URL of its own.
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign new sessions with a new key; sessions signed with the old one stay valid until they expire' })
  @ApiOkResponse({ type: RotatedKeyDto })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The key comes from MODGATE_JWT_SECRET' })
  rotate(@CurrentPrincipal() who: Principal): Promise<{ kid: string }> {
    return this.sessions.rotateKey(who);
  }
}
