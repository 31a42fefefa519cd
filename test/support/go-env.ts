// Runs the real go command in a sealed environment: its own HOME, GOPATH,
// module cache and build cache in a temp dir, and an environment built from
// scratch so nothing from the developer's machine (GOPROXY, GOPRIVATE,
// GOFLAGS, proxies, ~/.netrc, ~/.config/go/env) changes what is tested.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

export interface GoEnvOptions {
  /** GOPROXY value, e.g. an upstream or ModGate URL. */
  goproxy: string;
  /** GOSUMDB value; 'off' when absent. */
  gosumdb?: string;
  gonosumdb?: string;
  /** Contents of $HOME/.netrc (written with mode 0600). */
  netrc?: string;
  /** PEM file of CAs to trust (Linux: SSL_CERT_FILE). */
  sslCertFile?: string;
  /** Set last; overrides anything above. */
  extra?: Record<string, string>;
}

export interface GoRunOptions {
  /** Working directory; the env's empty work dir by default. */
  cwd?: string;
  /** Resolve with a non-zero code instead of throwing. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export interface GoRunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GoEnv {
  root: string;
  home: string;
  gopath: string;
  modCache: string;
  /** Empty directory outside any module: the default cwd. */
  workDir: string;
  /** The complete environment the go command sees. */
  vars: Readonly<Record<string, string>>;
  run(args: string[], opts?: GoRunOptions): Promise<GoRunResult>;
  /** Writes a main module (go.mod defaults to `module <modPath>` + go 1.19); dir is relative to workDir unless absolute. Returns its absolute path. */
  writeModule(dir: string, modPath: string, files: Record<string, string>): string;
  cleanup(): void;
}

const DEFAULT_TIMEOUT_MS = 120_000;

export function makeGoEnv(opts: GoEnvOptions): GoEnv {
  const root = mkdtempSync(join(tmpdir(), 'modgate-goenv-'));
  const home = join(root, 'home');
  const gopath = join(root, 'gopath');
  const modCache = join(gopath, 'pkg', 'mod');
  const workDir = join(root, 'work');
  for (const d of [home, modCache, workDir]) mkdirSync(d, { recursive: true });

  const vars: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GOPATH: gopath,
    GOMODCACHE: modCache,
    GOCACHE: join(root, 'gocache'),
    GO111MODULE: 'on',
    GOFLAGS: '-mod=mod',
    // Go 1.21+ would otherwise try to download a toolchain through GOPROXY.
    GOTOOLCHAIN: 'local',
    // A stray go.work above the temp dir must not join the build.
    GOWORK: 'off',
    GOPROXY: opts.goproxy,
    GOSUMDB: opts.gosumdb ?? 'off',
    // No GOPRIVATE/GONOPROXY/GOINSECURE: every path goes through GOPROXY.
    // No VCS fallback either, and never block on a credential prompt.
    GIT_TERMINAL_PROMPT: '0',
  };
  if (opts.gonosumdb !== undefined) vars.GONOSUMDB = opts.gonosumdb;
  if (opts.netrc !== undefined) writeFileSync(join(home, '.netrc'), opts.netrc, { mode: 0o600 });
  if (opts.sslCertFile !== undefined) {
    vars.SSL_CERT_FILE = opts.sslCertFile;
    // An empty cert dir, so only the given CAs are trusted (Go also reads
    // the system cert directories unless SSL_CERT_DIR replaces them).
    vars.SSL_CERT_DIR = join(root, 'certs');
    mkdirSync(vars.SSL_CERT_DIR);
  }
  Object.assign(vars, opts.extra ?? {});

  return {
    root,
    home,
    gopath,
    modCache,
    workDir,
    vars,
    run: (args, runOpts = {}) => runGo(vars, args, runOpts.cwd ?? workDir, runOpts),
    writeModule: (dir, modPath, files) => {
      const abs = isAbsolute(dir) ? dir : join(workDir, dir);
      const all = { 'go.mod': `module ${modPath}\n\ngo 1.19\n`, ...files };
      for (const [rel, content] of Object.entries(all)) {
        mkdirSync(dirname(join(abs, rel)), { recursive: true });
        writeFileSync(join(abs, rel), content);
      }
      return abs;
    },
    cleanup: () => {
      // The module cache is read-only on purpose; make it writable to delete.
      if (existsSync(root)) execFileSync('chmod', ['-R', 'u+w', root]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function runGo(env: Record<string, string>, args: string[], cwd: string, opts: GoRunOptions): Promise<GoRunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((ok, fail) => {
    const child = spawn('go', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const what = `go ${args.join(' ')} (in ${cwd})`;
      if (timedOut) return fail(new Error(`${what} timed out after ${timeoutMs}ms\n${stderr}`));
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) return fail(new Error(`${what} exited ${result.code}:\n${stderr}`));
      ok(result);
    });
  });
}

/** go.sum lines of the module in dir (empty if it has no go.sum). */
export function readGoSum(dir: string): string[] {
  const file = join(dir, 'go.sum');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}
