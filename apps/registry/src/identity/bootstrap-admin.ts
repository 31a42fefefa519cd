import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { AuditService, accountPrincipal } from '../audit/audit.service';
import { SCOPES } from '../auth/principal';
import { ENV, type Env } from '../config/env';
import { LOGGER, type AppLogger } from '../logging/logger';
import { AuthEvents } from './auth-events';
import { hashSecret, newToken, parseToken, tokenPrefix } from './token-secret';
import { TokensRepository } from './tokens.repository';
import { UsersRepository } from './users.repository';

export interface BootstrapResult {
  login: string;
  /** The generated token; null when it came from MODGATE_BOOTSTRAP_ADMIN_TOKEN (the operator has it). */
  token: string | null;
  prefix: string;
}

const ADMIN_LOGIN = 'admin';

/**
 * A fresh registry must be usable without a database console: when no
 * enabled admin exists, the user "admin" is created (or an existing one
 * re-enabled and promoted, the way back in after locking every admin out)
 * with an all-scopes token. The token text is kept in memory only until
 * main.ts prints it once; a second start finds the admin and prints nothing.
 */
@Injectable()
export class BootstrapAdmin implements OnApplicationBootstrap {
  private result: BootstrapResult | null = null;

  constructor(
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(AuthEvents) private readonly events: AuthEvents,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(ENV) private readonly env: Env,
    @Inject(LOGGER) private readonly log: AppLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.result = await this.run();
  }

  /** Idempotent and safe with several instances starting at once (it holds the admin lock). */
  async run(): Promise<BootstrapResult | null> {
    const given = this.env.auth.bootstrapAdminToken;
    const parsed = given ? parseToken(given) : null;
    if (given && !parsed) {
      throw new Error('MODGATE_BOOTSTRAP_ADMIN_TOKEN: expected mg_<public id: 4-64 letters or digits>_<secret: 16 or more letters, digits or _>');
    }
    const outcome = await this.users.withAdminLock(async (tx, em) => {
      if ((await tx.countEnabledAdmins()) > 0) return null;
      const existing = await tx.findByLogin(ADMIN_LOGIN);
      let admin = existing;
      if (admin) {
        admin = (await tx.setRole(admin.id, 'admin'))!;
        admin = (await tx.setDisabled(admin.id, false))!;
      } else {
        admin = await tx.insert({ login: ADMIN_LOGIN, kind: 'user', role: 'admin', displayName: 'Administrator', email: null, createdBy: null });
      }
      const tokens = new TokensRepository(em);
      const scopes = [...SCOPES];
      if (parsed) {
        const known = await tokens.findByPublicId(parsed.publicId);
        if (!known) {
          await tokens.insert({ userId: admin.id, name: 'bootstrap (MODGATE_BOOTSTRAP_ADMIN_TOKEN)', publicId: parsed.publicId, secretHash: hashSecret(parsed.secret), scopes, teamIds: null, expiresAt: null });
        }
        return { result: { login: admin.login, token: null, prefix: tokenPrefix(parsed.publicId) }, admin, created: !known, reenabled: existing?.id ?? null };
      }
      const t = newToken();
      await tokens.insert({ userId: admin.id, name: 'bootstrap', publicId: t.publicId, secretHash: t.secretHash, scopes, teamIds: null, expiresAt: null });
      return { result: { login: admin.login, token: t.token, prefix: tokenPrefix(t.publicId) }, admin, created: true, reenabled: existing?.id ?? null };
    });
    if (!outcome) return null;
    if (outcome.reenabled) await this.events.publish({ kind: 'user', id: outcome.reenabled });
    // An all-scopes token made without any caller: on record like every other (its prefix, never its text).
    await this.audit.security(accountPrincipal(outcome.admin), 'token.create', {
      outcome: 'allowed',
      status: 200,
      details: {
        bootstrap: given ? 'MODGATE_BOOTSTRAP_ADMIN_TOKEN' : 'generated',
        adminReenabled: !!outcome.reenabled,
        tokenRegistered: outcome.created,
        after: { prefix: outcome.result.prefix, scopes: [...SCOPES] },
      },
    });
    this.log.warn({ login: outcome.result.login, tokenPrefix: outcome.result.prefix, reenabled: !!outcome.reenabled }, 'no enabled admin: bootstrap admin token issued');
    return outcome.result;
  }

  /**
   * The lines for the start banner (stdout, not the JSON log), handed out
   * once: the secret is forgotten afterwards.
   */
  takeBannerLines(registryUrl: string): string[] {
    const r = this.result;
    this.result = null;
    if (!r) return [];
    const u = new URL(registryUrl);
    const token = r.token ?? '<the MODGATE_BOOTSTRAP_ADMIN_TOKEN value>';
    const lines = r.token
      ? ['', `No admin existed: created the user "${r.login}" with this all-scopes token (shown only now; only its hash is stored):`, `    ${r.token}`]
      : ['', `No admin existed: registered MODGATE_BOOTSTRAP_ADMIN_TOKEN (${r.prefix}…) as the all-scopes token of the user "${r.login}".`];
    lines.push(
      'For the go command, put this line in ~/.netrc (it is sent only over https):',
      `    machine ${u.hostname} login ${r.login} password ${token}`,
    );
    if (u.port) lines.push(`    (Go 1.24+ matches host:port, so also add: machine ${u.host} login ${r.login} password ${token})`);
    lines.push(
      'Then create a personal token for each person and keep this one for administration, e.g.:',
      `    curl -H "Authorization: Bearer ${token}" -H "content-type: application/json" -d '{"name":"laptop","scopes":["read","publish"]}' ${registryUrl.replace(/\/+$/, '')}/api/v1/tokens`,
      '    (or sign in with "modgate login" once SSO is configured)',
    );
    return lines;
  }
}
