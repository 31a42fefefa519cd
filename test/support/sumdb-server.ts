// A local checksum database for a module-tree.ts directory: golang.org/x/mod's
// sumdb test server (real signed tree heads and tiles) run by
// `gotool sumdb-server`. It hashes the tree when it starts and keeps those
// answers, like sum.golang.org, so a zip tampered with later is caught.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { gotoolPath } from './gotool';

export interface Sumdb {
  /** Base URL: /lookup/<path>@<version>, /tile/..., /latest hang off it. */
  url: string;
  /** Database name, sum.modgate.test. */
  name: string;
  /** Verifier key: GOSUMDB=<vkey> makes the go command use it via the proxy's /sumdb/<name>/. */
  vkey: string;
  /** GOSUMDB value that makes the go command talk to this server directly. */
  gosumdb: string;
  /** Paths requested so far, in order, e.g. /lookup/github.com/!corp/!thing@v1.0.0. */
  requests: string[];
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

export async function startSumdb(dir: string): Promise<Sumdb> {
  // stdin stays an open pipe: the server exits when it closes, so it cannot
  // outlive this process even if a test run crashes.
  const child = spawn(gotoolPath(), ['sumdb-server', '127.0.0.1:0', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const requests: string[] = [];

  // First stdout line is {addr, name, vkey}; each later line is one request,
  // written before the server answers it.
  const ready = await new Promise<{ addr: string; name: string; vkey: string }>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`sumdb-server not ready after ${READY_TIMEOUT_MS}ms: ${stderr}`)), READY_TIMEOUT_MS);
    let first = true;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { addr?: string; name?: string; vkey?: string; path?: string };
      if (first) {
        first = false;
        clearTimeout(timer);
        ok(msg as { addr: string; name: string; vkey: string });
      } else if (msg.path !== undefined) {
        requests.push(msg.path);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`sumdb-server exited: ${stderr}`));
    });
  });

  const url = `http://${ready.addr}`;
  return {
    url,
    name: ready.name,
    vkey: ready.vkey,
    gosumdb: `${ready.vkey} ${url}`,
    requests,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
