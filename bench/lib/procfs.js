'use strict';
/**
 * Server CPU from /proc (Linux): user+sys of a process tree we started.
 *
 * A tree is the root pid, every descendant (by ppid, transitively: a ModGate
 * cluster primary and its workers; nginx master and workers) and every
 * member of the root's process group (a detached child leads its own group).
 * Each /proc/<pid>/stat counts all threads of that process. Also the
 * resident set size of one process (VmRSS), for the publish run, and the
 * CPU of processes picked by their command line (PostgreSQL backends of one
 * database: "postgres: … <user> <database> <client> <state>").
 */

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout) > 0 ? Number(r.stdout) : 100;
})();

/** Every readable /proc/<pid>/stat: pid → { ppid, pgrp, ticks }. */
function readProcTable() {
  const table = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    table.set(Number(d), { ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) });
  }
  return table;
}

/** The pids of the tree rooted at `rootPid` that are alive now (root first when alive). */
function treePids(rootPid, table = readProcTable()) {
  const pids = new Set();
  if (table.has(rootPid)) pids.add(rootPid);
  for (const [pid, p] of table) if (p.pgrp === rootPid) pids.add(pid);
  // Descendants by ppid, whatever their group.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of table) {
      if (!pids.has(pid) && pids.has(p.ppid)) {
        pids.add(pid);
        grew = true;
      }
    }
  }
  return [...pids];
}

/** { seconds, pids } of the tree, or null when it is not running or this is not Linux. */
function treeCpu(rootPid) {
  if (!rootPid || process.platform !== 'linux') return null;
  const table = readProcTable();
  const pids = treePids(rootPid, table);
  if (pids.length === 0) return null;
  let ticks = 0;
  for (const pid of pids) ticks += table.get(pid).ticks;
  return { seconds: ticks / CLK_TCK, pids };
}

/**
 * CPU seconds of the whole machine (user+nice+system of /proc/stat, steal
 * apart) and of this process (own, and its reaped children's: wrk's once it
 * has exited). Around a run, machine − server − bench − wrk is the CPU used by
 * processes that are not part of the measurement.
 */
function machineCpu() {
  if (process.platform !== 'linux') return null;
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , , , steal = 0] = f;
    const s = fs.readFileSync('/proc/self/stat', 'utf8');
    const g = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return {
      busy: (user + nice + system) / CLK_TCK,
      steal: steal / CLK_TCK,
      self: (Number(g[11]) + Number(g[12])) / CLK_TCK,
      reapedChildren: (Number(g[13]) + Number(g[14])) / CLK_TCK,
    };
  } catch {
    return null;
  }
}

/** Direct children of `pid` now (a cluster primary's workers). */
function childPids(pid) {
  if (!pid || process.platform !== 'linux') return [];
  const out = [];
  for (const [p, s] of readProcTable()) if (s.ppid === pid) out.push(p);
  return out;
}

/** user+sys CPU seconds of one process (all its threads), or null when it is gone or this is not Linux. */
function processCpu(pid) {
  if (!pid || process.platform !== 'linux') return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null; // gone meanwhile
  }
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status), or null when it is gone or this is not Linux. */
function rssBytes(pid) {
  if (!pid || process.platform !== 'linux') return null;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null; // gone meanwhile
  }
}

/**
 * user+sys CPU seconds, pid → seconds, of the processes whose command line has
 * `word` as one of its space-separated words (e.g. the PostgreSQL backends
 * of a database, which set their process title to include its name). Empty
 * when this is not Linux. Between two snapshots: cmdlineCpuDelta.
 */
function cmdlineCpu(word) {
  const out = new Map();
  if (process.platform !== 'linux') return out;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!cmd.split(' ').includes(word)) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(d), (Number(f[11]) + Number(f[12])) / CLK_TCK);
    } catch {
      /* gone meanwhile, or not readable */
    }
  }
  return out;
}

/** CPU seconds used between two cmdlineCpu snapshots by the processes alive at the second (new ones count from 0). */
function cmdlineCpuDelta(before, after) {
  let s = 0;
  for (const [pid, sec] of after) s += sec - (before.get(pid) ?? 0);
  return s;
}

module.exports = { CLK_TCK, treeCpu, treePids, childPids, machineCpu, processCpu, rssBytes, cmdlineCpu, cmdlineCpuDelta };
