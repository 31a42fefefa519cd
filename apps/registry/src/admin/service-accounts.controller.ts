import { Body, Get, Inject, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { UsersService, type Paged, type UserView } from '../identity/users.service';
import { ApiController } from './api-controller';
import { ApiErrorDto, pageOf } from './dto/page.dto';
import { CreateServiceAccountDto, PagedUsersDto, ServiceAccountsQuery, UserDto } from './dto/user.dto';

/**
 * Non-person accounts that own CI tokens. They are users of kind "service":
 * they join teams and get tokens (POST /tokens with ownerId) like anyone.
 */
@ApiController('service accounts')
export class ServiceAccountsController {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}

  @Post('service-accounts')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create a service account; then add it to teams and create its token with POST /tokens {ownerId}' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The login is taken' })
  create(@Body() body: CreateServiceAccountDto, @CurrentPrincipal() who: Principal): Promise<UserView> {
    return this.users.createServiceAccount(body, who);
  }

  @Get('service-accounts')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOkResponse({ type: PagedUsersDto })
  list(@Query() q: ServiceAccountsQuery): Promise<Paged<UserView>> {
    return this.users.list(pageOf(q), { kind: 'service', q: q.q });
  }
}
