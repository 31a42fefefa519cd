// gomod-file.ts against golang.org/x/mod/modfile.ParseLax: every go.mod below
// is read by the real Go parser (test/support/gotool) and ours must extract
// the same module path, Deprecated paragraph and retractions.
import { gotool } from '../../../test/support/gotool';
import { GoModError } from './errors';
import { isRetracted, moduleLineMatches, parseGoMod, shortMessage, type ParsedGoMod } from './gomod-file';

interface GoParsed {
  module: string | null;
  deprecated: string;
  retract: ParsedGoMod['retract'];
  err: string;
}

function goParseMany(files: string[]): GoParsed[] {
  return JSON.parse(gotool(['modfile-parse-many'], JSON.stringify(files))) as GoParsed[];
}

function ours(text: string): ParsedGoMod | { err: string } {
  try {
    return parseGoMod(text);
  } catch (e) {
    if (!(e instanceof GoModError)) throw e;
    expect(e.code).toBe('invalid-gomod');
    return { err: e.message };
  }
}

// Go's Deprecated is "" when absent; ours is null.
function expected(g: GoParsed): ParsedGoMod | { err: string } {
  return g.err !== '' ? { err: g.err } : { module: g.module, deprecated: g.deprecated || null, retract: g.retract };
}

// Inputs of x/mod's own rule_test.go (retractRationaleTests, moduleDeprecatedTests).
const fromXMod = [
  'module m\nretract v1.0.0',
  'module m\n//   prefix\nretract v1.0.0 \n',
  'module m\n//  one\n//\n//     two\n//\n// three  \nretract v1.0.0',
  'module m\nretract v1.0.0 // suffix\n',
  'module m\n// prefix\nretract v1.0.0 // suffix\n',
  '// block\nretract (\n\tv1.0.0\n)\n',
  '// block\nretract (\n\t// line\n\tv1.0.0\n)\n',
  'module m',
  '// yo\nmodule m',
  '//Deprecated\nmodule m',
  '//Deprecated:blah\nmodule m',
  '// Deprecated: blah\nmodule m',
  '// deprecated: blah\nmodule m',
  '// Deprecated: one\n// two\nmodule m',
  '// some other comment\n// Deprecated: blah\nmodule m',
  '// module m is Deprecated: blah\nmodule m',
  '// Deprecated: a\n// Deprecated: b\nmodule m',
  '// Deprecated: a\n// b\n//\n// c\nmodule m',
  '// Deprecated: the next line has a space\n// \n// c\nmodule m',
  'module m // Deprecated: blah',
  '// some other comment\nmodule m // Deprecated: blah',
  '// some other comment\n//\nmodule m // Deprecated: blah',
  '// Deprecated: blah\nmodule (\n\tm\n)',
];

const ours_ = [
  // module line shapes
  '', '\n\n', 'go 1.21\n', 'module example.com/m\n', 'module "example.com/m"\n', 'module "example.com/\\x41"\n',
  'module "example.com/\\u00e9"\n', 'module "example.com/\\101"\n', "module 'example.com/m'\n", 'module `example.com/m`\n',
  'module example.com/m"x\n', 'module "example.com/m\n', 'module\n', 'module a b\n', 'module example.com/m\nmodule example.com/n\n',
  'module (\n\texample.com/m\n)\n', 'module (\n\texample.com/m\n\texample.com/n\n)\n', 'module ()\n', 'module example.com/m ()\n',
  '  module example.com/m\n', '\tmodule\texample.com/m\t// c\n', 'module example.com/m\r\ngo 1.20\r\n', 'module example.com/m',
  'module "a\\qb"\n', 'module "a\\\'b"\n', 'module "\\ud800"\n', 'module "\\U00110000"\n', 'module "a\\400"\n', 'module "\\xzz"\n',
  'module example.com/日本\n', 'module example.com/m // comment\n', 'module example.com/m // Deprecated: use example.com/n\n',
  '\ufeffmodule example.com/m\n', 'module example.com/m\u00a0\n', 'module example.com/m\x00\n', 'module example.com/m\v\n',
  // modern directives ParseLax ignores or accepts
  'module example.com/m\n\ngo 1.21.0\n\ntoolchain go1.21.3\n\ngodebug (\n\tpanicnil=1\n)\ngodebug asynctimerchan=0\n',
  'module example.com/m\ngo 1.22rc1\ntool example.com/t\nignore ./x\nfuture ( a b c )\n',
  'module example.com/m\nrequire (\n\texample.com/a v1.0.0 // indirect\n)\nreplace example.com/a => ../a\nexclude example.com/b v1.0.0\n',
  'module example.com/m\nunknown ( \n\tx\n)\n', 'module example.com/m\nrequire x (\n\tblah\n)\n',
  // Deprecated paragraphs
  '// Deprecated: use example.com/n instead.\n// It is unmaintained.\n//\n// Other notes.\nmodule example.com/m\n',
  '// Deprecated: above\nmodule example.com/m // and after\n', '// Deprecated: gap\n\nmodule example.com/m\n',
  '// Intro.\n//\n// Deprecated: second paragraph\n// continues\n//\n// third\nmodule example.com/m\n',
  '// Deprecated:\nmodule example.com/m\n', '// Deprecated:    spaced   \nmodule example.com/m\n',
  'module example.com/m\n// Deprecated: below the module line does not count\n',
  '// Deprecated: in block\nmodule (\n\t// Deprecated: on line\n\texample.com/m\n)\n',
  '// Deprecated: x\r\n// y\r\nmodule example.com/m\r\n', '//Deprecated: tab\tinside\nmodule example.com/m\n',
  // retractions
  'module example.com/m\nretract v1.0.1 // oops\n',
  'module example.com/m\nretract [v1.0.0, v1.0.5] // broken range\n',
  'module example.com/m\nretract [v1.0.0,v1.0.5]\n',
  'module example.com/m\nretract (\n\tv1.0.0 // first\n\t[v1.1.0, v1.2.0] // second\n\t// above third\n\tv1.3.0\n\n\t// after blank\n\n\tv1.4.0\n)\n',
  'module example.com/m\n// applies to all\nretract (\n\tv1.0.0\n\tv1.0.1\n)\n',
  'module example.com/m\nretract ( // on paren\n\tv1.0.0\n) // after paren\n',
  'module example.com/m\nretract () // empty\n', 'module example.com/m\nretract (\n)\n',
  'module example.com/m\nretract "v1.0.0" // quoted\n', 'module example.com/m\nretract "v1.0.0\n',
  'module example.com/m\nretract v1.0 // not canonical\n', 'module example.com/m\nretract foo\n',
  'module example.com/m\nretract v1.0.0 v1.0.1\n', 'module example.com/m\nretract (v1.2.3, v1.2.4]\n',
  'module example.com/m\nretract [v1.0.0 v1.0.5]\n', 'module example.com/m\nretract [v1.0.0,\n',
  'module example.com/m\nretract [v1.0.0, v1.0.5\n', 'module example.com/m\nretract\n', 'module example.com/m\nretract ( v1.0.0 )\n',
  'module example.com/m\nretract "v1\\x2e0.0"\n', "module example.com/m\nretract 'v1.0.0'\n",
  'module example.com/m\nretract v2.0.0+incompatible // inc\nretract v1.0.0-rc.1 // pre\n',
  'retract v1.0.0 // no module line\n',
  'module example.com/m\nretract v1.0.0 // a // b\n', 'module example.com/m\nretract v1.0.0 //\n',
  'module example.com/m\n// one\n\n// two\nretract v1.0.0\n',
  'module example.com/m\nretract (\n\t// only comment\n)\n',
  'module example.com/m\n// block comment\nretract (\n\tv1.0.0 // own\n\tv1.0.1\n)\n',
  // syntax errors
  'module example.com/m\n/* c */\n', 'module example.com/m/* c */\n', 'module example.com/m\nretract (\n\tv1.0.0\n',
  'module example.com/m\nretract (\n\tv1.0.0\n) x\n', 'module example.com/m\n)\n', 'module example.com/m\nx "unterminated',
  'module example.com/m\nx "a\\', 'module example.com/m\n\x01\n', 'module x ( y\n  z ) // comment\n',
];

describe('parseGoMod vs modfile.ParseLax', () => {
  const files = [...fromXMod, ...ours_];
  let go: GoParsed[];
  beforeAll(() => {
    go = goParseMany(files);
  });

  it('extracts what Go extracts, and fails where Go fails', () => {
    const diffs = files
      .map((f, i) => ({ f, go: expected(go[i]), ts: ours(f) }))
      .filter((d) => {
        if ('err' in d.go && 'err' in d.ts) return !d.go.err.split('\n').includes(d.ts.err);
        return JSON.stringify(d.go) !== JSON.stringify(d.ts);
      });
    expect(diffs).toEqual([]);
    expect(go.filter((g) => g.err !== '').length).toBeGreaterThan(15);
    expect(go.filter((g) => g.retract.length > 0).length).toBeGreaterThan(15);
    expect(go.filter((g) => g.deprecated !== '').length).toBeGreaterThan(10);
  });

  it('accepts the single-file modfile-parse form too', () => {
    const f = '// Deprecated: x\nmodule example.com/m\ngo 1.21.0\ntoolchain go1.21.3\nretract v1.0.0 // r\n';
    const g = JSON.parse(gotool(['modfile-parse'], f)) as GoParsed;
    expect(parseGoMod(Buffer.from(f))).toEqual(expected(g));
  });

  // ParseLax also rejects malformed go and require lines; we ignore them
  // (they do not change what we extract). Each case is checked against Go's
  // reading of the same file without the offending line.
  it.each([
    ['module example.com/m\ngo 1\nretract v1.0.0 // r\n', 'go 1\n'],
    ['module example.com/m\ngo 1.2 1.3\n', 'go 1.2 1.3\n'],
    ['module example.com/m\ngo 1.20\ngo 1.21\n', 'go 1.21\n'],
    ['// Deprecated: d\nmodule example.com/m\nrequire example.com/a\n', 'require example.com/a\n'],
    ['module example.com/m\nrequire example.com/a/v2 v1.0.0\n', 'require example.com/a/v2 v1.0.0\n'],
    ['module example.com/m\nrequire (\n\texample.com/a latest\n)\n', '\texample.com/a latest\n'],
  ])('is laxer than ParseLax about %j', (file, badLine) => {
    const [withBad, without] = goParseMany([file, file.replace(badLine, '')]);
    expect(withBad.err).not.toBe('');
    expect(without.err).toBe('');
    expect(parseGoMod(file)).toEqual(expected(without));
  });

  it('moduleLineMatches', () => {
    expect(moduleLineMatches('module "example.com/m" // x\n', 'example.com/m')).toBe(true);
    expect(moduleLineMatches('module example.com/m\n', 'example.com/M')).toBe(false);
    expect(moduleLineMatches('go 1.21\n', 'example.com/m')).toBe(false);
    expect(moduleLineMatches('module a b\n', 'a')).toBe(false);
  });
});

describe('isRetracted', () => {
  const mod = [
    'module example.com/m',
    'retract v1.0.1 // one',
    'retract [v1.1.0, v1.2.0] // range',
    'retract (',
    '\tv1.3.0',
    '\tv1.0.1 // again',
    '\t[v2.0.0+incompatible, v2.1.0+incompatible]',
    '\tv1.5 // short form',
    '\tfoo // not a version',
    ')',
  ].join('\n');
  const { retract } = parseGoMod(mod);

  it('matches intervals with semver.Compare like cmd/go CheckRetractions', () => {
    const versions = ['v1.0.0', 'v1.0.1', 'v1.1.0', 'v1.1.5-pre', 'v1.2.0', 'v1.2.0+meta', 'v1.2.1', 'v1.3.0', 'v2.0.5+incompatible', 'v1.5.0', 'v1.5.0-rc.1', 'foo'];
    const got = Object.fromEntries(versions.map((v) => [v, isRetracted(v, retract)]));
    expect(got).toEqual({
      'v1.0.0': { retracted: false, rationale: '' },
      'v1.0.1': { retracted: true, rationale: 'one' },
      'v1.1.0': { retracted: true, rationale: 'range' },
      'v1.1.5-pre': { retracted: true, rationale: 'range' },
      'v1.2.0': { retracted: true, rationale: 'range' },
      'v1.2.0+meta': { retracted: true, rationale: 'range' },
      'v1.2.1': { retracted: false, rationale: '' },
      'v1.3.0': { retracted: true, rationale: '' },
      'v2.0.5+incompatible': { retracted: true, rationale: '' },
      'v1.5.0': { retracted: true, rationale: 'short form' },
      'v1.5.0-rc.1': { retracted: false, rationale: '' },
      // An invalid version is below every valid one, so only "foo" <= v <= "foo" would need both invalid.
      foo: { retracted: true, rationale: 'not a version' },
    });
  });
});

describe('shortMessage (cmd/go modload.ShortMessage)', () => {
  it('keeps one clean line', () => {
    expect(shortMessage('  use v2 \nmore', 'dflt')).toBe('use v2');
    expect(shortMessage('', 'retracted by module author')).toBe('retracted by module author');
    expect(shortMessage('x'.repeat(501), '')).toBe('(message omitted: too long)');
    expect(shortMessage('bell\x07', '')).toBe('(message omitted: contains non-printable characters)');
    expect(shortMessage('tab\tand é', '')).toBe('tab\tand é');
  });
});
