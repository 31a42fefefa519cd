import { AuditService } from '../audit/audit.service';
import { Inject, Injectable } from '@nestjs/common';
import { GoproxyError } from '../common/goproxy-error';
import { ENV, type Env } from '../config/env';
import type { Principal, TeamRole } from '../auth/principal';
import { canManageTeam, requireAdmin } from './actor';
import { AuthEvents } from './auth-events';
import { isTeamRole, parseGroupMap, strongest, type GroupMapEntry } from './group-map';
import { clampPage, type Page, type Paged } from './paging';
import { isUniqueViolation, isUuid } from './pg-errors';
import { TeamsRepository, type MemberRecord, type TeamRecord } from './teams.repository';
import { UsersRepository } from './users.repository';

/** A team as shown: the whole record (toTeamView copies it field by field, so a new field is shown only on purpose). */
export type TeamView = TeamRecord;

/** A membership as shown: the whole record (copied field by field by toMemberView). */
export type MemberView = MemberRecord;

const TEAM_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Teams, their members and the OIDC groups that fill them. */
@Injectable()
export class TeamsService {
  private readonly configuredGroups: GroupMapEntry[];

  constructor(
    @Inject(TeamsRepository) private readonly teams: TeamsRepository,
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(AuthEvents) private readonly events: AuthEvents,
    @Inject(ENV) env: Env,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {
    // Parsed once so a bad MODGATE_OIDC_GROUP_MAP stops the start, not the first login.
    this.configuredGroups = parseGroupMap(env.oidc.groupMap);
  }

  async list(page: Page): Promise<Paged<TeamView>> {
    const p = clampPage(page);
    const { rows, total } = await this.teams.list(p.limit, p.offset);
    return { items: rows.map(toTeamView), total, ...p };
  }

  async get(idOrName: string): Promise<TeamView> {
    const t = isUuid(idOrName) ? await this.teams.findById(idOrName) : await this.teams.findByName(idOrName.toLowerCase());
    if (!t) throw new GoproxyError('not-found', `no team "${idOrName.slice(0, 64)}"`);
    return toTeamView(t);
  }

  create(input: { name: string; description?: string }, actor: Principal): Promise<TeamView> {
    return this.audit.change(actor, 'admin.team.create', () => this.insertTeam(input, actor));
  }

  private async insertTeam(input: { name: string; description?: string }, actor: Principal): Promise<TeamView> {
    requireAdmin(actor, 'creating teams');
    const name = input.name.trim().toLowerCase();
    if (!TEAM_NAME.test(name)) throw new GoproxyError('bad-request', `team name "${name.slice(0, 70)}" is not valid: use 1-63 of a-z 0-9 - starting with a letter or digit`);
    try {
      return toTeamView(await this.teams.insert(name, description(input.description)));
    } catch (err) {
      if (isUniqueViolation(err)) throw new GoproxyError('conflict', `team "${name}" exists`);
      throw err;
    }
  }

  update(id: string, input: { description?: string }, actor: Principal): Promise<TeamView> {
    return this.audit.change(actor, 'admin.team.update', () => this.updateTeam(id, input, actor), { before: () => this.get(id) });
  }

  private async updateTeam(id: string, input: { description?: string }, actor: Principal): Promise<TeamView> {
    const team = await this.get(id);
    this.requireManager(actor, team);
    if (input.description !== undefined) await this.teams.setDescription(team.id, description(input.description));
    return this.get(team.id);
  }

  delete(id: string, actor: Principal): Promise<void> {
    return this.audit.change(actor, 'admin.team.delete', () => this.deleteTeam(id, actor), { before: () => this.get(id), after: () => null });
  }

  private async deleteTeam(id: string, actor: Principal): Promise<void> {
    requireAdmin(actor, 'deleting teams');
    const team = await this.get(id);
    const members = await this.teams.delete(team.id);
    if (members === null) throw new GoproxyError('not-found', `no team "${id}"`);
    for (const userId of members) await this.events.publish({ kind: 'user', id: userId });
  }

  async listMembers(teamId: string, page: Page): Promise<Paged<MemberView>> {
    const team = await this.get(teamId);
    const p = clampPage(page);
    const { rows, total } = await this.teams.members(team.id, p.limit, p.offset);
    return { items: rows.map(toMemberView), total, ...p };
  }

  setMember(teamId: string, userId: string, role: TeamRole, actor: Principal): Promise<MemberView> {
    return this.audit.change(actor, 'admin.team.member.set', () => this.putMember(teamId, userId, role, actor), {
      before: () => this.memberOrNull(teamId, userId),
      extra: { details: { teamId, userId, role } },
    });
  }

  private async memberOrNull(teamId: string, userId: string): Promise<MemberView | null> {
    const team = await this.get(teamId);
    const m = isUuid(userId) ? await this.teams.member(team.id, userId) : null;
    return m ? toMemberView(m) : null;
  }

  private async putMember(teamId: string, userId: string, role: TeamRole, actor: Principal): Promise<MemberView> {
    if (!isTeamRole(role)) throw new GoproxyError('bad-request', 'team role must be maintainer, publisher or reader');
    const team = await this.get(teamId);
    this.requireManager(actor, team);
    const user = isUuid(userId) ? await this.users.findById(userId) : null;
    if (!user) throw new GoproxyError('not-found', `no user with id ${userId.slice(0, 64)}`);
    await this.teams.upsertManual(team.id, user.id, role);
    await this.events.publish({ kind: 'user', id: user.id });
    return toMemberView((await this.teams.member(team.id, user.id))!);
  }

  removeMember(teamId: string, userId: string, actor: Principal): Promise<void> {
    return this.audit.change(actor, 'admin.team.member.remove', () => this.dropMember(teamId, userId, actor), {
      before: () => this.memberOrNull(teamId, userId),
      after: () => null,
      extra: { details: { teamId, userId } },
    });
  }

  private async dropMember(teamId: string, userId: string, actor: Principal): Promise<void> {
    const team = await this.get(teamId);
    this.requireManager(actor, team);
    if (!isUuid(userId) || !(await this.teams.removeMember(team.id, userId))) {
      throw new GoproxyError('not-found', `user ${userId.slice(0, 64)} is not a member of team ${team.name}`);
    }
    await this.events.publish({ kind: 'user', id: userId });
  }

  /**
   * At each OIDC sign-in: the user's groups, through the stored mappings and
   * MODGATE_OIDC_GROUP_MAP, become exactly their OIDC-sourced memberships.
   * Manual memberships are kept as they are and win over a mapping for the
   * same team. Unknown team names in the config are skipped (a team may be
   * created later).
   */
  async syncOidcGroups(userId: string, groups: string[]): Promise<void> {
    const wanted = [...new Set(groups.filter((g) => typeof g === 'string' && g.length > 0 && g.length <= 512))].slice(0, 1000);
    const desired = new Map<string, TeamRole>();
    if (wanted.length > 0) {
      for (const m of await this.teams.mappingsForGroups(wanted)) desired.set(m.teamId, strongest(desired.get(m.teamId), m.role));
      const fromConfig = this.configuredGroups.filter((e) => wanted.includes(e.group));
      if (fromConfig.length > 0) {
        const ids = await this.teams.idsByNames([...new Set(fromConfig.map((e) => e.teamName))]);
        for (const e of fromConfig) {
          const id = ids.get(e.teamName);
          if (id) desired.set(id, strongest(desired.get(id), e.role));
        }
      }
    }
    if (await this.teams.replaceOidcMemberships(userId, desired)) await this.events.publish({ kind: 'user', id: userId });
  }

  async listGroupMappings(): Promise<Array<{ group: string; teamId: string; teamName: string; role: TeamRole }>> {
    return this.teams.listMappings();
  }

  /** The mappings from MODGATE_OIDC_GROUP_MAP (read-only; shown next to the stored ones). */
  configuredGroupMappings(): readonly GroupMapEntry[] {
    return this.configuredGroups;
  }

  setGroupMapping(group: string, teamId: string, role: TeamRole, actor: Principal): Promise<void> {
    return this.audit.change(actor, 'admin.group-mapping.set', () => this.putGroupMapping(group, teamId, role, actor), {
      after: () => ({ group, teamId, role }),
      extra: { details: { group, teamId, role } },
    });
  }

  private async putGroupMapping(group: string, teamId: string, role: TeamRole, actor: Principal): Promise<void> {
    requireAdmin(actor, 'mapping OIDC groups');
    if (!isTeamRole(role)) throw new GoproxyError('bad-request', 'team role must be maintainer, publisher or reader');
    const g = group.trim();
    if (!g || g.length > 512) throw new GoproxyError('bad-request', 'group must be 1-512 characters');
    const team = await this.get(teamId);
    await this.teams.upsertMapping(g, team.id, role);
  }

  deleteGroupMapping(group: string, teamId: string, actor: Principal): Promise<void> {
    return this.audit.change(actor, 'admin.group-mapping.delete', () => this.dropGroupMapping(group, teamId, actor), {
      after: () => null,
      extra: { details: { group, teamId } },
    });
  }

  private async dropGroupMapping(group: string, teamId: string, actor: Principal): Promise<void> {
    requireAdmin(actor, 'mapping OIDC groups');
    const team = await this.get(teamId);
    if (!(await this.teams.deleteMapping(group.trim(), team.id))) {
      throw new GoproxyError('not-found', `group "${group.slice(0, 100)}" is not mapped to team ${team.name}`);
    }
  }

  private requireManager(actor: Principal, team: TeamView): void {
    if (!canManageTeam(actor, team.id)) {
      throw new GoproxyError('forbidden', `managing team ${team.name} needs its maintainer role (in a session) or admin; ${actor.login} has neither`);
    }
  }
}

function description(d: string | undefined): string {
  const v = (d ?? '').trim();
  if (v.length > 1000) throw new GoproxyError('bad-request', 'description must be at most 1000 characters');
  return v;
}

function toTeamView(t: TeamRecord): TeamView {
  return { id: t.id, name: t.name, description: t.description, createdAt: t.createdAt, memberCount: t.memberCount };
}

function toMemberView(m: MemberRecord): MemberView {
  return { userId: m.userId, login: m.login, role: m.role, source: m.source, createdAt: m.createdAt };
}
