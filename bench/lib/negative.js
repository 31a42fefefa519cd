'use strict';
/**
 * The negative-cache section's helpers: connections pinned to one ModGate
 * process each (the negative cache is per process, so each one is filled on
 * its own), that process's /metrics counters, and wrk Lua scripts that cycle
 * through many paths (and, for the warm-up, count the answers by status).
 *
 * Which process holds a connection: the server side of the socket (local
 * port = ModGate's, remote port = ours) is found in /proc/net/tcp{,6}; its
 * inode in the /proc/<pid>/fd of one of the candidate pids. Linux only.
 */

const fs = require('node:fs');
const http = require('node:http');

/** inode of the TCP socket localPort → remotePort (as seen by its owner), or null. */
function socketInode(localPort, remotePort) {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const lp = parseInt(f[1].split(':').pop(), 16);
      const rp = parseInt(f[2].split(':').pop(), 16);
      if (lp === localPort && rp === remotePort && f[9] !== '0') return f[9];
    }
  }
  return null;
}

/** Which of `pids` has the socket with this inode open, or null. */
function ownerOf(inode, pids) {
  const want = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds;
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return pid;
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return null;
}

/** GET through `agent` (keep-alive, one socket): status, body, and our socket's local port. */
function getVia(agent, url, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      const chunks = [];
      const localPort = res.socket?.localPort ?? null;
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), localPort }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * One keep-alive connection per serving process (`pids`: the workers, or the
 * single process): connections are opened (GET /readyz) until each process
 * holds one; the others are closed. Returns [{ pid, agent, localPort }].
 * Each request through `pin.get(path)` checks it still uses that connection.
 */
async function pinConnections(baseUrl, pids, { attempts = 16 * pids.length } = {}) {
  const serverPort = Number(new URL(baseUrl).port);
  const pins = new Map();
  for (let i = 0; i < attempts && pins.size < pids.length; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 1000 });
    let r;
    try {
      r = await getVia(agent, `${baseUrl}/readyz`);
    } catch (err) {
      agent.destroy();
      throw err;
    }
    const inode = r.localPort ? socketInode(serverPort, r.localPort) : null;
    const pid = inode ? ownerOf(inode, pids) : null;
    if (r.status !== 200 || pid == null || pins.has(pid)) {
      agent.destroy();
      continue;
    }
    const localPort = r.localPort;
    pins.set(pid, {
      pid,
      agent,
      localPort,
      async get(p) {
        const x = await getVia(agent, `${baseUrl}${p}`);
        if (x.localPort !== localPort) throw new Error(`the connection pinned to pid ${pid} was replaced (local port ${localPort} → ${x.localPort}): the server closed it`);
        return x;
      },
    });
  }
  if (pins.size < pids.length) {
    for (const p of pins.values()) p.agent.destroy();
    throw new Error(`could not pin a connection to each of the processes ${pids.join(', ')} (got ${[...pins.keys()].join(', ') || 'none'} in ${attempts} tries)`);
  }
  return [...pins.values()];
}

function unpin(pins) {
  for (const p of pins) p.agent.destroy();
}

/**
 * The read path's counters of the process behind `pin` (its own /metrics):
 * modgate_cache_lookups_total by result and modgate_upstream_requests_total
 * summed over its outcomes (and by outcome).
 */
async function processCounters(pin) {
  const r = await pin.get('/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
  const text = r.body.toString('utf8');
  const lookups = {};
  for (const m of text.matchAll(/^modgate_cache_lookups_total\{result="([a-z]+)"\} ([0-9.eE+-]+)$/gm)) lookups[m[1]] = Number(m[2]);
  const upstream = {};
  let upstreamTotal = 0;
  for (const m of text.matchAll(/^modgate_upstream_requests_total\{outcome="([^"]*)"\} ([0-9.eE+-]+)$/gm)) {
    upstream[m[1]] = Number(m[2]);
    upstreamTotal += Number(m[2]);
  }
  return { pid: pin.pid, lookups, upstream, upstreamTotal };
}

/**
 * A wrk Lua script that sends GET for `paths` in turn (each thread starting
 * at its own offset). With `countStatuses`, every answer is counted by status
 * and the totals printed at the end as a line "statuses: 404=123 …"
 * (parseStatuses); that costs wrk a Lua call per answer, so only the
 * warm-ups use it.
 */
function wrkPathsScript(file, paths, { countStatuses = false } = {}) {
  const list = paths.map((p) => `  ${JSON.stringify(p)},`).join('\n');
  const lua = `-- written by bench/lib/negative.js
local paths = {
${list}
}
local threads = {}
local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end
local i = 0
function init(args)
  i = ((tid or 0) * 397) % #paths
  counts = {}
end
function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format(nil, paths[i])
end
${countStatuses
    ? `function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts") or {}
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  io.write("statuses:")
  for k, v in pairs(total) do io.write(string.format(" %d=%d", k, v)) end
  io.write("\\n")
end
`
    : ''}`;
  fs.writeFileSync(file, lua);
  return file;
}

/** { status: count } from the "statuses:" line of a counting script, or null. */
function parseStatuses(out) {
  const m = /^statuses:(.*)$/m.exec(out);
  if (!m) return null;
  const s = {};
  for (const x of m[1].trim().split(/\s+/).filter(Boolean)) {
    const [k, v] = x.split('=');
    s[k] = Number(v);
  }
  return s;
}

module.exports = { pinConnections, unpin, processCounters, wrkPathsScript, parseStatuses, socketInode, ownerOf };
