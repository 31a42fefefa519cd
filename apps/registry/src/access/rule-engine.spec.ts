// The access decision, table by table. Disabled users and expired or revoked
// tokens are not cases here: the authentication service answers them with
// 401 before any principal exists, and decide() trusts the principal it gets.
import { ANONYMOUS, SCOPES, type GlobalRole, type Permission, type Principal, type Scope, type TeamRole } from '../auth/principal';
import type { Rule } from './rule';
import { decide, explain, type AccessContext, type Denial } from './rule-engine';
import { RuleSet } from './rule-set';

type TeamKey = 'payments' | 'web' | 'ledger' | 'platform' | 'tools';

const rule = (pattern: string, team: TeamKey, permission: Permission): Rule => ({ id: `${pattern}#${team}`, pattern, teamId: `id-${team}`, teamName: team, permission });

const RULES = new RuleSet([
  rule('corp.example.com/payments', 'payments', 'admin'),
  rule('corp.example.com/payments', 'web', 'read'), // several teams on one pattern
  rule('corp.example.com/payments/ledger', 'ledger', 'publish'),
  rule('corp.example.com/pay*', 'platform', 'read'),
  rule('corp.example.com/*/internal', 'platform', 'admin'),
  rule('corp.example.com/tools/[a-c]*', 'tools', 'publish'),
]);

interface Who {
  role?: GlobalRole;
  teams?: Partial<Record<TeamKey, TeamRole>>;
  scopes?: Scope[];
  restrict?: TeamKey[];
}

function principal(w: Who): Principal {
  const teams = Object.entries(w.teams ?? {}) as [TeamKey, TeamRole][];
  return {
    kind: 'user',
    userId: 'u1',
    login: 'alice',
    role: w.role ?? 'user',
    teams: new Map(teams.map(([k, r]) => [`id-${k}`, r])),
    teamNames: new Map(teams.map(([k]) => [`id-${k}`, k])),
    via: 'token',
    tokenId: 't1',
    scopes: new Set(w.scopes ?? SCOPES),
    teamRestriction: w.restrict ? new Set(w.restrict.map((k) => `id-${k}`)) : null,
  };
}

const OWNED = /^corp\.example\.com(\/|$)/;
const ctx = (path: string, anonymousRead = false): AccessContext => ({ owned: OWNED.test(path), anonymousRead });

type Case = [name: string, who: Principal, perm: Permission, path: string, want: true | Denial, reason?: string | RegExp];

function run(cases: Case[], anonymousRead = false): void {
  // Rows have an optional last column: pass each row whole, or jest would
  // take a short row's missing argument for a `done` callback.
  it.each(cases.map((c) => [c[0], c] as const))('%s', (_name, [, who, perm, path, want, reason]) => {
    const d = decide(RULES, who, perm, path, ctx(path, anonymousRead));
    expect(d.needed).toBe(perm);
    if (want === true) {
      expect(d).toMatchObject({ allowed: true });
      expect(d.denial).toBeUndefined();
    } else {
      expect(d).toMatchObject({ allowed: false, denial: want });
    }
    if (reason !== undefined) expect(d.reason).toMatch(reason);
  });
}

const admin = principal({ role: 'admin' });
const auditor = principal({ role: 'auditor' });
const nobody = principal({});

describe('global roles', () => {
  run([
    ['admin reads an owned path without any rule', admin, 'read', 'corp.example.com/secret/x', true, 'global admin'],
    ['admin publishes under another team’s rule', admin, 'publish', 'corp.example.com/payments/ledger', true],
    ['admin administers a public path', admin, 'admin', 'github.com/x/y', true],
    ['admin publishes a public path', admin, 'publish', 'github.com/x/y', true],
    ['auditor is a plain user on owned paths', auditor, 'read', 'corp.example.com/payments', 'forbidden', 'it belongs to teams payments, web'],
    ['auditor reads public modules like any user', auditor, 'read', 'golang.org/x/mod', true],
    ['user without teams reads public modules', nobody, 'read', 'golang.org/x/mod', true, /public module/],
    ['user without teams on an owned path', nobody, 'read', 'corp.example.com/payments/api', 'forbidden', 'it belongs to teams payments, web; ask their maintainer for access'],
  ]);
});

describe('token scopes bound everyone, admins included', () => {
  run([
    ['read-only admin token cannot publish', principal({ role: 'admin', scopes: ['read'] }), 'publish', 'corp.example.com/x', 'forbidden', 'the token lacks the publish scope'],
    ['publish-only admin token cannot administer', principal({ role: 'admin', scopes: ['read', 'publish'] }), 'admin', 'corp.example.com/x', 'forbidden', 'the token lacks the admin scope'],
    ['read-only admin token reads', principal({ role: 'admin', scopes: ['read'] }), 'read', 'corp.example.com/x', true],
    ['a maintainer’s read-only token cannot publish', principal({ teams: { payments: 'maintainer' }, scopes: ['read'] }), 'publish', 'corp.example.com/payments/x', 'forbidden', 'the token lacks the publish scope'],
    ['an audit-only token cannot read modules', principal({ scopes: ['audit'] }), 'read', 'golang.org/x/mod', 'forbidden', 'the token lacks the read scope'],
  ]);
});

describe('team roles: min(rule permission, role grant)', () => {
  run([
    ['reader reads', principal({ teams: { payments: 'reader' } }), 'read', 'corp.example.com/payments/api', true, 'granted to team payments by rule corp.example.com/payments (admin)'],
    ['reader cannot publish', principal({ teams: { payments: 'reader' } }), 'publish', 'corp.example.com/payments/api', 'forbidden', 'your role in team payments is reader, which cannot publish'],
    ['publisher publishes', principal({ teams: { payments: 'publisher' } }), 'publish', 'corp.example.com/payments/api', true],
    ['publisher cannot administer', principal({ teams: { payments: 'publisher' } }), 'admin', 'corp.example.com/payments/api', 'forbidden', 'your role in team payments is publisher, which cannot administer'],
    ['maintainer administers', principal({ teams: { payments: 'maintainer' } }), 'admin', 'corp.example.com/payments/api', true],
    ['a read rule caps a maintainer', principal({ teams: { web: 'maintainer' } }), 'publish', 'corp.example.com/payments/api', 'forbidden', 'rule corp.example.com/payments gives team web only read'],
    ['a publish rule caps a maintainer', principal({ teams: { ledger: 'maintainer' } }), 'admin', 'corp.example.com/payments/ledger', 'forbidden', 'rule corp.example.com/payments/ledger gives team ledger only publish'],
    ['a publish rule lets a maintainer publish', principal({ teams: { ledger: 'maintainer' } }), 'publish', 'corp.example.com/payments/ledger/v2', true],
  ]);
});

describe('several teams on one pattern apply together; the best grant wins', () => {
  run([
    ['web reader reads payments', principal({ teams: { web: 'reader' } }), 'read', 'corp.example.com/payments', true, /team web/],
    ['web + payments member publishes through payments', principal({ teams: { web: 'maintainer', payments: 'publisher' } }), 'publish', 'corp.example.com/payments/x', true, /team payments/],
  ]);
});

describe('most specific pattern wins', () => {
  run([
    ['payments maintainer is shut out of ledger (more elements)', principal({ teams: { payments: 'maintainer' } }), 'read', 'corp.example.com/payments/ledger/x', 'forbidden', 'it belongs to team ledger; ask a ledger maintainer for access'],
    ['ledger publisher publishes ledger', principal({ teams: { ledger: 'publisher' } }), 'publish', 'corp.example.com/payments/ledger', true],
    ['ledger member has no access to the rest of payments', principal({ teams: { ledger: 'publisher' } }), 'read', 'corp.example.com/payments/api', 'forbidden', /payments, web/],
    ['a literal element beats a wildcard one', principal({ teams: { platform: 'maintainer' } }), 'read', 'corp.example.com/payments/api', 'forbidden', /payments, web/],
    ['the wildcard rule decides where the literal one does not match', principal({ teams: { platform: 'reader' } }), 'read', 'corp.example.com/paygate/x', true, /pay\*/],
    ['… and shuts out payments there', principal({ teams: { payments: 'maintainer' } }), 'read', 'corp.example.com/paygate', 'forbidden', 'it belongs to team platform; ask a platform maintainer for access'],
    ['three elements with a wildcard beat two literal ones', principal({ teams: { payments: 'maintainer' } }), 'read', 'corp.example.com/payments/internal', 'forbidden', /team platform/],
    ['platform administers every internal', principal({ teams: { platform: 'maintainer' } }), 'admin', 'corp.example.com/payments/internal/db', true],
    ['a character class matches', principal({ teams: { tools: 'publisher' } }), 'publish', 'corp.example.com/tools/bolt', true],
    ['outside the class no rule applies', principal({ teams: { tools: 'publisher' } }), 'publish', 'corp.example.com/tools/zap', 'forbidden', 'no access rule covers it; ask a registry admin to add one'],
    ['subtrees: a rule covers every deeper path', principal({ teams: { web: 'reader' } }), 'read', 'corp.example.com/payments/a/b/c/d', true],
    ['elements are whole: payments does not cover paymentsx', principal({ teams: { payments: 'maintainer' } }), 'read', 'corp.example.com/paymentsx', 'forbidden', /platform/],
  ]);
});

describe('token team restrictions', () => {
  run([
    ['a token for payments reads payments', principal({ teams: { payments: 'reader', ledger: 'reader' }, restrict: ['payments'] }), 'read', 'corp.example.com/payments/x', true],
    ['a token for payments does not read ledger', principal({ teams: { payments: 'reader', ledger: 'reader' }, restrict: ['payments'] }), 'read', 'corp.example.com/payments/ledger', 'forbidden', 'it belongs to team ledger, and the token is restricted to other teams'],
    ['restriction picks the lesser of two grants', principal({ teams: { web: 'maintainer', payments: 'maintainer' }, restrict: ['web'] }), 'publish', 'corp.example.com/payments/x', 'forbidden', 'it belongs to team payments, and the token is restricted to other teams'],
    ['an admin’s team token loses the admin bypass', principal({ role: 'admin', restrict: ['payments'] }), 'read', 'corp.example.com/secret', 'forbidden', 'the token is restricted to teams and no access rule of theirs covers it'],
    ['… and uses its teams’ rules', principal({ role: 'admin', teams: { payments: 'maintainer' }, restrict: ['payments'] }), 'admin', 'corp.example.com/payments', true],
    ['… and cannot publish public paths', principal({ role: 'admin', restrict: ['payments'] }), 'publish', 'github.com/x/y', 'forbidden', /public module path/],
    ['public reads are no rule grant: a team token reads them', principal({ restrict: ['payments'] }), 'read', 'golang.org/x/mod', true],
  ]);
});

describe('public paths', () => {
  run([
    ['nobody publishes a public path', principal({ teams: { payments: 'maintainer' } }), 'publish', 'github.com/corp/payments', 'forbidden', 'it is a public module path (not under MODGATE_PRIVATE); only private modules can be published here'],
    ['nobody administers a public path', principal({ teams: { payments: 'maintainer' } }), 'admin', 'github.com/corp/payments', 'forbidden', /can be administered/],
  ]);
});

describe('anonymous callers get 401, never 403', () => {
  describe('anonymous reads disabled', () => {
    run([
      ['owned read', ANONYMOUS, 'read', 'corp.example.com/payments', 'unauthenticated', 'private modules need credentials'],
      ['owned read of a path nobody has a rule for', ANONYMOUS, 'read', 'corp.example.com/secret', 'unauthenticated'],
      ['public read', ANONYMOUS, 'read', 'golang.org/x/mod', 'unauthenticated', 'this registry needs credentials'],
      ['publish', ANONYMOUS, 'publish', 'corp.example.com/payments', 'unauthenticated', 'publishing needs credentials'],
    ]);
  });
  describe('anonymous reads enabled', () => {
    run(
      [
        ['public read', ANONYMOUS, 'read', 'golang.org/x/mod', true, 'public module: anonymous reads are enabled'],
        ['owned read', ANONYMOUS, 'read', 'corp.example.com/payments', 'unauthenticated'],
        ['public publish', ANONYMOUS, 'publish', 'golang.org/x/mod', 'unauthenticated'],
        ['public administer', ANONYMOUS, 'admin', 'golang.org/x/mod', 'unauthenticated', 'administering needs credentials'],
      ],
      true,
    );
  });
});

describe('prefix probes of the go command: 404 above a readable subtree', () => {
  run([
    // go get corp.example.com/payments/api/client probes corp.example.com too.
    ['member probes the bare host', principal({ teams: { web: 'reader' } }), 'read', 'corp.example.com', 'not-found', 'no module here is visible to you (your access starts at corp.example.com/payments)'],
    ['ledger member probes the host (rule three elements deep)', principal({ teams: { ledger: 'reader' } }), 'read', 'corp.example.com', 'not-found', /corp.example.com\/payments\/ledger/],
    ['tools member probes corp.example.com/tools (class below)', principal({ teams: { tools: 'reader' } }), 'read', 'corp.example.com/tools', 'not-found'],
    ['a team token probes through its own team only', principal({ teams: { web: 'reader' }, restrict: ['web'] }), 'read', 'corp.example.com', 'not-found'],
    ['a team token for another team gets 403', principal({ teams: { web: 'reader' }, restrict: ['ledger'] }), 'read', 'corp.example.com', 'forbidden'],
    ['a rule of another team above the subtree: still 404', principal({ teams: { ledger: 'reader' } }), 'read', 'corp.example.com/payments', 'not-found', /corp.example.com\/payments\/ledger/],
    ['… but 403 beside the subtree under that rule', principal({ teams: { ledger: 'reader' } }), 'read', 'corp.example.com/payments/api', 'forbidden', /payments, web/],
    ['a non-member gets 403 for the host', nobody, 'read', 'corp.example.com', 'forbidden', 'no access rule covers it; ask a registry admin to add one'],
    ['probing beside the subtree is 403', principal({ teams: { web: 'reader' } }), 'read', 'corp.example.com/billing', 'forbidden'],
    ['publishing above the subtree is 403', principal({ teams: { payments: 'maintainer' } }), 'publish', 'corp.example.com', 'forbidden'],
    ['a read-only scope still probes', principal({ teams: { web: 'reader' }, scopes: ['read'] }), 'read', 'corp.example.com', 'not-found'],
    ['paths inside the subtree are readable (the service answers 404 if absent)', principal({ teams: { web: 'reader' } }), 'read', 'corp.example.com/payments/api/client', true],
  ]);
});

describe('explain', () => {
  it('lists matching rules in specificity order and each permission’s deciding rule', () => {
    const who = principal({ teams: { payments: 'publisher' } });
    const e = explain(RULES, who, 'corp.example.com/payments/x', ctx('corp.example.com/payments/x'));
    expect(e.owned).toBe(true);
    expect(e.matching.map((r) => r.id)).toEqual(['corp.example.com/payments#payments', 'corp.example.com/payments#web', 'corp.example.com/pay*#platform']);
    expect(e.deciding.map((r) => r.teamName)).toEqual(['payments', 'web']);
    expect(e.decisions.read).toMatchObject({ allowed: true, rule: { teamName: 'payments' } });
    expect(e.decisions.publish).toMatchObject({ allowed: true, rule: { teamName: 'payments' } });
    expect(e.decisions.admin).toMatchObject({ allowed: false, denial: 'forbidden', rule: { teamName: 'payments' }, reason: 'your role in team payments is publisher, which cannot administer' });
  });

  it('explains a public path without rules', () => {
    const e = explain(RULES, nobody, 'golang.org/x/mod', ctx('golang.org/x/mod'));
    expect(e).toMatchObject({ owned: false, matching: [], deciding: [] });
    expect(e.decisions.read.allowed).toBe(true);
    expect(e.decisions.publish.allowed).toBe(false);
  });
});

describe('the hot path', () => {
  it('shares the decision object for a granted rule', () => {
    const who = principal({ teams: { web: 'reader' } });
    const a = decide(RULES, who, 'read', 'corp.example.com/payments/a', ctx('corp.example.com/payments/a'));
    const b = decide(RULES, principal({ teams: { web: 'maintainer' } }), 'read', 'corp.example.com/payments/b', ctx('corp.example.com/payments/b'));
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });
});
