import { Body, Controller, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { DeviceLoginService } from './device-login.service';
import { DeviceLoginCompleteDto, DeviceLoginPendingDto, DeviceLoginPollDto, DeviceLoginStartDto } from './device-login.dto';

/**
 * The device flow behind `modgate login`. Both routes are public: whoever
 * calls them proves nothing yet; the identity provider decides who it is.
 */
@ApiTags('auth')
@Controller('api/v1/auth/device')
export class DeviceLoginController {
  constructor(@Inject(DeviceLoginService) private readonly devices: DeviceLoginService) {}

  @Public()
  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Start a device sign-in (404 when SSO is not configured)' })
  @ApiOkResponse({ type: DeviceLoginStartDto })
  start(): Promise<DeviceLoginStartDto> {
    return this.devices.start();
  }

  @Public()
  @Post('poll')
  @ApiOperation({
    summary: 'Poll a device sign-in',
    description:
      '202 {status:"pending"} until the user has approved; then 200 with a new token, once (the handle is used up). ' +
      '403 refused, 410 expired, 404 unknown or already used handle.',
  })
  @ApiAcceptedResponse({ type: DeviceLoginPendingDto })
  @ApiOkResponse({ type: DeviceLoginCompleteDto })
  async poll(@Body() body: DeviceLoginPollDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<DeviceLoginPendingDto | DeviceLoginCompleteDto> {
    const res = await this.devices.poll(body?.handle, body?.tokenName);
    void reply.header('cache-control', 'no-store').status(res.status === 'pending' ? 202 : 200);
    return res;
  }
}
