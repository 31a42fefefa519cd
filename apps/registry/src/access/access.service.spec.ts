// AccessService over an in-memory repository: the error each refusal turns
// into (what the go command prints), the set-based check, validation of rule
// changes and the reload discipline. The SQL side is in
// test/integration/access.int-spec.ts.
import pino from 'pino';
import { ANONYMOUS, SCOPES, type Principal, type TeamRole } from '../auth/principal';
import { GoproxyError } from '../common/goproxy-error';
import { OwnedPaths } from '../config/owned-paths';
import type { AccessRuleRepository, NewRule } from './access-rule.repository';
import { AccessService } from './access.service';
import type { Rule } from './rule';

const PAY = '00000000-0000-4000-8000-00000000000a';
const WEB = '00000000-0000-4000-8000-00000000000b';
const NAMES: Record<string, string> = { [PAY]: 'payments', [WEB]: 'web' };

class MemoryRules {
  rules: Rule[] = [];
  loads = 0;
  private n = 0;
  async listAll(): Promise<Rule[]> {
    this.loads++;
    await new Promise((r) => setImmediate(r));
    return [...this.rules];
  }
  async listPage(limit: number, offset: number) {
    return { items: this.rules.slice(offset, offset + limit), total: this.rules.length };
  }
  async findRule(id: string) {
    return this.rules.find((r) => r.id === id) ?? null;
  }
  async insertRule(r: NewRule): Promise<Rule> {
    const rule = { ...r, id: `00000000-0000-4000-8000-${String(++this.n).padStart(12, '0')}`, teamName: NAMES[r.teamId] };
    this.rules.push(rule);
    return rule;
  }
  async updateRule(id: string, patch: Partial<NewRule>) {
    const i = this.rules.findIndex((r) => r.id === id);
    if (i < 0) return null;
    this.rules[i] = { ...this.rules[i], ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
    return this.rules[i];
  }
  async deleteRule(id: string) {
    const r = this.rules.find((x) => x.id === id) ?? null;
    this.rules = this.rules.filter((x) => x.id !== id);
    return r;
  }
}

function user(login: string, teams: Record<string, TeamRole> = {}, extra: Partial<Principal> = {}): Principal {
  return {
    kind: 'user',
    userId: login,
    login,
    role: 'user',
    teams: new Map(Object.entries(teams)),
    teamNames: new Map(Object.keys(teams).map((id) => [id, NAMES[id]])),
    via: 'token',
    tokenId: 't',
    scopes: new Set(SCOPES),
    teamRestriction: null,
    ...extra,
  };
}

const admin = user('root', {}, { role: 'admin' });
const log = pino({ level: 'silent' });

async function service(anonymousRead = false, defaultHost?: string): Promise<{ svc: AccessService; repo: MemoryRules }> {
  const repo = new MemoryRules();
  const svc = new AccessService(repo as unknown as AccessRuleRepository, new OwnedPaths(['corp.example.com']), { anonymousRead, databaseUrl: null, defaultHost }, log);
  await svc.start();
  await svc.createRule({ pattern: 'corp.example.com/payments', teamId: PAY, permission: 'publish' }, admin);
  await svc.createRule({ pattern: 'corp.example.com/payments', teamId: WEB, permission: 'read' }, admin);
  return { svc, repo };
}

function thrown(fn: () => unknown): GoproxyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GoproxyError);
    return err as GoproxyError;
  }
  throw new Error('expected a GoproxyError');
}

async function rejected(p: Promise<unknown>): Promise<GoproxyError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GoproxyError);
  return err as GoproxyError;
}

describe('AccessService.require', () => {
  let svc: AccessService;
  beforeAll(async () => ({ svc } = await service()));
  afterAll(() => svc.stop());

  it('401 with WWW-Authenticate and the .netrc line for anonymous callers, owned or not', () => {
    for (const path of ['corp.example.com/payments', 'corp.example.com/nothing', 'golang.org/x/mod']) {
      const err = thrown(() => svc.require(ANONYMOUS, 'read', path, 'modgate.corp.example:8443'));
      expect(err.status).toBe(401);
      expect(err.headers).toEqual({ 'www-authenticate': 'Basic realm="modgate"' });
      // The host name without the port: Go 1.19 matches .netrc machines by name.
      expect(err.message).toMatch(/^unauthorized: no credentials for modgate\.corp\.example; put "machine modgate\.corp\.example login <you> password <token>" in ~\/\.netrc \(create a token with "modgate login"/);
    }
  });

  it('never echoes a strange Host header; prefers the configured public host', async () => {
    expect(thrown(() => svc.require(ANONYMOUS, 'read', 'corp.example.com/x', 'evil"; run this')).message).toContain('no credentials for this registry;');
    expect(thrown(() => svc.require(ANONYMOUS, 'read', 'corp.example.com/x')).message).toContain('no credentials for this registry;');
    const { svc: named } = await service(false, 'registry.corp.example');
    expect(thrown(() => named.require(ANONYMOUS, 'read', 'corp.example.com/x', 'internal-lb:8080')).message).toContain('no credentials for registry.corp.example;');
    await named.stop();
  });

  it('403 naming the login, the permission, the path and the owning teams', () => {
    const err = thrown(() => svc.require(user('bob'), 'read', 'corp.example.com/payments/api'));
    expect(err.status).toBe(403);
    expect(err.message).toBe('forbidden: bob may not read corp.example.com/payments/api: it belongs to teams payments, web; ask their maintainer for access');
    expect(thrown(() => svc.require(user('carol', { [WEB]: 'maintainer' }), 'admin', 'corp.example.com/payments')).message).toBe(
      'forbidden: carol may not administer corp.example.com/payments: rule corp.example.com/payments gives team web only read',
    );
  });

  it('404 for a prefix probe above a readable subtree, 403 for others', () => {
    const err = thrown(() => svc.require(user('carol', { [WEB]: 'reader' }), 'read', 'corp.example.com'));
    expect(err.status).toBe(404);
    expect(err.message).toBe('not found: corp.example.com: no module here is visible to you (your access starts at corp.example.com/payments)');
    expect(thrown(() => svc.require(user('bob'), 'read', 'corp.example.com')).status).toBe(403);
  });

  it('passes allowed callers', () => {
    expect(() => svc.require(user('alice', { [PAY]: 'publisher' }), 'publish', 'corp.example.com/payments/ledger')).not.toThrow();
    expect(() => svc.require(user('bob'), 'read', 'github.com/x/y')).not.toThrow();
  });

  it('allowedPaths decides a set at once', () => {
    const alice = user('alice', { [PAY]: 'reader' });
    const paths = ['corp.example.com/payments/a', 'corp.example.com/billing', 'golang.org/x/mod', 'corp.example.com'];
    expect(svc.allowedPaths(alice, 'read', paths)).toEqual(new Set(['corp.example.com/payments/a', 'golang.org/x/mod']));
    expect(svc.allowedPaths(alice, 'publish', paths)).toEqual(new Set());
  });

  it('explain shows the deciding rules', () => {
    const e = svc.explain(user('alice', { [PAY]: 'maintainer' }), 'corp.example.com/payments/x');
    expect(e.deciding.map((r) => r.teamName)).toEqual(['payments', 'web']);
    expect(e.decisions.publish.allowed).toBe(true);
    expect(e.decisions.admin.reason).toBe('rule corp.example.com/payments gives team payments only publish');
  });
});

describe('AccessService.requirePublicRead (checksum database relay)', () => {
  it('needs credentials unless anonymous reads are enabled', async () => {
    const { svc: closed } = await service(false);
    const { svc: open } = await service(true);
    expect(thrown(() => closed.requirePublicRead(ANONYMOUS, 'sumdb/sum.golang.org', 'r.example')).status).toBe(401);
    expect(() => open.requirePublicRead(ANONYMOUS, 'sumdb/sum.golang.org')).not.toThrow();
    expect(() => closed.requirePublicRead(user('bob'), 'sumdb/sum.golang.org')).not.toThrow();
    expect(thrown(() => closed.requirePublicRead(user('bob', {}, { scopes: new Set(['publish']) }), 'sumdb/sum.golang.org')).message).toBe(
      'forbidden: bob may not read sumdb/sum.golang.org: the token lacks the read scope',
    );
    await Promise.all([closed.stop(), open.stop()]);
  });
});

describe('rule changes', () => {
  let svc: AccessService;
  let repo: MemoryRules;
  beforeEach(async () => ({ svc, repo } = await service()));
  afterEach(() => svc.stop());

  it('are for unrestricted admins with the admin scope only', async () => {
    const input = { pattern: 'corp.example.com/x', teamId: PAY, permission: 'read' as const };
    expect((await rejected(svc.createRule(input, ANONYMOUS))).status).toBe(401);
    expect((await rejected(svc.createRule(input, user('alice', { [PAY]: 'maintainer' })))).message).toBe('forbidden: alice may not change access rules: only registry admins may');
    expect((await rejected(svc.createRule(input, user('root', {}, { role: 'admin', scopes: new Set(['read']) })))).message).toContain('the token lacks the admin scope');
    expect((await rejected(svc.createRule(input, user('root', {}, { role: 'admin', teamRestriction: new Set([PAY]) })))).message).toContain('restricted to teams');
    expect((await rejected(svc.deleteRule(repo.rules[0].id, user('alice')))).status).toBe(403);
    expect(repo.rules).toHaveLength(2);
  });

  it('validate patterns, permissions and ids', async () => {
    const bad = async (p: Promise<unknown>) => (await rejected(p)).message;
    expect(await bad(svc.createRule({ pattern: 'corp.example.com/a b', teamId: PAY, permission: 'read' }, admin))).toBe('invalid pattern: pattern contains white space');
    expect(await bad(svc.createRule({ pattern: '', teamId: PAY, permission: 'read' }, admin))).toBe('invalid pattern: pattern is empty');
    expect(await bad(svc.createRule({ pattern: 'corp.example.com/[x', teamId: PAY, permission: 'read' }, admin))).toContain('has "[" without "]"');
    expect(await bad(svc.createRule({ pattern: 'corp.example.com/x', teamId: PAY, permission: 'write' as never }, admin))).toBe('permission must be read, publish or admin');
    expect(await bad(svc.createRule({ pattern: 'corp.example.com/x', teamId: 'payments', permission: 'read' }, admin))).toBe('teamId must be a team id (uuid)');
    expect(await bad(svc.updateRule(repo.rules[0].id, {}, admin))).toBe('nothing to change: give pattern and/or permission');
    expect((await rejected(svc.updateRule('nope', { permission: 'read' }, admin))).status).toBe(404);
    expect((await rejected(svc.deleteRule('00000000-0000-4000-8000-999999999999', admin))).status).toBe(404);
    expect((await rejected(svc.listRules({ limit: 0, offset: 0 }))).status).toBe(400);
    expect((await rejected(svc.listRules({ limit: 10, offset: -1 }))).status).toBe(400);
  });

  it('take effect before the call returns (read-your-writes)', async () => {
    const dora = user('dora', { [WEB]: 'publisher' });
    expect(svc.decide(dora, 'publish', 'corp.example.com/web/app').allowed).toBe(false);
    const rule = await svc.createRule({ pattern: 'corp.example.com/web', teamId: WEB, permission: 'publish' }, admin);
    expect(svc.decide(dora, 'publish', 'corp.example.com/web/app').allowed).toBe(true);
    await svc.updateRule(rule.id, { permission: 'read' }, admin);
    expect(svc.decide(dora, 'publish', 'corp.example.com/web/app').allowed).toBe(false);
    await svc.deleteRule(rule.id, admin);
    expect(svc.decide(dora, 'read', 'corp.example.com/web/app').allowed).toBe(false);
    expect(svc.ruleCount).toBe(2);
    expect(await svc.listRules({ limit: 1, offset: 1 })).toEqual({ items: [repo.rules[1]], total: 2, limit: 1, offset: 1 });
  });

  it('coalesce reloads: one running plus at most one queued', async () => {
    const before = repo.loads;
    await Promise.all([svc.refresh(), svc.refresh(), svc.refresh(), svc.refresh()]);
    expect(repo.loads - before).toBeLessThanOrEqual(2);
  });

  it('decide never touches the repository', () => {
    const before = repo.loads;
    const alice = user('alice', { [PAY]: 'reader' });
    for (let i = 0; i < 1000; i++) svc.require(alice, 'read', `corp.example.com/payments/m${i % 10}`);
    expect(repo.loads).toBe(before);
  });
});
