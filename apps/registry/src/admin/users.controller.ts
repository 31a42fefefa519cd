import { Body, Get, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { UsersService, type Paged, type UserView } from '../identity/users.service';
import { ApiController } from './api-controller';
import { IdParam } from './dto/ids.dto';
import { ApiErrorDto, pageOf } from './dto/page.dto';
import { CreateUserDto, MeDto, PagedUsersDto, UpdateUserDto, UserDto, UsersQuery } from './dto/user.dto';

/** People (and, in listings, service accounts) and the caller's own account. */
@ApiController('users')
export class UsersController {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}

  @Get('me')
  @ApiOperation({ summary: 'The caller: account, teams and what the credential in use may do' })
  @ApiOkResponse({ type: MeDto })
  async me(@CurrentPrincipal() who: Principal): Promise<MeDto> {
    // The guard let only authenticated callers through, so userId is set.
    const user = await this.users.get(who.userId!);
    const teams = [...who.teams].map(([id, role]) => ({ id, name: who.teamNames.get(id) ?? id, role }));
    return {
      ...user,
      teams,
      via: who.via,
      tokenId: who.tokenId,
      scopes: [...who.scopes],
      teamRestriction: who.teamRestriction ? [...who.teamRestriction] : null,
    };
  }

  @Get('users')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOperation({ summary: 'Users and service accounts, by login' })
  @ApiOkResponse({ type: PagedUsersDto })
  list(@Query() q: UsersQuery): Promise<Paged<UserView>> {
    return this.users.list(pageOf(q), { kind: q.kind, q: q.q });
  }

  @Get('users/:id')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  get(@Param() p: IdParam): Promise<UserView> {
    return this.users.get(p.id);
  }

  @Post('users')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create a local user (SSO users are created at their first sign-in)' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The login is taken' })
  create(@Body() body: CreateUserDto, @CurrentPrincipal() who: Principal): Promise<UserView> {
    return this.users.createLocal(body, who);
  }

  @Patch('users/:id')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Change the global role or disable/enable; a disabled user’s tokens and sessions stop at once' })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'It would leave no enabled admin' })
  async update(@Param() p: IdParam, @Body() body: UpdateUserDto, @CurrentPrincipal() who: Principal): Promise<UserView> {
    if (body.role === undefined && body.disabled === undefined) throw new GoproxyError('bad-request', 'nothing to change: give role and/or disabled');
    let view: UserView | null = null;
    if (body.role !== undefined) view = await this.users.setRole(p.id, body.role, who);
    if (body.disabled !== undefined) view = await this.users.setDisabled(p.id, body.disabled, who);
    return view!;
  }
}
