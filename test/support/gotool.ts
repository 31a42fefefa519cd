// Builds and runs test/support/gotool, the Go program that answers with the
// real golang.org/x/mod implementation. Built once per machine into bin/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, 'gotool');
const bin = join(dir, 'bin', 'gotool');

export const goEnvForHelper = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', CGO_ENABLED: '0' };

function newestSource(): number {
  return Math.max(...readdirSync(dir).filter((f) => f.endsWith('.go')).map((f) => statSync(join(dir, f)).mtimeMs));
}

/** Path of the built helper, building it when a source is newer than the binary. */
export function gotoolPath(): string {
  if (!existsSync(bin) || statSync(bin).mtimeMs < newestSource()) {
    mkdirSync(join(dir, 'bin'), { recursive: true });
    execFileSync('go', ['build', '-o', bin, '.'], { cwd: dir, env: { ...goEnvForHelper, GOCACHE: join(dir, 'bin', '.cache') }, stdio: 'pipe' });
  }
  return bin;
}

/** Runs a gotool command; returns stdout. Throws with stderr on failure. */
export function gotool(args: string[], input?: Buffer | string): string {
  const r = spawnSync(gotoolPath(), args, { input, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`gotool ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Runs a gotool command that may fail; returns status, stdout and stderr. */
export function gotoolTry(args: string[], input?: Buffer | string): { ok: boolean; out: string; err: string } {
  const r = spawnSync(gotoolPath(), args, { input, maxBuffer: 256 * 1024 * 1024 });
  return { ok: r.status === 0, out: r.stdout.toString(), err: r.stderr.toString() };
}
