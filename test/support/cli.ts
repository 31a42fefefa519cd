// Runs the built `modgate` CLI (dist/apps/cli/src/main.js) as a process, the
// way a user or CI job would, and collects its output and exit code.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './registry-process';

export const CLI_MAIN = join(REPO_ROOT, 'dist', 'apps', 'cli', 'src', 'main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Added to a minimal environment (PATH, HOME). */
  readonly env?: Record<string, string>;
  /** Write stdout to this file instead of collecting it. */
  readonly stdoutFile?: string;
  readonly timeoutMs?: number;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...opts.env };
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const file = opts.stdoutFile ? createWriteStream(opts.stdoutFile) : null;
  const written = file ? new Promise<void>((resolve, reject) => file.once('finish', () => resolve()).once('error', reject)) : Promise.resolve();
  if (file) child.stdout.pipe(file);
  else child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`modgate ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 120000} ms\n${stdout}${stderr}`));
    }, opts.timeoutMs ?? 120000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      written.then(() => resolve({ code, stdout, stderr }), reject);
    });
  });
}
