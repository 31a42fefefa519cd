// module-path.ts against golang.org/x/mod/module itself: every vector below
// is judged by the real Go code (test/support/gotool) and ours must give the
// same answer and the same message.
import { gotool } from '../../../test/support/gotool';
import { GoModError } from './errors';
import {
  checkFilePath,
  checkImportPath,
  checkModule,
  checkModuleVersion,
  checkPath,
  checkPathMajor,
  escapePath,
  escapeVersion,
  foldPath,
  matchPathMajor,
  splitPathVersion,
  unescapePath,
  unescapeVersion,
} from './module-path';

type Row = Record<string, unknown>;

function goLines(cmd: string, inputs: string[]): Row[] {
  const out = gotool([cmd], inputs.join('\n') + '\n').trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l) as Row);
}

// Runs f and returns its result, or the message of the GoModError it threw.
function attempt<T>(f: () => T): { value?: T; err: string; code?: string } {
  try {
    return { value: f(), err: '' };
  } catch (e) {
    if (!(e instanceof GoModError)) throw e;
    return { err: e.message, code: e.code };
  }
}

const paths = [
  // good ones
  'example.com', 'example.com/m', 'github.com/Azure/azure-sdk-for-go', 'github.com/GoogleCloudPlatform/cloudsql-proxy',
  'github.com/Sirupsen/logrus', 'rsc.io/QUOTE', 'example.com/a_b~c-d.e', 'example.com/m/v2', 'example.com/m/v10',
  'gopkg.in/yaml.v2', 'gopkg.in/yaml.v1', 'gopkg.in/yaml.v0', 'gopkg.in/check.v1-unstable', 'gopkg.in/src-d/go-git.v4',
  'x.y/z/v2.0', 'example.com/v2', 'example.com/m/v2/sub', 'x.y/v', 'x.y/va', 'example.com/~user',
  // bad module paths, good or bad import/file paths
  '', 'foo', 'foo/bar', '-example.com', 'example.com/-x', 'Example.com/m', 'exa_mple.com/m', 'example.com:8080/m',
  'example.com/m/', '/example.com', 'example.com//m', 'example.com/./m', 'example.com/../m', 'example.com/..',
  'example.com/.m', 'example.com/m.', 'example.com/m..', 'example.com/m...x', 'example.com/m/v1', 'example.com/m/v0',
  'example.com/m/v02', 'example.com/m/v1.2', 'example.com/m/v2.0', 'gopkg.in/yaml', 'gopkg.in/yaml.v02', 'gopkg.in/yaml.v',
  'gopkg.in/v2', 'example.com/com1', 'example.com/COM1.txt', 'example.com/Nul', 'example.com/aux.go', 'example.com/lpt9x',
  'example.com/PROGRA~1', 'example.com/a~1b', 'example.com/a~', 'example.com/g++', 'example.com/a b', 'example.com/a@b',
  'example.com/a!b', 'example.com/a%20b', 'example.com/a#b', 'example.com/a:b', 'example.com/a\\b', 'example.com/a*b',
  'example.com/a"b', "example.com/a'b", 'example.com/a<b', 'example.com/a`b', 'example.com/a|b', 'example.com/a?b',
  'example.com/a\tb', 'example.com/a\x7fb', 'example.com/a\x01', 'example.com/é', 'example.com/日本', 'example.com/a\u00a0b',
  'example.com/x\u212a', 'example.com/\u0301', 'example.com/😀', 'example.com/a$b', 'example.com/a(b)', 'example.com/[x]',
  'example.com/{x}', 'example.com/a=b', 'example.com/a,b', 'example.com/a^b', 'example.com/a&b', 'example.com/a+b',
  // file-path shapes (zip entries)
  'go.mod', 'a/b/c.go', 'a/./b', 'a/../b', '.', '..', '...', './a', 'a/', 'a//b', '-leading', 'trailing.', 'dir/trailing.',
  '.hidden', 'dir/.hidden', 'a b/c d.txt', 'CON', 'con.txt', 'dir/Prn.go', 'COM10', 'LPT0', 'nul~1', '日本語/ファイル.go',
  'Ünïcödé/ß.txt', 'a/\u0301', 'x/\u2028', 'a/b\u200b', 'a~1/b', 'a/b~12',
];

describe('module paths vs golang.org/x/mod/module', () => {
  let rows: Row[];
  beforeAll(() => {
    rows = goLines('check-paths', paths);
  });

  it('Go judged every vector', () => {
    expect(rows.map((r) => r.path)).toEqual(paths);
  });

  it.each([
    ['module', checkPath],
    ['import', checkImportPath],
    ['file', checkFilePath],
  ] as const)('%s paths: same verdict and message as Go', (kind, check) => {
    const diffs = rows.filter((r) => attempt(() => check(r.path as string)).err !== r[kind]);
    expect(diffs.map((r) => ({ path: r.path, go: r[kind], ts: attempt(() => check(r.path as string)).err }))).toEqual([]);
    // Sanity: the table covers both outcomes.
    expect(rows.some((r) => r[kind] === '')).toBe(true);
    expect(rows.some((r) => r[kind] !== '')).toBe(true);
  });

  it('checks throw invalid-path', () => {
    expect(attempt(() => checkPath('foo')).code).toBe('invalid-path');
    expect(attempt(() => checkFilePath('a/../b')).code).toBe('invalid-path');
  });

  it('splitPathVersion matches SplitPathVersion', () => {
    const diffs = rows.filter((r) => {
      const s = splitPathVersion(r.path as string);
      return s.prefix !== r.prefix || s.pathMajor !== r.pathMajor || s.ok !== r.ok;
    });
    expect(diffs.map((r) => ({ go: r, ts: splitPathVersion(r.path as string) }))).toEqual([]);
  });

  it('treats a lone surrogate like Go treats invalid UTF-8', () => {
    // Go gets the raw byte 0xff; a JS string cannot hold that, a lone surrogate is the analogue.
    const go = gotool(['check-paths'], Buffer.from([0x61, 0x2f, 0xff, 0x0a])).trim();
    expect((JSON.parse(go) as Row).file).toMatch(/: invalid UTF-8$/);
    expect(attempt(() => checkFilePath('a/\ud800')).err).toMatch(/: invalid UTF-8$/);
  });
});

describe('escaping vs golang.org/x/mod/module', () => {
  it('escapePath matches EscapePath', () => {
    const rows = goLines('escape-paths', paths);
    const diffs = rows.filter((r) => {
      const ts = attempt(() => escapePath(r.path as string));
      return ts.err !== (r.escapeErr ?? '') || (ts.err === '' && ts.value !== r.escaped);
    });
    expect(diffs).toEqual([]);
    expect(escapePath('github.com/Azure/azure-sdk-for-go')).toBe(rows[2].escaped);
  });

  const escapedPaths = [
    ...paths.filter((p) => p !== '').map((p) => p.replace(/[A-Z]/g, (c) => '!' + c.toLowerCase())),
    'github.com/!azure/x', 'github.com/Azure/x', 'github.com/!Azure/x', 'github.com/!!azure', 'github.com/azure!', 'github.com/!1x',
    'github.com/a!', 'example.com/!', 'example.com/é', '!example.com/x', 'example.com/m/!v2', 'github.com/!google!cloud!platform/x',
  ];

  it('unescapePath matches UnescapePath, with invalid-escape / invalid-path codes', () => {
    const rows = goLines('unescape-paths', escapedPaths);
    const diffs = rows.filter((r) => {
      const ts = attempt(() => unescapePath(r.escaped as string));
      return ts.err !== r.err || (ts.err === '' && ts.value !== r.path);
    });
    expect(diffs.map((r) => ({ go: r, ts: attempt(() => unescapePath(r.escaped as string)) }))).toEqual([]);
    for (const r of rows.filter((x) => x.err !== '')) {
      const ts = attempt(() => unescapePath(r.escaped as string));
      // Go says "invalid escaped module path %q" alone for a bad escape, adds ": why" for a bad path.
      expect(ts.code).toBe((r.err as string).includes(': malformed module path') ? 'invalid-path' : 'invalid-escape');
    }
    expect(rows.filter((r) => r.err === '').length).toBeGreaterThan(10);
  });

  const versions = [
    'v1.0.0', 'v1.0.0-RC1', 'v1.0.0-rc1', 'v2.0.0+incompatible', 'v1.2.3-Beta.X+Meta', 'master', 'Master', 'v1.0.0!', 'v1!a',
    '', '.', '..', 'v1.0.0.', 'a/b', 'v1.0.0 x', 'CON', 'con.v1', 'v1~1', 'v1.0.0-é', 'v1.0.0-É', 'v1.0.0@x', 'v1:0',
    'v0.0.0-20200101000000-ABCDEF123456',
  ];

  it('escapeVersion matches EscapeVersion', () => {
    const rows = goLines('escape-versions', versions);
    const diffs = rows.filter((r) => {
      const ts = attempt(() => escapeVersion(r.version as string));
      return ts.err !== r.escapeErr || (ts.err === '' && ts.value !== r.escaped);
    });
    expect(diffs.map((r) => ({ go: r, ts: attempt(() => escapeVersion(r.version as string)) }))).toEqual([]);
    expect(attempt(() => escapeVersion('v1!a')).code).toBe('invalid-version');
  });

  it('unescapeVersion matches UnescapeVersion', () => {
    const escaped = [...versions.filter((v) => v !== ''), 'v1.0.0-!r!c1', 'v1.0.0-!R', 'v1.0.0-!', '!', 'v1.0.0-!!a', '!master', 'v1/!x', '!con'];
    const rows = goLines('unescape-versions', escaped);
    const diffs = rows.filter((r) => {
      const ts = attempt(() => unescapeVersion(r.escaped as string));
      return ts.err !== r.err || (ts.err === '' && ts.value !== r.version);
    });
    expect(diffs.map((r) => ({ go: r, ts: attempt(() => unescapeVersion(r.escaped as string)) }))).toEqual([]);
    expect(attempt(() => unescapeVersion('v1.0.0-!R')).code).toBe('invalid-escape');
    expect(attempt(() => unescapeVersion('a/b')).code).toBe('invalid-version');
  });
});

describe('module path + version pairs vs module.Check', () => {
  const modPaths = ['example.com/m', 'example.com/m/v2', 'example.com/m/v3', 'gopkg.in/yaml.v1', 'gopkg.in/yaml.v2', 'gopkg.in/yaml.v0', 'gopkg.in/check.v1-unstable', 'foo', 'example.com/m/v1'];
  const vers = [
    'v0.1.0', 'v1.0.0', 'v1.2', 'v1', 'v2.0.0', 'v2.1.0-pre', 'v3.0.0', 'v1.0.0+incompatible', 'v2.0.0+incompatible', 'v2.0.0+meta',
    'v3.0.0+incompatible', 'v0.0.0-20200101000000-abcdefabcdef', 'v2.0.1-0.20200101000000-abcdefabcdef+incompatible',
    'v2.0.0-20200101000000-abcdefabcdef', 'v1.0.0-rc.1', '1.0.0', 'v1.0.0+incompatible+x', 'latest', 'v2.0+incompatible', '',
  ];
  const pairs = modPaths.flatMap((p) => vers.map((v) => `${p} ${v}`));
  let rows: Row[];
  beforeAll(() => {
    rows = goLines('check-module', pairs);
  });

  it('checkModule matches module.Check', () => {
    const diffs = rows.filter((r) => attempt(() => checkModule(r.path as string, r.version as string)).err !== r.check);
    expect(diffs.map((r) => ({ go: r.check, ts: attempt(() => checkModule(r.path as string, r.version as string)).err }))).toEqual([]);
  });

  it('checkModuleVersion matches the canonical + incompatible rules of modfetch', () => {
    const diffs = rows.filter((r) => attempt(() => checkModuleVersion(r.path as string, r.version as string)).err !== r.strict);
    expect(diffs.map((r) => ({ go: r.strict, ts: attempt(() => checkModuleVersion(r.path as string, r.version as string)).err }))).toEqual([]);
    expect(rows.filter((r) => r.strict === '').map((r) => `${r.path}@${r.version}`)).toEqual(
      expect.arrayContaining(['example.com/m@v2.0.0+incompatible', 'example.com/m/v2@v2.1.0-pre', 'gopkg.in/yaml.v1@v0.0.0-20200101000000-abcdefabcdef']),
    );
    expect(attempt(() => checkModuleVersion('example.com/m', 'v1.0.0+incompatible')).code).toBe('invalid-version');
    expect(attempt(() => checkModuleVersion('foo', 'v1.0.0')).code).toBe('invalid-path');
  });

  it('checkPathMajor and matchPathMajor match CheckPathMajor and MatchPathMajor', () => {
    const diffs = rows.filter((r) => {
      const pm = splitPathVersion(r.path as string).pathMajor;
      return attempt(() => checkPathMajor(r.version as string, pm)).err !== r.pathMajor || matchPathMajor(r.version as string, pm) !== r.match;
    });
    expect(diffs).toEqual([]);
  });
});

describe('foldPath vs zip.strToFold (unicode.SimpleFold orbits)', () => {
  let orbit: Map<number, number>;
  let letters: Array<[number, number]>;
  beforeAll(() => {
    const go = JSON.parse(gotool(['fold-classes'])) as { orbit: Record<string, number>; letters: Array<[number, number]> };
    orbit = new Map(Object.entries(go.orbit).map(([k, v]) => [Number(k), v]));
    letters = go.letters;
  });

  it('lower-cases ASCII like strToFold', () => {
    expect(foldPath('Example.com/M/Go.MOD')).toBe('example.com/m/go.mod');
    expect(foldPath('a/b.go')).toBe('a/b.go');
  });

  it('induces exactly the fold classes of Go on every letter and fold partner Go knows', () => {
    // Compare equivalence classes, not representatives: Node's Unicode is newer than Go 1.19's.
    const domain = new Set<number>(orbit.keys());
    for (const [lo, hi] of letters) for (let r = lo; r <= hi; r++) domain.add(r);
    const goKey = (r: number) => orbit.get(r) ?? r;
    const goToTs = new Map<number, string>();
    const tsToGo = new Map<string, number>();
    const bad: string[] = [];
    for (const r of domain) {
      const ts = foldPath(String.fromCodePoint(r));
      const g = goKey(r);
      if ((goToTs.get(g) ?? ts) !== ts || (tsToGo.get(ts) ?? g) !== g) bad.push(`U+${r.toString(16)}`);
      goToTs.set(g, ts);
      tsToGo.set(ts, g);
    }
    expect(bad).toEqual([]);
    expect(domain.size).toBeGreaterThan(100000);
  });

  it('folds whole paths so EqualFold-equal names collide', () => {
    expect(foldPath('x/\u212aelvin')).toBe(foldPath('X/kelvin'));
    expect(foldPath('ſ.go')).toBe(foldPath('S.go'));
    expect(foldPath('ı')).not.toBe(foldPath('i'));
  });
});
