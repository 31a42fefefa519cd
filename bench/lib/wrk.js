'use strict';
/** wrk: run it (as a tracked child of the bench) and parse its text output. */

const { spawn } = require('node:child_process');

/**
 * One wrk run; resolves with its stdout. `headers` are extra request
 * headers ({ name: value }); `script` a Lua script (-s: e.g. one that cycles
 * through many paths, see negative.js); `track(name, child)` registers the
 * child for cleanup. Killed and rejected if it overruns by 30 s.
 */
function runWrk({ url, threads, connections, seconds, timeout, headers = {}, script = null }, track) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', '--timeout', timeout];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (script) args.push('-s', script);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = track(spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wrk did not finish within ${seconds + 30} s`));
    }, (seconds + 30) * 1000);
    child.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      if (code !== 0) reject(new Error(`wrk exited with code ${code}: ${err || out}`));
      else resolve(out);
    });
  });
}

const TIME_UNITS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const BYTE_UNITS = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** Parses wrk's text output (units as wrk prints them: binary byte units). */
function parseWrk(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : null;
  };
  const time = (pct) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * TIME_UNITS[m[2]] : null;
  };
  const tr = /Transfer\/sec:\s+([\d.]+)([KMGT]?B)/.exec(out);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    transferPerSec: tr ? Number(tr[1]) * BYTE_UNITS[tr[2]] : null,
    requests: num(/(\d+) requests in /),
    p50Ms: time(50),
    p99Ms: time(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    socketErrors: se ? { connect: +se[1], read: +se[2], write: +se[3], timeout: +se[4] } : null,
  };
}

module.exports = { runWrk, parseWrk };
