import { AuditService } from '../audit/audit.service';
import { Inject, Injectable } from '@nestjs/common';
import { GoproxyError } from '../common/goproxy-error';
import { SCOPES, type Principal, type Scope } from '../auth/principal';
import { actsAsAdmin } from './actor';
import { AuthEvents } from './auth-events';
import { clampPage, type Page, type Paged } from './paging';
import { isUniqueViolation, isUuid } from './pg-errors';
import { TeamsRepository } from './teams.repository';
import { newToken, tokenPrefix } from './token-secret';
import { TokensRepository, type TokenRecord } from './tokens.repository';
import { UsersRepository, type UserRecord } from './users.repository';

/** A token as shown: the record with its public id given as the prefix a user recognises. */
export interface TokenView extends Omit<TokenRecord, 'publicId'> {
  /** The non-secret public part, e.g. mg_ab12cd34ef56. */
  prefix: string;
}

export interface NewTokenInput {
  name: string;
  scopes: Scope[];
  teamIds?: string[] | null;
  expiresAt?: Date | null;
}

/** Which scopes a global role may put on a token at most. */
export function allowedScopes(role: UserRecord['role']): Scope[] {
  if (role === 'admin') return [...SCOPES];
  if (role === 'auditor') return ['read', 'publish', 'audit'];
  return ['read', 'publish'];
}

/** Personal and service-account tokens for .netrc, CI and the API. */
@Injectable()
export class TokensService {
  constructor(
    @Inject(TokensRepository) private readonly tokens: TokensRepository,
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(TeamsRepository) private readonly teams: TeamsRepository,
    @Inject(AuthEvents) private readonly events: AuthEvents,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  /** The token text is returned here once and never again: only its hash is kept (and never audited). */
  create(ownerId: string, input: NewTokenInput, actor: Principal): Promise<{ token: string; view: TokenView }> {
    const requested = { ownerId, name: input.name, scopes: input.scopes, teamIds: input.teamIds ?? null, expiresAt: input.expiresAt ?? null };
    return this.audit.change(actor, 'token.create', () => this.insertToken(ownerId, input, actor), {
      after: (r) => r.view,
      refusedAction: 'token.refused',
      extra: { reason: null, details: requested },
    });
  }

  private async insertToken(ownerId: string, input: NewTokenInput, actor: Principal): Promise<{ token: string; view: TokenView }> {
    const owner = isUuid(ownerId) ? await this.users.findById(ownerId) : null;
    if (!owner) throw new GoproxyError('not-found', `no user with id ${ownerId.slice(0, 64)}`);
    if (actor.userId !== owner.id && !actsAsAdmin(actor)) {
      throw new GoproxyError('forbidden', `only ${owner.login} or an admin may create tokens for ${owner.login}`);
    }
    if (owner.disabled) throw new GoproxyError('conflict', `${owner.login} is disabled; enable the account first`);
    const name = (input.name ?? '').trim();
    if (name.length < 1 || name.length > 100) throw new GoproxyError('bad-request', 'token name must be 1-100 characters');
    const scopes = this.checkScopes(input.scopes, owner, actor);
    const teamIds = await this.checkTeams(input.teamIds ?? null, owner, actor);
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && !(expiresAt instanceof Date && expiresAt.getTime() > Date.now())) {
      throw new GoproxyError('bad-request', 'expiresAt must be a time in the future');
    }
    // A public id clash is astronomically rare but cheap to survive.
    for (let attempt = 0; ; attempt++) {
      const t = newToken();
      try {
        const rec = await this.tokens.insert({ userId: owner.id, name, publicId: t.publicId, secretHash: t.secretHash, scopes, teamIds, expiresAt });
        return { token: t.token, view: toView(rec) };
      } catch (err) {
        if (!isUniqueViolation(err, 'api_tokens_public_id_unique') || attempt >= 3) throw err;
      }
    }
  }

  async list(filter: { ownerId?: string }, page: Page): Promise<Paged<TokenView>> {
    const p = clampPage(page);
    if (filter.ownerId !== undefined && !isUuid(filter.ownerId)) return { items: [], total: 0, ...p };
    const { rows, total } = await this.tokens.list(filter.ownerId, p.limit, p.offset);
    return { items: rows.map(toView), total, ...p };
  }

  async get(id: string): Promise<TokenView> {
    const t = isUuid(id) ? await this.tokens.findById(id) : null;
    if (!t) throw new GoproxyError('not-found', `no token with id ${id.slice(0, 64)}`);
    return toView(t);
  }

  /** Effective at once here and, through NOTIFY, on every other instance. */
  revoke(id: string, actor: Principal): Promise<TokenView> {
    return this.audit.change(actor, 'token.revoke', () => this.revokeToken(id, actor), { before: () => this.get(id) });
  }

  private async revokeToken(id: string, actor: Principal): Promise<TokenView> {
    const t = await this.get(id);
    if (actor.userId !== t.ownerId && !actsAsAdmin(actor)) {
      throw new GoproxyError('forbidden', `only ${t.ownerLogin} or an admin may revoke token ${t.prefix}`);
    }
    const rec = await this.tokens.revoke(t.id, actor.userId);
    await this.events.publish({ kind: 'token', id: t.id });
    return toView(rec!);
  }

  /**
   * Scopes must be known, allowed for the owner's role, and held by the
   * credential creating the token: a read-only token cannot mint itself a
   * publish token.
   */
  private checkScopes(requested: Scope[], owner: UserRecord, actor: Principal): Scope[] {
    if (!Array.isArray(requested) || requested.length === 0) throw new GoproxyError('bad-request', `scopes must list at least one of ${SCOPES.join(', ')}`);
    const scopes = [...new Set(requested)];
    const unknown = scopes.filter((s) => !SCOPES.includes(s));
    if (unknown.length) throw new GoproxyError('bad-request', `unknown scope ${String(unknown[0]).slice(0, 30)}; use ${SCOPES.join(', ')}`);
    const allowed = allowedScopes(owner.role);
    const tooMuch = scopes.filter((s) => !allowed.includes(s));
    if (tooMuch.length) {
      throw new GoproxyError('forbidden', `scope ${tooMuch.join(', ')} is not allowed for ${owner.login} (role ${owner.role}); allowed: ${allowed.join(', ')}`);
    }
    const notHeld = scopes.filter((s) => !actor.scopes.has(s));
    if (notHeld.length) throw new GoproxyError('forbidden', `the credential in use lacks scope ${notHeld.join(', ')}, so it cannot grant it`);
    return SCOPES.filter((s) => scopes.includes(s));
  }

  /**
   * A team restriction names teams the owner is in (admins: any team); a
   * restricted credential can only create tokens restricted within its teams.
   */
  private async checkTeams(teamIds: string[] | null, owner: UserRecord, actor: Principal): Promise<string[] | null> {
    if (teamIds === null) {
      if (actor.teamRestriction !== null) throw new GoproxyError('forbidden', 'a team-restricted credential can only create team-restricted tokens');
      return null;
    }
    if (!Array.isArray(teamIds) || teamIds.length === 0 || teamIds.length > 100) throw new GoproxyError('bad-request', 'teamIds must list 1-100 team ids, or be null for no restriction');
    const ids = [...new Set(teamIds)];
    const bad = ids.find((id) => !isUuid(id));
    if (bad !== undefined) throw new GoproxyError('bad-request', `teamIds: "${String(bad).slice(0, 40)}" is not a team id`);
    const existing = new Set(await this.teams.existingIds(ids));
    const missing = ids.find((id) => !existing.has(id));
    if (missing) throw new GoproxyError('not-found', `no team with id ${missing}`);
    if (owner.role !== 'admin') {
      const mine = await this.teams.rolesOfUser(owner.id);
      const notMine = ids.find((id) => !mine.has(id));
      if (notMine) throw new GoproxyError('forbidden', `${owner.login} is not a member of team ${notMine}; a token can only be restricted to the owner's teams`);
    }
    if (actor.teamRestriction !== null) {
      const outside = ids.find((id) => !actor.teamRestriction!.has(id));
      if (outside) throw new GoproxyError('forbidden', `the credential in use is restricted to other teams than ${outside}`);
    }
    return ids;
  }
}

export function toView(t: TokenRecord): TokenView {
  return {
    id: t.id,
    name: t.name,
    ownerId: t.ownerId,
    ownerLogin: t.ownerLogin,
    prefix: tokenPrefix(t.publicId),
    scopes: t.scopes,
    teamIds: t.teamIds,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
    lastUsedIp: t.lastUsedIp,
    createdAt: t.createdAt,
  };
}
