// Starts ModGate as a real process (the built server, or `npm start`) and
// waits until it answers; collects its output for assertions.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { httpCall, type HttpReply } from './http';

export const REPO_ROOT = join(__dirname, '..', '..');
export const SERVER_MAIN = join(REPO_ROOT, 'dist', 'apps', 'registry', 'src', 'main.js');

export interface RegistryProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Sends a signal and waits for the exit; returns code and signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  readonly env: Record<string, string>;
  /** `npm` runs `npm start` (build + start) as a user would; `node` runs the built server. */
  readonly via?: 'npm' | 'node';
  readonly timeoutMs?: number;
}

export async function startRegistryProcess(opts: StartOptions): Promise<RegistryProcess> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: '0', HOST: '127.0.0.1', ...opts.env };
  const [cmd, args] = opts.via === 'npm' ? ['npm', ['start', '--silent']] : [process.execPath, [SERVER_MAIN]];
  // A process group of its own, so a signal reaches npm, its shell and the server alike.
  const child = spawn(cmd, args as string[], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ModGate did not start within ${opts.timeoutMs ?? 120000} ms:\n${out}`)), opts.timeoutMs ?? 120000);
    const poll = setInterval(() => {
      const m = /ModGate is listening on (\S+)/.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(m[1]);
      }
    }, 50);
    void exited.then(({ code, signal }) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`ModGate exited early (code ${code}, signal ${signal}):\n${out}`));
    });
  });

  return {
    child,
    url,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        // Under npm, signal the server itself (as a supervisor would); npm
        // then exits with the server's status.
        const pid = opts.via === 'npm' ? Number(/"pid":(\d+)[^\n]*"msg":"modgate started"/.exec(out)?.[1]) : child.pid!;
        if (pid) process.kill(pid, signal);
        else process.kill(-child.pid!, signal);
      }
      return exited;
    },
  };
}

/** Polls a URL until it answers 200 (https: any certificate; this only probes readiness). */
export async function waitFor200(url: string, timeoutMs = 60000): Promise<HttpReply> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await httpCall(url, { insecure: true });
      if (r.status === 200) return r;
      last = `${r.status} ${r.text}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} never answered 200 (last: ${last})`);
}
