import { Body, Delete, Get, HttpCode, Inject, Put, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { TeamsService } from '../identity/teams.service';
import { ApiController } from './api-controller';
import { ApiErrorDto, PageQuery } from './dto/page.dto';
import { GroupMappingDto, GroupMappingKey, GroupMappingsDto, SetGroupMappingDto } from './dto/team.dto';

/**
 * OIDC groups → team memberships, applied at each sign-in. A mapping is
 * keyed by (group, team); group names may hold "/" (Keycloak paths), so the
 * key travels in the body or query, never in the path.
 */
@ApiController('oidc group mappings')
export class GroupMappingsController {
  constructor(@Inject(TeamsService) private readonly teams: TeamsService) {}

  @Get('oidc/group-mappings')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOkResponse({ type: GroupMappingsDto })
  async list(@Query() q: PageQuery): Promise<GroupMappingsDto> {
    // The table is small and the service answers it whole; the page is cut here.
    const all = await this.teams.listGroupMappings();
    return {
      items: all.slice(q.offset, q.offset + q.limit),
      total: all.length,
      limit: q.limit,
      offset: q.offset,
      configured: [...this.teams.configuredGroupMappings()],
    };
  }

  @Put('oidc/group-mappings')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Map a group to a team with a role (idempotent; changes the role of an existing mapping)' })
  @ApiOkResponse({ type: GroupMappingDto })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: 'No such team' })
  async set(@Body() body: SetGroupMappingDto, @CurrentPrincipal() who: Principal): Promise<GroupMappingDto> {
    await this.teams.setGroupMapping(body.group, body.teamId, body.role, who);
    const team = await this.teams.get(body.teamId);
    return { group: body.group.trim(), teamId: team.id, teamName: team.name, role: body.role };
  }

  @Delete('oidc/group-mappings')
  @RequireRole('admin')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a mapping; memberships it made go at the user’s next sign-in' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async remove(@Query() q: GroupMappingKey, @CurrentPrincipal() who: Principal): Promise<void> {
    await this.teams.deleteGroupMapping(q.group, q.teamId, who);
  }
}
