'use strict';
/**
 * BENCH_PROFILE=1: summarise the V8 CPU profiles (--cpu-prof) of a ModGate
 * run within each wrk window. With MODGATE_WORKERS > 1 every worker inherits
 * --cpu-prof and writes its own profile; the workers' profiles are merged
 * (the primary only accepts connections and hands them over, so its profile
 * is left out). Times are summed across processes: a 10 s window of two busy
 * workers is ~20 s sampled.
 */

const fs = require('node:fs');
const path = require('node:path');

/**
 * Self time per function (functionName + url, + line for anonymous ones) and
 * per package, within each window. The profiles' timestamps and
 * process.hrtime are both CLOCK_MONOTONIC in µs, so windows line up exactly.
 *
 * windows: [{ kind, startUs, endUs }]; a 'whole process' window is added.
 */
function summariseProfile({ profileDir, root, primaryPid, workers, spawnedAtUs, windows: loadWindows, log }) {
  // --cpu-prof writes on exit; the caller waited for the exit. Names: CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
  const all = fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  const pidOf = (f) => Number(f.split('.')[3]);
  let files = workers > 1 ? all.filter((f) => pidOf(f) !== primaryPid) : all.filter((f) => pidOf(f) === primaryPid);
  if (files.length === 0) files = all;
  if (files.length === 0) {
    log(`warning: no .cpuprofile in ${profileDir}`);
    return null;
  }
  files = files.sort().map((f) => path.join(profileDir, f));

  const acc = new Map(); // window kind → accumulators
  const get = (kind) => {
    if (!acc.has(kind)) acc.set(kind, { fn: new Map(), pkg: new Map(), incl: new Map(), total: 0, idle: 0, startUs: Infinity, endUs: -Infinity });
    return acc.get(kind);
  };
  for (const w of loadWindows) get(w.kind);
  let aligned = true;

  for (const file of files) {
    const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parentOf = new Map();
    for (const n of prof.nodes) for (const c of n.children || []) parentOf.set(c, n.id);
    // Sample i lasts until sample i+1.
    const ts = new Array(prof.samples.length);
    let t = prof.startTime;
    for (let i = 0; i < prof.samples.length; i++) {
      t += prof.timeDeltas[i];
      ts[i] = t;
    }
    const ok = loadWindows.every((w) => w.startUs >= prof.startTime - 1e6 && w.endUs <= prof.endTime + 1e6);
    if (!ok) aligned = false;
    const offset = ok ? 0 : prof.startTime - spawnedAtUs; // fallback: align on the spawn
    const ws = [...loadWindows.map((w) => ({ kind: w.kind, startUs: w.startUs + offset, endUs: w.endUs + offset })), { kind: 'whole process', startUs: prof.startTime, endUs: prof.endTime }];
    for (const w of ws) {
      const a = get(w.kind);
      a.startUs = Math.min(a.startUs, w.startUs);
      a.endUs = Math.max(a.endUs, w.endUs);
      for (let i = 0; i < prof.samples.length; i++) {
        if (ts[i] < w.startUs || ts[i] >= w.endUs) continue;
        const dt = (i + 1 < ts.length ? ts[i + 1] : prof.endTime) - ts[i];
        const cf = byId.get(prof.samples[i]).callFrame;
        a.total += dt;
        if (cf.functionName === '(idle)') a.idle += dt;
        const u = shortUrl(cf.url, root);
        const name = cf.functionName || '(anonymous)';
        const key = `${name}${u ? `  ${u}${cf.functionName ? '' : `:${cf.lineNumber + 1}`}` : ''}`;
        a.fn.set(key, (a.fn.get(key) || 0) + dt);
        const b = bucket(cf, root);
        a.pkg.set(b, (a.pkg.get(b) || 0) + dt);
        const seen = new Set();
        for (let id = prof.samples[i]; id !== undefined; id = parentOf.get(id)) {
          const f = byId.get(id).callFrame;
          const fu = shortUrl(f.url, root);
          if (!fu || fu.startsWith('node:')) continue;
          const k = `${f.functionName || '(anonymous)'}  ${fu}:${f.lineNumber + 1}`;
          if (seen.has(k)) continue;
          seen.add(k);
          a.incl.set(k, (a.incl.get(k) || 0) + dt);
        }
      }
    }
  }

  const windows = {};
  for (const [kind, a] of acc) {
    const top = (m, n) =>
      [...m.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, n)
        .map(([k, v]) => ({ name: k, ms: Math.round(v / 100) / 10, pct: a.total ? Math.round((v / a.total) * 1000) / 10 : 0 }));
    windows[kind] = {
      startUs: a.startUs,
      endUs: a.endUs,
      totalMs: Math.round(a.total / 1000),
      busyMs: Math.round((a.total - a.idle) / 1000),
      topFunctions: top(a.fn, 20),
      byPackage: top(a.pkg, 15),
      topInclusive: top(a.incl, 25),
    };
  }
  return { files, aligned, windows };
}

function shortUrl(url, root) {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  if (u.startsWith(root + '/')) u = u.slice(root.length + 1);
  return u;
}

function bucket(cf, root) {
  const special = ['(idle)', '(program)', '(garbage collector)', '(root)'];
  if (special.includes(cf.functionName) && !cf.url) return cf.functionName;
  const u = shortUrl(cf.url, root);
  if (!u) return '(native / V8 builtins)';
  if (u.startsWith('node:')) return 'node core';
  if (u.startsWith('node_modules/')) {
    const parts = u.split('/');
    return parts[1].startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1];
  }
  const m = /^dist\/(apps\/[^/]+\/src\/[^/]+|libs\/[^/]+)/.exec(u);
  if (m) return `modgate ${m[1].replace(/^apps\/registry\/src\//, '')}`;
  return u;
}

/** Text for the terminal: [kind, top functions, top inclusive frames] per window shown. */
function formatProfile(profile, root, show) {
  const rel = profile.files.map((f) => path.relative(root, f));
  const out = ['', `CPU profile${rel.length > 1 ? `s (${rel.length} worker processes, merged)` : ''}: ${rel.join(', ')}${profile.aligned ? '' : ' (windows aligned on spawn time: approximate)'}`];
  for (const [kind, nFn, nInc] of show) {
    const w = profile.windows[kind];
    if (!w) continue;
    out.push('');
    out.push(`ModGate self time during ${kind} (${w.totalMs} ms sampled, ${w.busyMs} ms not idle):`);
    out.push('  by package:');
    for (const r of w.byPackage.slice(0, 12)) out.push(`    ${String(r.pct).padStart(5)}%  ${String(r.ms).padStart(8)} ms  ${r.name}`);
    out.push(`  top ${nFn} functions (self time):`);
    for (const r of w.topFunctions.slice(0, nFn)) out.push(`    ${String(r.pct).padStart(5)}%  ${String(r.ms).padStart(8)} ms  ${r.name}`);
    if (nInc > 0) {
      out.push(`  top ${nInc} JS frames by inclusive time (ModGate, Nest, Fastify, libraries; node core left out):`);
      for (const r of w.topInclusive.slice(0, nInc)) out.push(`    ${String(r.pct).padStart(5)}%  ${String(r.ms).padStart(8)} ms  ${r.name}`);
    }
  }
  out.push('');
  return out.join('\n');
}

module.exports = { summariseProfile, formatProfile };
