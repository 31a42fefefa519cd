import { compareSpecificity, patternProblem, specificity } from './rule';
import { RuleSet } from './rule-set';

describe('patternProblem', () => {
  it.each([
    ['corp.example.com', null],
    ['corp.example.com/payments', null],
    ['corp.example.com/*/internal', null],
    ['*.corp.example.com', null],
    ['corp.example.com/tools/[a-c]*', null],
    ['corp.example.com/tools/[^x]?', null],
    ['corp.example.com/we\\*rd', null],
    ['', 'pattern is empty'],
    ['a'.repeat(501), 'pattern is longer than 500 characters'],
    ['corp.example.com/pay ments', 'pattern contains white space'],
    ['corp.example.com/pay\tments', 'pattern contains white space'],
    ['corp.example.com/pay\u0001', 'pattern contains control characters'],
    ['corp.example.com,other.com', 'pattern contains a comma: one pattern per rule'],
    ['corp.example.com/', 'pattern has an empty path element (leading, trailing or double slash)'],
    ['/corp.example.com', 'pattern has an empty path element (leading, trailing or double slash)'],
    ['corp.example.com//x', 'pattern has an empty path element (leading, trailing or double slash)'],
    ['corp.example.com/../x', 'pattern has a ".." path element'],
    ['corp.example.com/[ab', 'pattern element "[ab": has "[" without "]"'],
    ['corp.example.com/ab]', 'pattern element "ab]": has "]" without "["'],
    ['corp.example.com/[]x', 'pattern element "[]x": has an empty character class'],
    ['corp.example.com/[^]', 'pattern element "[^]": has an empty character class'],
    ['corp.example.com/[z-a]', 'pattern element "[z-a]": has a reversed range z-a'],
    ['corp.example.com/x\\', 'pattern element "x\\": ends in a lone backslash'],
  ])('%j → %j', (pattern, problem) => {
    expect(patternProblem(pattern)).toBe(problem);
  });
});

describe('specificity', () => {
  it.each([
    ['corp.example.com', { elements: 1, wildcards: 0, literal: 16 }],
    ['corp.example.com/payments', { elements: 2, wildcards: 0, literal: 24 }],
    ['corp.example.com/pay*', { elements: 2, wildcards: 1, literal: 19 }],
    ['corp.example.com/*/internal', { elements: 3, wildcards: 1, literal: 24 }],
    ['corp.example.com/[abc]x', { elements: 2, wildcards: 1, literal: 17 }],
    ['corp.example.com/a\\*', { elements: 2, wildcards: 0, literal: 18 }],
  ])('%s', (pattern, want) => {
    expect(specificity(pattern)).toEqual(want);
  });

  it('orders: more elements, then fewer wildcard elements, then more literal text, then the text itself', () => {
    const patterns = [
      'corp.example.com',
      '*/payments',
      'corp.example.com/*',
      'corp.example.com/pay*',
      'corp.example.com/payments',
      'corp.example.com/*/internal',
      'corp.example.com/payments/ledger',
      'corp.example.com/p?yments',
      'corp.example.com/pa?ments',
    ];
    const sorted = [...patterns].sort((a, b) => compareSpecificity(a, specificity(a), b, specificity(b)));
    expect(sorted).toEqual([
      'corp.example.com/payments/ledger',
      'corp.example.com/*/internal',
      'corp.example.com/payments',
      // equal elements, wildcards and literal length: by text ('?' < 'a')
      'corp.example.com/p?yments',
      'corp.example.com/pa?ments',
      'corp.example.com/pay*',
      'corp.example.com/*',
      '*/payments',
      'corp.example.com',
    ]);
  });
});

describe('RuleSet.lookup', () => {
  const mk = (pattern: string, teamName: string) => ({ id: `${pattern}#${teamName}`, pattern, teamId: teamName, teamName, permission: 'read' as const });
  const set = new RuleSet([
    mk('corp.example.com', 'platform'),
    mk('*.example.com/payments', 'wild'),
    mk('corp.example.com/payments', 'web'),
    mk('corp.example.com/payments', 'payments'),
    mk('corp.example.com/payments/ledger', 'ledger'),
    mk('other.example.com/x', 'other'),
  ]);

  it('lists matching rules most specific first, literal and wildcard hosts merged', () => {
    const r = set.lookup('corp.example.com/payments/api');
    expect(r.matching.map((x) => x.id)).toEqual([
      'corp.example.com/payments#payments',
      'corp.example.com/payments#web',
      '*.example.com/payments#wild',
      'corp.example.com#platform',
    ]);
  });

  it('lets every rule of the most specific pattern decide together', () => {
    expect(set.lookup('corp.example.com/payments/api').deciding.map((x) => x.teamName)).toEqual(['payments', 'web']);
    expect(set.lookup('corp.example.com/payments/ledger/v2').deciding.map((x) => x.teamName)).toEqual(['ledger']);
  });

  it('reports the rules below a path (prefix probes), never those beside it', () => {
    const r = set.lookup('corp.example.com');
    expect(r.deciding.map((x) => x.teamName)).toEqual(['platform']);
    expect(r.below.map((x) => x.id)).toEqual([
      'corp.example.com/payments/ledger#ledger',
      'corp.example.com/payments#payments',
      'corp.example.com/payments#web',
      '*.example.com/payments#wild',
    ]);
    expect(set.lookup('other.example.com').below.map((x) => x.teamName)).toEqual(['other', 'wild']);
    expect(set.lookup('corp.example.com/billing').below).toEqual([]);
  });

  it('matches whole elements only', () => {
    expect(set.lookup('corp.example.com/paymentsx').matching.map((x) => x.teamName)).toEqual(['platform']);
    expect(set.lookup('example.com/payments').matching).toEqual([]);
  });

  it('memoises per path and stays bounded', () => {
    const small = new RuleSet([mk('a.com', 't')], 2);
    const first = small.lookup('a.com/x');
    expect(small.lookup('a.com/x')).toBe(first);
    small.lookup('a.com/y');
    small.lookup('a.com/z'); // clears the memo
    expect(small.lookup('a.com/x')).not.toBe(first);
    expect(small.lookup('a.com/x')).toEqual(first);
  });
});
