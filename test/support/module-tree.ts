// Builds GOPROXY-layout directories (<escaped path>/@v/{list,.info,.mod,.zip})
// from module specs. The zips and hashes come from golang.org/x/mod through
// `gotool build-tree`, so they are byte for byte what the go command expects;
// test/support/upstream-server.ts serves such a directory.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gotool, gotoolPath } from './gotool';

const execFileP = promisify(execFile);

/** One module version to publish upstream. */
export interface ModuleSpec {
  path: string;
  /** Canonical version, e.g. v1.3.0-rc.1 or v2.0.0+incompatible. */
  version: string;
  /** RFC 3339 time for the .info file; a fixed 2023 date when absent. */
  time?: string;
  /** Module files by slash path. Without a go.mod (and without noGoMod),
   *  build-tree adds `module <path>\n\ngo 1.19\n`. */
  files: Record<string, string>;
  /** A legacy module without go.mod: the .mod endpoint serves `module <path>\n`.
   *  Required for +incompatible versions. */
  noGoMod?: boolean;
}

/** A version as built, with the go.sum hashes the go command will compute. */
export interface BuiltVersion {
  path: string;
  version: string;
  /** go.sum hash of the zip: `<path> <version> h1:...` */
  zipH1: string;
  /** go.sum hash of the .mod: `<path> <version>/go.mod h1:...` */
  modH1: string;
  zipFile: string;
  modFile: string;
}

export interface ModuleTree {
  dir: string;
  versions: BuiltVersion[];
  /** Removes dir (whoever created it). */
  cleanup(): void;
}

/**
 * Writes specs into outDir (a new temp dir by default). Running it again on
 * the same dir adds versions and merges each @v/list, like a new release.
 */
export async function buildModuleTree(specs: ModuleSpec[], outDir?: string): Promise<ModuleTree> {
  const dir = outDir ?? mkdtempSync(join(tmpdir(), 'modgate-tree-'));
  const specDir = mkdtempSync(join(tmpdir(), 'modgate-spec-'));
  try {
    const specFile = join(specDir, 'spec.json');
    writeFileSync(specFile, JSON.stringify(specs));
    const { stdout } = await execFileP(gotoolPath(), ['build-tree', specFile, dir], { maxBuffer: 64 * 1024 * 1024 });
    const versions = JSON.parse(stdout) as BuiltVersion[];
    return { dir, versions, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } finally {
    rmSync(specDir, { recursive: true, force: true });
  }
}

/** go.sum lines (module.Sort order) for every .zip and .mod now in dir. */
export function gosumLines(dir: string): string[] {
  return gotool(['gosum-lines', dir]).split('\n').filter((l) => l !== '');
}

/** The built version, or an error naming what the test asked for. */
export function findVersion(tree: Pick<ModuleTree, 'versions'>, path: string, version: string): BuiltVersion {
  const v = tree.versions.find((x) => x.path === path && x.version === version);
  if (!v) throw new Error(`module tree has no ${path}@${version}`);
  return v;
}

/** Module paths (and one package path) of standardUpstreamSpecs(). */
export const STD = {
  /** v1.0.0 v1.1.0 v1.2.0 v1.3.0-rc.1 */
  lib: 'example.org/lib',
  /** v2.0.0 v2.1.0; major-version suffix */
  libV2: 'example.org/lib/v2',
  /** v0.9.0 v1.0.0 v1.1.0; upper case, escaped as github.com/!corp/!thing */
  thing: 'github.com/Corp/Thing',
  /** a package (not a module) inside github.com/Corp/Thing */
  thingParts: 'github.com/Corp/Thing/parts',
  /** v1.0.0 v2.0.0+incompatible v2.1.0+incompatible; no go.mod anywhere */
  legacy: 'example.com/legacy',
  /** v1.0.0 v1.1.0 v1.2.0; v1.2.0 is deprecated and retracts v1.1.0 */
  old: 'example.com/old',
  /** v1.0.0 (needs lib v1.1.0) v1.1.0 (needs lib v1.2.0); imports lib */
  greet: 'example.com/greet',
} as const;

export const STD_OLD_RETRACT_REASON = 'contains a data race';
export const STD_OLD_DEPRECATION = 'use example.org/lib/v2 instead';

const goMod = (path: string, rest = ''): string => `module ${path}\n\ngo 1.19\n${rest}`;
const day = (month: number, d: number): string => `2023-${String(month).padStart(2, '0')}-${String(d).padStart(2, '0')}T10:00:00Z`;

/**
 * An upstream graph with the cases the go command treats specially. Every
 * module is real Go that compiles with Go 1.19; each package has a `Version`
 * constant so a built program shows which versions it linked.
 */
export function standardUpstreamSpecs(): ModuleSpec[] {
  const specs: ModuleSpec[] = [];
  const add = (path: string, version: string, time: string, files: Record<string, string>, noGoMod = false): void => {
    specs.push({ path, version, time, files, ...(noGoMod ? { noGoMod } : {}) });
  };

  ['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.3.0-rc.1'].forEach((v, i) =>
    add(STD.lib, v, day(1 + i, 10), {
      'go.mod': goMod(STD.lib),
      'lib.go': `// Package lib is a plain v1 module.\npackage lib\n\n// Version is the version this copy was published as.\nconst Version = "${v}"\n\n// Hello names the module and version.\nfunc Hello() string { return "hello from example.org/lib " + Version }\n`,
    }),
  );

  ['v2.0.0', 'v2.1.0'].forEach((v, i) =>
    add(STD.libV2, v, day(5 + i, 1), {
      'go.mod': goMod(STD.libV2),
      'lib.go': `// Package lib is the /v2 major version of example.org/lib.\npackage lib\n\nconst Version = "${v}"\n\n// Hello greets name.\nfunc Hello(name string) string { return "hello " + name + " from example.org/lib/v2 " + Version }\n`,
    }),
  );

  ['v0.9.0', 'v1.0.0', 'v1.1.0'].forEach((v, i) =>
    add(STD.thing, v, day(2, 1 + i), {
      'go.mod': goMod(STD.thing),
      'thing.go': `// Package thing lives at a path with upper-case letters.\npackage thing\n\nconst Version = "${v}"\n\n// Name identifies the thing.\nfunc Name() string { return "Thing " + Version }\n`,
      'parts/parts.go': `// Package parts is a nested package, so resolving it probes several module paths.\npackage parts\n\n// Count returns how many parts there are.\nfunc Count() int { return ${i + 3} }\n`,
    }),
  );

  ['v1.0.0', 'v2.0.0+incompatible', 'v2.1.0+incompatible'].forEach((v, i) =>
    add(STD.legacy, v, day(3, 1 + i), {
      'legacy.go': `// Package legacy predates modules: no go.mod, so v2+ is +incompatible.\npackage legacy\n\nconst Version = "${v}"\n\n// Old reports the version.\nfunc Old() string { return "legacy " + Version }\n`,
    }, true),
  );

  ['v1.0.0', 'v1.1.0', 'v1.2.0'].forEach((v, i) => {
    // The go command reads retractions and deprecation from the latest
    // version's go.mod, so only v1.2.0 carries them.
    const mod = v === 'v1.2.0'
      ? `// Deprecated: ${STD_OLD_DEPRECATION}\nmodule ${STD.old}\n\ngo 1.19\n\nretract v1.1.0 // ${STD_OLD_RETRACT_REASON}\n`
      : goMod(STD.old);
    add(STD.old, v, day(4, 1 + i), {
      'go.mod': mod,
      'old.go': `// Package old is deprecated.\npackage old\n\nconst Version = "${v}"\n\n// Answer is what old modules return.\nfunc Answer() int { return 42 }\n`,
    });
  });

  [['v1.0.0', 'v1.1.0'], ['v1.1.0', 'v1.2.0']].forEach(([v, libV], i) =>
    add(STD.greet, v, day(6, 1 + i), {
      'go.mod': goMod(STD.greet, `\nrequire ${STD.lib} ${libV}\n`),
      'greet.go': `// Package greet imports example.org/lib, so building it needs both modules.\npackage greet\n\nimport "${STD.lib}"\n\nconst Version = "${v}"\n\n// Greeting greets name through lib.\nfunc Greeting(name string) string { return lib.Hello() + ", " + name }\n`,
    }),
  );

  return specs;
}
