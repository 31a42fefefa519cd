import { AuditService } from '../audit/audit.service';
import { Inject, Injectable } from '@nestjs/common';
import { GoproxyError } from '../common/goproxy-error';
import type { GlobalRole, Principal } from '../auth/principal';
import { actsAsAdmin, requireAdmin } from './actor';
import { AuthEvents } from './auth-events';
import { loginCandidate, loginFromOidc, normaliseLogin, requireLoginShape } from './login-name';
import { clampPage, type Page, type Paged } from './paging';
import { isUniqueViolation, isUuid } from './pg-errors';
import { UsersRepository, type UserRecord } from './users.repository';

export type { Page, Paged } from './paging';

/** A user as shown: the record without the identity-provider link. */
export type UserView = Omit<UserRecord, 'oidcIssuer' | 'oidcSubject'>;

const ROLES: readonly GlobalRole[] = ['admin', 'auditor', 'user'];

/**
 * People and service accounts. Every change that alters what a credential
 * may do (role, disabled) is announced on AuthEvents, so cached principals
 * everywhere drop it at once.
 */
@Injectable()
export class UsersService {
  constructor(
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(AuthEvents) private readonly events: AuthEvents,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  async list(page: Page, filter: { kind?: 'user' | 'service'; q?: string } = {}): Promise<Paged<UserView>> {
    const p = clampPage(page);
    const q = filter.q?.trim().slice(0, 200) || undefined;
    const { rows, total } = await this.users.list(p.limit, p.offset, filter.kind, q);
    return { items: rows.map(toView), total, ...p };
  }

  async get(id: string): Promise<UserView> {
    const u = isUuid(id) ? await this.users.findById(id) : null;
    if (!u) throw new GoproxyError('not-found', `no user with id ${id.slice(0, 64)}`);
    return toView(u);
  }

  async findByLogin(login: string): Promise<UserView | null> {
    const u = await this.users.findByLogin(normaliseLogin(login));
    return u ? toView(u) : null;
  }

  /** actor null: the system itself (bootstrap, tests); otherwise an admin. */
  createLocal(input: { login: string; role?: GlobalRole; displayName?: string; email?: string }, actor: Principal | null): Promise<UserView> {
    if (!actor) return this.insertLocal(input, actor); // the system itself (bootstrap): not an admin change
    return this.audit.change(actor, 'admin.user.create', () => this.insertLocal(input, actor), { extra: { details: input } });
  }

  private async insertLocal(input: { login: string; role?: GlobalRole; displayName?: string; email?: string }, actor: Principal | null): Promise<UserView> {
    if (actor) requireAdmin(actor, 'creating users');
    const role = input.role ?? 'user';
    checkRole(role);
    return this.insertUnique({
      login: requireLoginShape(input.login),
      kind: 'user',
      role,
      displayName: input.displayName?.trim() || null,
      email: input.email?.trim() || null,
      createdBy: actor?.userId ?? null,
    });
  }

  /** A non-person owner of CI tokens; gets the plain user role and team memberships like anyone. */
  createServiceAccount(input: { login: string; displayName?: string }, actor: Principal): Promise<UserView> {
    return this.audit.change(actor, 'admin.service-account.create', () => this.insertServiceAccount(input, actor), { extra: { details: input } });
  }

  private async insertServiceAccount(input: { login: string; displayName?: string }, actor: Principal): Promise<UserView> {
    requireAdmin(actor, 'creating service accounts');
    return this.insertUnique({
      login: requireLoginShape(input.login),
      kind: 'service',
      role: 'user',
      displayName: input.displayName?.trim() || null,
      email: null,
      createdBy: actor.userId,
    });
  }

  setRole(id: string, role: GlobalRole, actor: Principal): Promise<UserView> {
    return this.audit.change(actor, 'admin.user.role', () => this.changeRole(id, role, actor), { before: () => this.get(id) });
  }

  private async changeRole(id: string, role: GlobalRole, actor: Principal): Promise<UserView> {
    requireAdmin(actor, 'changing roles');
    checkRole(role);
    const updated = await this.users.withAdminLock(async (tx) => {
      const u = isUuid(id) ? await tx.findById(id) : null;
      if (!u) throw new GoproxyError('not-found', `no user with id ${id.slice(0, 64)}`);
      if (u.role === 'admin' && role !== 'admin' && !u.disabled && (await tx.countEnabledAdmins(id)) === 0) {
        throw new GoproxyError('conflict', `${u.login} is the last enabled admin; make another user admin first`);
      }
      return (await tx.setRole(id, role))!;
    });
    await this.events.publish({ kind: 'user', id });
    return toView(updated);
  }

  /** Disabling stops every token and session of the user at once; enabling brings the unrevoked tokens back. */
  setDisabled(id: string, disabled: boolean, actor: Principal): Promise<UserView> {
    return this.audit.change(actor, disabled ? 'admin.user.disable' : 'admin.user.enable', () => this.changeDisabled(id, disabled, actor), { before: () => this.get(id) });
  }

  private async changeDisabled(id: string, disabled: boolean, actor: Principal): Promise<UserView> {
    requireAdmin(actor, disabled ? 'disabling users' : 'enabling users');
    const updated = await this.users.withAdminLock(async (tx) => {
      const u = isUuid(id) ? await tx.findById(id) : null;
      if (!u) throw new GoproxyError('not-found', `no user with id ${id.slice(0, 64)}`);
      if (disabled && u.role === 'admin' && !u.disabled && (await tx.countEnabledAdmins(id)) === 0) {
        throw new GoproxyError('conflict', `${u.login} is the last enabled admin; make another user admin first`);
      }
      return (await tx.setDisabled(id, disabled))!;
    });
    await this.events.publish({ kind: 'user', id });
    return toView(updated);
  }

  /**
   * A successful OIDC sign-in. The user is found by (issuer, subject) only,
   * never by login: a provider account named like a local user must not take
   * that user over, so it gets the next free "login-N" instead.
   */
  async upsertFromOidc(input: { issuer: string; subject: string; login: string; displayName?: string | null; email?: string | null }): Promise<UserView> {
    const displayName = input.displayName?.trim() || null;
    const email = input.email?.trim() || null;
    const known = await this.users.findByOidc(input.issuer, input.subject);
    if (known) return toView((await this.users.recordOidcLogin(known.id, displayName, email)) ?? known);

    const base = loginFromOidc(input.login || email || input.subject);
    for (let n = 1; n <= 50; n++) {
      try {
        const login = n <= 20 ? loginCandidate(base, n) : `${base.slice(0, 110)}-${Math.random().toString(36).slice(2, 10)}`;
        const created = await this.users.insert({ login, kind: 'user', role: 'user', displayName, email, createdBy: null, oidcIssuer: input.issuer, oidcSubject: input.subject });
        return toView(created);
      } catch (err) {
        if (isUniqueViolation(err, 'users_oidc_unique')) {
          // The same person signing in twice at once: the other request created the row.
          const raced = await this.users.findByOidc(input.issuer, input.subject);
          if (raced) return toView((await this.users.recordOidcLogin(raced.id, displayName, email)) ?? raced);
        }
        if (!isUniqueViolation(err, 'users_login_unique')) throw err;
      }
    }
    throw new GoproxyError('conflict', `could not find a free login for "${base}"; ask an admin`);
  }

  /** For other identity code that needs the stored user (e.g. token owner checks). */
  async record(id: string): Promise<UserRecord> {
    const u = isUuid(id) ? await this.users.findById(id) : null;
    if (!u) throw new GoproxyError('not-found', `no user with id ${id.slice(0, 64)}`);
    return u;
  }

  /** Whether the caller may see or act on this user's own things (tokens, profile). */
  static isSelfOrAdmin(actor: Principal, userId: string): boolean {
    return actor.userId === userId || actsAsAdmin(actor);
  }

  private async insertUnique(u: Parameters<UsersRepository['insert']>[0]): Promise<UserView> {
    try {
      return toView(await this.users.insert(u));
    } catch (err) {
      if (isUniqueViolation(err)) throw new GoproxyError('conflict', `login "${u.login}" is taken`);
      throw err;
    }
  }
}

function checkRole(role: string): asserts role is GlobalRole {
  if (!ROLES.includes(role as GlobalRole)) throw new GoproxyError('bad-request', `role must be one of ${ROLES.join(', ')}`);
}

export function toView(u: UserRecord): UserView {
  return {
    id: u.id,
    login: u.login,
    kind: u.kind,
    displayName: u.displayName,
    email: u.email,
    role: u.role,
    disabled: u.disabled,
    createdAt: u.createdAt,
    lastLoginAt: u.lastLoginAt,
  };
}
