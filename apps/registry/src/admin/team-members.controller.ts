import { Body, Delete, Get, HttpCode, Inject, Param, Put, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import type { Paged } from '../identity/paging';
import { TeamsService, type MemberView } from '../identity/teams.service';
import { ApiController } from './api-controller';
import { TeamMemberParam, TeamParam } from './dto/ids.dto';
import { ApiErrorDto, PageQuery, pageOf } from './dto/page.dto';
import { MemberDto, PagedMembersDto, SetMemberDto } from './dto/team.dto';
import { requireTeamVisible } from './team-visibility';

/**
 * Team members. Changes: admins, or the team's maintainers in a session
 * (TeamsService decides, so every caller of it gets the same rule).
 */
@ApiController('teams')
export class TeamMembersController {
  constructor(@Inject(TeamsService) private readonly teams: TeamsService) {}

  @Get('teams/:id/members')
  @ApiOperation({ summary: 'Members: admins, auditors and the team’s members' })
  @ApiOkResponse({ type: PagedMembersDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async list(@Param() p: TeamParam, @Query() q: PageQuery, @CurrentPrincipal() who: Principal): Promise<Paged<MemberView>> {
    const team = await this.teams.get(p.id);
    requireTeamVisible(who, team, p.id);
    return this.teams.listMembers(team.id, pageOf(q));
  }

  @Put('teams/:id/members/:userId')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Add a member or change their team role (idempotent)' })
  @ApiOkResponse({ type: MemberDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  setMember(@Param() p: TeamMemberParam, @Body() body: SetMemberDto, @CurrentPrincipal() who: Principal): Promise<MemberView> {
    return this.teams.setMember(p.id, p.userId, body.role, who);
  }

  @Delete('teams/:id/members/:userId')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async removeMember(@Param() p: TeamMemberParam, @CurrentPrincipal() who: Principal): Promise<void> {
    await this.teams.removeMember(p.id, p.userId, who);
  }
}
