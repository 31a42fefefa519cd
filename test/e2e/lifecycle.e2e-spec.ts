// A supervisor that signals `npm start` (npm alone, not its process group)
// must stop everything it started: the server and its embedded PostgreSQL.
// Also when npm itself is killed hard: the server notices its parent is gone.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { startRegistryProcess, waitFor200, type RegistryProcess } from '../support/registry-process';
import { tempDir } from '../support/zips';

const dirs: string[] = [];
const running: RegistryProcess[] = [];

afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL').catch(() => undefined);
  for (const d of dirs) {
    // Whatever a failed run left, never keep a database of ours running.
    try {
      execFileSync('pkill', ['-KILL', '-f', d]);
    } catch {
      // nothing left
    }
    await rm(d, { recursive: true, force: true });
  }
});

/** Pids of processes whose command line mentions the text (the data dir). */
function pidsWith(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', text]).toString().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return cond();
}

it.each([
  ['SIGTERM to npm: a clean stop of the server and its embedded PostgreSQL', 'SIGTERM'],
  ['SIGKILL of npm: the orphaned server stops itself and its PostgreSQL', 'SIGKILL'],
] as const)('%s', async (_name, signal) => {
  const dataDir = tempDir('lifecycle');
  dirs.push(dataDir);
  const proc = await startRegistryProcess({ env: { MODGATE_DATA_DIR: dataDir, MODGATE_UPSTREAMS: 'off', MODGATE_LOG_LEVEL: 'info' }, via: 'npm', timeoutMs: 180000 });
  running.push(proc);
  await waitFor200(`${proc.url}/readyz`);
  const server = Number(/"pid":(\d+)[^\n]*"msg":"modgate started"/.exec(proc.output())?.[1]);
  const postgres = pidsWith(dataDir).filter((p) => p !== server);
  expect(server).toBeGreaterThan(0);
  expect(postgres.length).toBeGreaterThan(0);

  process.kill(proc.child.pid!, signal); // npm's pid only, as a supervisor would
  expect(await until(() => !alive(server), 30000)).toBe(true);
  expect(await until(() => postgres.every((p) => !alive(p)), 30000)).toBe(true);
  expect(proc.output()).toContain('"msg":"stopped"');
  expect(pidsWith(dataDir)).toEqual([]);
}, 240000);
