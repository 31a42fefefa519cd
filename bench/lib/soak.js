'use strict';
/**
 * The soak section's helpers: a small module graph in GOPROXY layout (built
 * by test/support/gotool `build-tree`, i.e. golang.org/x/mod: zips and
 * hashes exactly as the go command expects, like test/support/module-tree.ts),
 * one fresh go client build against ModGate, and a VmRSS timeline of a
 * process tree.
 */

const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { rssBytes, treePids } = require('./procfs');

const ROOT = path.resolve(__dirname, '..', '..');
const GOTOOL_DIR = path.join(ROOT, 'test/support/gotool');
const GOTOOL_BIN = path.join(GOTOOL_DIR, 'bin', 'gotool');
const GO = process.env.BENCH_GO || 'go';

/** test/support/gotool/bin/gotool, built (GOPATH mode, as test/support/gotool.ts does) when a source is newer. */
function gotoolPath() {
  const newest = Math.max(...fs.readdirSync(GOTOOL_DIR).filter((f) => f.endsWith('.go')).map((f) => fs.statSync(path.join(GOTOOL_DIR, f)).mtimeMs));
  if (!fs.existsSync(GOTOOL_BIN) || fs.statSync(GOTOOL_BIN).mtimeMs < newest) {
    fs.mkdirSync(path.dirname(GOTOOL_BIN), { recursive: true });
    const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', CGO_ENABLED: '0', GOCACHE: path.join(GOTOOL_DIR, 'bin', '.cache') };
    execFileSync(GO, ['build', '-o', GOTOOL_BIN, '.'], { cwd: GOTOOL_DIR, env, stdio: 'pipe' });
  }
  return GOTOOL_BIN;
}

const goMod = (p, rest = '') => `module ${p}\n\ngo 1.19\n${rest}`;
const day = (month, d) => `2023-${String(month).padStart(2, '0')}-${String(d).padStart(2, '0')}T10:00:00Z`;

/**
 * The graph (a subset of test/support/module-tree.ts standardUpstreamSpecs()):
 * a v1 module and its /v2, a path with upper case (escaped !corp/!thing) and a
 * nested package, a legacy module without go.mod (+incompatible), and one
 * that requires another (MVS picks lib v1.2.0 over the main module's v1.1.0).
 */
function soakSpecs() {
  const specs = [];
  const add = (p, version, time, files, noGoMod = false) => specs.push({ path: p, version, time, files, ...(noGoMod ? { noGoMod } : {}) });
  ['v1.0.0', 'v1.1.0', 'v1.2.0'].forEach((v, i) =>
    add('example.org/lib', v, day(1 + i, 10), {
      'go.mod': goMod('example.org/lib'),
      'lib.go': `// Package lib is a plain v1 module.\npackage lib\n\nconst Version = "${v}"\n\n// Hello names the module and version.\nfunc Hello() string { return "hello from example.org/lib " + Version }\n`,
    }),
  );
  ['v2.0.0', 'v2.1.0'].forEach((v, i) =>
    add('example.org/lib/v2', v, day(5 + i, 1), {
      'go.mod': goMod('example.org/lib/v2'),
      'lib.go': `// Package lib is the /v2 major version of example.org/lib.\npackage lib\n\nconst Version = "${v}"\n\n// Hello greets name.\nfunc Hello(name string) string { return "hello " + name + " from example.org/lib/v2 " + Version }\n`,
    }),
  );
  ['v1.0.0', 'v1.1.0'].forEach((v, i) =>
    add('github.com/Corp/Thing', v, day(2, 1 + i), {
      'go.mod': goMod('github.com/Corp/Thing'),
      'thing.go': `// Package thing lives at a path with upper-case letters.\npackage thing\n\nconst Version = "${v}"\n\n// Name identifies the thing.\nfunc Name() string { return "Thing " + Version }\n`,
      'parts/parts.go': `// Package parts is a nested package.\npackage parts\n\n// Count returns how many parts there are.\nfunc Count() int { return ${i + 3} }\n`,
    }),
  );
  ['v1.0.0', 'v2.1.0+incompatible'].forEach((v, i) =>
    add('example.com/legacy', v, day(3, 1 + i), {
      'legacy.go': `// Package legacy predates modules: no go.mod, so v2+ is +incompatible.\npackage legacy\n\nconst Version = "${v}"\n\n// Old reports the version.\nfunc Old() string { return "legacy " + Version }\n`,
    }, true),
  );
  [['v1.0.0', 'v1.1.0'], ['v1.1.0', 'v1.2.0']].forEach(([v, libV], i) =>
    add('example.com/greet', v, day(6, 1 + i), {
      'go.mod': goMod('example.com/greet', `\nrequire example.org/lib ${libV}\n`),
      'greet.go': `// Package greet imports example.org/lib.\npackage greet\n\nimport "example.org/lib"\n\nconst Version = "${v}"\n\n// Greeting greets name through lib.\nfunc Greeting(name string) string { return lib.Hello() + ", " + name }\n`,
    }),
  );
  return specs;
}

/** The client's main module: go.mod (lib at v1.1.0: greet raises it) and main.go, and what the program must print. */
const SOAK_APP = {
  files: {
    'go.mod': goMod('example.com/soakapp', `\nrequire (\n\texample.com/greet v1.1.0\n\texample.com/legacy v2.1.0+incompatible\n\texample.org/lib v1.1.0\n\texample.org/lib/v2 v2.1.0\n\tgithub.com/Corp/Thing v1.1.0\n)\n`),
    'main.go': `package main

import (
	"fmt"

	"example.com/greet"
	"example.com/legacy"
	"example.org/lib"
	libv2 "example.org/lib/v2"
	"github.com/Corp/Thing"
	"github.com/Corp/Thing/parts"
)

func main() {
	fmt.Println(lib.Hello())
	fmt.Println(libv2.Hello("soak"))
	fmt.Println(thing.Name(), parts.Count())
	fmt.Println(greet.Greeting("soak"))
	fmt.Println(legacy.Old())
}
`,
  },
  output: 'hello from example.org/lib v1.2.0\nhello soak from example.org/lib/v2 v2.1.0\nThing v1.1.0 4\nhello from example.org/lib v1.2.0, soak\nlegacy v2.1.0+incompatible\n',
};

/** Writes the graph into outDir (GOPROXY layout); returns the versions built. */
function buildSoakTree(outDir, workDir) {
  const specFile = path.join(workDir, 'soak-spec.json');
  fs.writeFileSync(specFile, JSON.stringify(soakSpecs()));
  return new Promise((resolve, reject) => {
    execFile(gotoolPath(), ['build-tree', specFile, outDir], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      fs.rmSync(specFile, { force: true });
      if (err) reject(new Error(`gotool build-tree: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/**
 * One fresh go client: its own HOME, GOPATH, GOMODCACHE, GOCACHE and GOTMPDIR
 * in a new temp dir under `parent`, an environment built from scratch
 * (GOPROXY=goproxy, GOSUMDB=off, GOFLAGS=-mod=mod -modcacherw: the module
 * cache stays removable, GOTOOLCHAIN=local, GOWORK=off); `go mod download all`,
 * `go build -o app .`, then the program runs and must print SOAK_APP.output.
 * The temp dir is removed whatever happens. `spawnGo(args, opts)` starts a
 * child (the caller tracks it for cleanup). Resolves { ok, ms, steps, error }.
 */
async function goClientBuild({ goproxy, parent, label, timeoutMs, spawnGo }) {
  const root = fs.mkdtempSync(path.join(parent, `${label}-`));
  const dirs = { home: path.join(root, 'home'), gopath: path.join(root, 'gopath'), gocache: path.join(root, 'gocache'), gotmp: path.join(root, 'tmp'), work: path.join(root, 'work') };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  for (const [name, text] of Object.entries(SOAK_APP.files)) fs.writeFileSync(path.join(dirs.work, name), text);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dirs.home,
    GOPATH: dirs.gopath,
    GOMODCACHE: path.join(dirs.gopath, 'pkg', 'mod'),
    GOCACHE: dirs.gocache,
    GOTMPDIR: dirs.gotmp,
    GO111MODULE: 'on',
    GOFLAGS: '-mod=mod -modcacherw',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
    GOPROXY: goproxy,
    GOSUMDB: 'off',
    GIT_TERMINAL_PROMPT: '0',
  };
  const started = Date.now();
  const steps = [];
  const run = async (cmd, args) => {
    const t0 = Date.now();
    const r = await runChild(cmd, args, { cwd: dirs.work, env, timeoutMs, spawnGo });
    steps.push({ step: [path.basename(cmd), ...args].join(' '), ms: Date.now() - t0, code: r.code });
    if (r.code !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')}: ${r.timedOut ? `killed after ${timeoutMs / 1000} s` : `exit ${r.code}`}: ${(r.stderr || r.stdout).trim().split('\n').slice(-8).join(' | ')}`);
    return r;
  };
  try {
    await run(GO, ['mod', 'download', 'all']);
    await run(GO, ['build', '-o', 'app', '.']);
    const out = await run(path.join(dirs.work, 'app'), []);
    if (out.stdout !== SOAK_APP.output) throw new Error(`the program printed ${JSON.stringify(out.stdout)}, want ${JSON.stringify(SOAK_APP.output)}`);
    return { ok: true, ms: Date.now() - started, steps, error: null };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, steps, error: err.message };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function runChild(cmd, args, { cwd, env, timeoutMs, spawnGo }) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawnGo(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      resolve({ code: -1, stdout: '', stderr: err.message, timedOut: false });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
    const t = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(t);
      resolve({ code: -1, stdout, stderr: err.message, timedOut });
    });
    child.once('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, timedOut });
    });
  });
}

/**
 * VmRSS of every process of the tree rooted at rootPid (the pids alive at the
 * start: a primary and its workers) every intervalMs. `stop()` returns the
 * samples [{ s, treeBytes, perPid: { pid: bytes } }] (s: seconds since the start).
 */
function startRssTimeline(rootPid, intervalMs) {
  const pids = treePids(rootPid);
  const t0 = Date.now();
  const samples = [];
  const sample = () => {
    const perPid = {};
    let tree = 0;
    let all = true;
    for (const pid of pids) {
      const b = rssBytes(pid);
      if (b == null) all = false;
      else tree += b;
      perPid[pid] = b;
    }
    samples.push({ s: (Date.now() - t0) / 1000, treeBytes: all ? tree : null, perPid });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    pids,
    sample,
    stop() {
      clearInterval(timer);
      sample();
      return samples;
    },
  };
}

/** Least-squares slope of y over x (units of y per unit of x), or null with fewer than 3 points. */
function slope(points) {
  const p = points.filter(([x, y]) => x != null && y != null);
  if (p.length < 3) return null;
  const n = p.length;
  const mx = p.reduce((a, [x]) => a + x, 0) / n;
  const my = p.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of p) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : null;
}

module.exports = { buildSoakTree, goClientBuild, startRssTimeline, slope, soakSpecs, SOAK_APP, gotoolPath, GO };
