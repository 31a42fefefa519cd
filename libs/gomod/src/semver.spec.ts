// semver.ts against golang.org/x/mod/semver and module/pseudo.go: the real
// Go code (test/support/gotool) answers every vector; ours must agree.
import { gotool } from '../../../test/support/gotool';
import { GoModError } from './errors';
import {
  build,
  canonical,
  compare,
  goQuote,
  goQuoteRune,
  isCanonicalVersion,
  isPseudoVersion,
  isRelease,
  isValid,
  major,
  majorMinor,
  max,
  prerelease,
  pseudoVersionBase,
  pseudoVersionRev,
  pseudoVersionTime,
  sortVersions,
} from './semver';

type Row = Record<string, unknown>;

function goLines(cmd: string, inputs: string[]): Row[] {
  return gotool([cmd], inputs.join('\n') + '\n')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Row);
}

function errOf(f: () => unknown): string {
  try {
    f();
    return '';
  } catch (e) {
    if (!(e instanceof GoModError)) throw e;
    expect(e.code).toBe('invalid-version');
    return e.message;
  }
}

const handPicked = [
  // shapes and shorthands
  'v1', 'v1.2', 'v1.2.3', 'v0.0.0', 'v01.2.3', 'v1.02.3', 'v1.2.03', 'v1.2.3.4', '1.2.3', 'v', 'V1.2.3', '', 'v1.', 'v1.2.',
  'v1.2-pre', 'v1-pre', 'v1.2+meta', 'v99999999999999999999.0.0', 'v18446744073709551616.1.1', 'v1.2.3 ', ' v1.2.3',
  // pre-release ordering (semver.org rule 11)
  'v1.0.0-alpha', 'v1.0.0-alpha.1', 'v1.0.0-alpha.beta', 'v1.0.0-beta', 'v1.0.0-beta.2', 'v1.0.0-beta.11', 'v1.0.0-rc.1',
  'v1.0.0', 'v1.0.0-1', 'v1.0.0-2', 'v1.0.0-10', 'v1.0.0-a', 'v1.0.0-A', 'v1.0.0--', 'v1.0.0-a-b', 'v1.0.0-0', 'v1.0.0-00',
  'v1.0.0-01', 'v1.0.0-0a', 'v1.0.0-a.01', 'v1.0.0-a..b', 'v1.0.0-', 'v1.0.0-a.', 'v1.0.0-.a', 'v1.0.0-é', 'v1.0.0-a_b',
  // build metadata
  'v1.0.0+meta', 'v1.0.0+incompatible', 'v2.0.0+incompatible', 'v1.0.0-rc.1+incompatible', 'v1.0.0+01', 'v1.0.0+a.b',
  'v1.0.0+', 'v1.0.0+a..b', 'v1.0.0+a+b', 'v1.0.0+Meta-X', 'v1.2+incompatible', 'v1+incompatible',
  // pseudo-versions
  'v0.0.0-20191109021931-daa7c04131f5', 'v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.3-pre.0.20191109021931-daa7c04131f5',
  'v2.0.1-0.20191109021931-daa7c04131f5+incompatible', 'v1.2.3-pre.0.20191109021931-daa7c04131f5+incompatible',
];

const pseudoVectors = [
  ...handPicked,
  'v0.0.0-00010101000000-000000000000', 'v1.0.0-20200229120000-abcdef123456', 'v1.0.0-20190229120000-abcdef123456',
  'v1.0.0-20201301000000-abcdef123456', 'v1.0.0-20200100000000-abcdef123456', 'v1.0.0-20200101240000-abcdef123456',
  'v1.0.0-20200101236000-abcdef123456', 'v1.0.0-20200101235960-abcdef123456', 'v1.0.0-20200431000000-abcdef123456',
  'v1.0.0-21000229000000-abcdef123456', 'v1.0.0-20000229000000-abcdef123456', 'v1.0.0-00000101000000-abcdef123456',
  'v0.0.0-2019110902193-daa7c04131f5', 'v0.0.0-201911090219310-daa7c04131f5', 'v0.0.0-20191109021931-', 'v0.0.0-20191109021931-ABC',
  'v0.0.0-20191109021931-daa7c04131f5+incompatible', 'v1.0.0-0.20191109021931-daa7c04131f5', 'v0.0.1-0.20191109021931-abc',
  'v1.2.10-0.20191109021931-abc', 'v1.2.100-0.20191109021931-abc', 'v1.3.0-0.20191109021931-abc', 'v1.2.3-rc.1.0.20191109021931-abc',
  'v1.2.3-0.0.20191109021931-abc', 'v1.2.3-pre.1.20191109021931-abc', 'v1.2.3-pre.0.20191109021931-abc+meta',
  'v1.2.0-20191109021931-abc', 'v1.0.0-20191109021931-abc', 'v1.2.3-x-y.0.20191109021931-abc',
];

// Deterministic generator (mulberry32) for a few hundred mixed versions.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generated(n: number): string[] {
  const r = rng(20240601);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const nums = ['0', '1', '2', '9', '10', '11', '100', '01'];
  const idents = ['0', '1', '2', '10', '01', 'a', 'b', 'alpha', 'beta', 'rc', 'A', 'Z', '-', 'a-1', '1a', 'x.y', '0.20200101000000'];
  const out = new Set<string>();
  while (out.size < n) {
    let v = 'v' + pick(nums);
    const shape = r();
    if (shape > 0.1) v += '.' + pick(nums);
    if (shape > 0.2) v += '.' + pick(nums);
    if (r() < 0.55) v += '-' + Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(idents)).join('.');
    if (r() < 0.15) v += '+' + pick(['meta', 'incompatible', '1', 'a.b', '']);
    if (r() < 0.03) v = v.slice(1); // no leading v
    out.add(v);
  }
  return [...out];
}

describe('semver vs golang.org/x/mod/semver', () => {
  const all = [...new Set([...handPicked, ...pseudoVectors, ...generated(300)])];

  it('isValid, canonical, major, majorMinor, prerelease, build, isCanonicalVersion', () => {
    const rows = goLines('semver-info', all);
    expect(rows.map((r) => r.v)).toEqual(all);
    const ours = (v: string) => ({
      v,
      valid: isValid(v),
      canonical: canonical(v),
      moduleCanonical: isCanonicalVersion(v) ? v : undefined,
      major: major(v),
      majorMinor: majorMinor(v),
      prerelease: prerelease(v),
      build: build(v),
    });
    // Go's CanonicalVersion(v) === v is what isCanonicalVersion answers.
    const theirs = (r: Row) => ({ ...r, moduleCanonical: r.moduleCanonical === r.v && r.v !== '' ? r.v : undefined });
    expect(rows.map((r) => ours(r.v as string))).toEqual(rows.map(theirs));
    expect(rows.filter((r) => r.valid).length).toBeGreaterThan(150);
    expect(rows.filter((r) => !r.valid).length).toBeGreaterThan(30);
  });

  it('isRelease is a valid version without pre-release', () => {
    expect(all.filter(isRelease)).toEqual(all.filter((v) => isValid(v) && prerelease(v) === ''));
    expect(isRelease('v1.0.0+incompatible')).toBe(true);
    expect(isRelease('v1.0.0-rc.1')).toBe(false);
  });

  it('compare, max and sortVersions agree with Go on every pair', () => {
    const go = JSON.parse(gotool(['semver-compare'], all.join('\n') + '\n')) as { cmp: number[][]; max: string[][]; sorted: string[] };
    const bad: string[] = [];
    all.forEach((a, i) =>
      all.forEach((b, j) => {
        if (compare(a, b) !== go.cmp[i][j]) bad.push(`compare(${a}, ${b}) = ${compare(a, b)}, Go ${go.cmp[i][j]}`);
        if (max(a, b) !== go.max[i][j]) bad.push(`max(${a}, ${b}) = ${max(a, b)}, Go ${go.max[i][j]}`);
      }),
    );
    expect(bad).toEqual([]);
    expect(all.length ** 2).toBeGreaterThan(100000);
    expect(sortVersions(all)).toEqual(go.sorted);
  });

  it('sortVersions leaves its input alone', () => {
    const vs = ['v2.0.0', 'v1.0.0'];
    expect(sortVersions(vs)).toEqual(['v1.0.0', 'v2.0.0']);
    expect(vs).toEqual(['v2.0.0', 'v1.0.0']);
  });
});

describe('pseudo-versions vs golang.org/x/mod/module', () => {
  let rows: Row[];
  beforeAll(() => {
    rows = goLines('pseudo', pseudoVectors);
  });

  it('isPseudoVersion', () => {
    expect(rows.map((r) => [r.v, isPseudoVersion(r.v as string)])).toEqual(rows.map((r) => [r.v, r.is]));
    expect(rows.filter((r) => r.is).length).toBeGreaterThan(20);
  });

  it('pseudoVersionTime (value and error)', () => {
    const ours = (v: string) => {
      const err = errOf(() => pseudoVersionTime(v));
      return err ? { v, timeErr: err } : { v, unixMilli: pseudoVersionTime(v).getTime() };
    };
    const theirs = (r: Row) => (r.timeErr ? { v: r.v, timeErr: r.timeErr } : { v: r.v, unixMilli: r.unixMilli });
    expect(rows.map((r) => ours(r.v as string))).toEqual(rows.map(theirs));
    expect(pseudoVersionTime('v0.0.0-20191109021931-daa7c04131f5').toISOString()).toBe('2019-11-09T02:19:31.000Z');
  });

  it('pseudoVersionRev and pseudoVersionBase (value and error)', () => {
    const ours = (v: string) => ({
      v,
      rev: errOf(() => pseudoVersionRev(v)) ? '' : pseudoVersionRev(v),
      revErr: errOf(() => pseudoVersionRev(v)),
      base: errOf(() => pseudoVersionBase(v)) ? '' : pseudoVersionBase(v),
      baseErr: errOf(() => pseudoVersionBase(v)),
    });
    const theirs = (r: Row) => ({ v: r.v, rev: r.rev, revErr: r.revErr, base: r.base, baseErr: r.baseErr });
    expect(rows.map((r) => ours(r.v as string))).toEqual(rows.map(theirs));
  });
});

describe('goQuote', () => {
  it('quotes like strconv.Quote / QuoteRune', () => {
    // Go's own answers, checked through an error message that embeds %q.
    const samples = ['a"b', 'a\\b', 'tab\there', '\x00\x07\x7f', 'é日本', '\u00a0\u200b\u2028', '😀', "it's"];
    const rows = goLines('escape-versions', samples.map((s) => s + '!')); // "!" makes Go reject and quote each
    for (const r of rows) expect(r.escapeErr).toContain(goQuote(r.version as string));
    expect(goQuoteRune("'")).toBe("'\\''");
    expect(goQuoteRune('"')).toBe(`'"'`);
  });
});
