import { Body, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal, RequireRole, RequireScope } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { TeamsService, type TeamView } from '../identity/teams.service';
import type { Paged } from '../identity/paging';
import { ApiController } from './api-controller';
import { TeamParam } from './dto/ids.dto';
import { ApiErrorDto, PageQuery, pageOf } from './dto/page.dto';
import { CreateTeamDto, PagedTeamsDto, TeamDto, UpdateTeamDto } from './dto/team.dto';
import { requireTeamVisible } from './team-visibility';

/** Teams, addressed by id or name. */
@ApiController('teams')
export class TeamsController {
  constructor(@Inject(TeamsService) private readonly teams: TeamsService) {}

  @Get('teams')
  @RequireRole('admin', 'auditor')
  @RequireScope('admin', 'audit')
  @ApiOperation({ summary: 'Every team (your own teams are in GET /me)' })
  @ApiOkResponse({ type: PagedTeamsDto })
  list(@Query() q: PageQuery): Promise<Paged<TeamView>> {
    return this.teams.list(pageOf(q));
  }

  @Post('teams')
  @RequireRole('admin')
  @RequireScope('admin')
  @ApiCreatedResponse({ type: TeamDto })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The name is taken' })
  create(@Body() body: CreateTeamDto, @CurrentPrincipal() who: Principal): Promise<TeamView> {
    return this.teams.create(body, who);
  }

  @Get('teams/:id')
  @ApiOperation({ summary: 'A team: admins, auditors and its members' })
  @ApiOkResponse({ type: TeamDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async get(@Param() p: TeamParam, @CurrentPrincipal() who: Principal): Promise<TeamView> {
    const team = await this.teams.get(p.id);
    requireTeamVisible(who, team, p.id);
    return team;
  }

  @Patch('teams/:id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Change the description: admins, or the team’s maintainers in a session' })
  @ApiOkResponse({ type: TeamDto })
  @ApiNotFoundResponse({ type: ApiErrorDto })
  update(@Param() p: TeamParam, @Body() body: UpdateTeamDto, @CurrentPrincipal() who: Principal): Promise<TeamView> {
    return this.teams.update(p.id, body, who);
  }

  @Delete('teams/:id')
  @RequireRole('admin')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a team with its memberships, access rules and group mappings' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ApiErrorDto })
  async remove(@Param() p: TeamParam, @CurrentPrincipal() who: Principal): Promise<void> {
    await this.teams.delete(p.id, who);
  }
}
