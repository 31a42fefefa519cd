#!/usr/bin/env node
'use strict';
/**
 * ModGate hot-read-path benchmark (`npm run bench`).
 *
 * Measures, on loopback and on the same bytes, in one run:
 *   - ModGate (built, `dist/`) with MODGATE_WORKERS=BENCH_WORKERS (default 2, like
 *     nginx's worker_processes), warm cache: .info and .mod requests/s, .zip MiB/s,
 *     and .info again with HTTP Basic credentials (a personal access token)
 *   - nginx serving the same files from disk (sendfile): the reference for bytes
 *   - a bare Fastify app answering .info from memory: the ceiling for Node
 *   - ModGate again with MODGATE_LOG_LEVEL=info: the cost of the access log
 *   - ModGate once more as a single process (MODGATE_WORKERS=1): .info
 *   - publishing, on the main ModGate after its read runs: three ~50 MiB module
 *     zips PUT to /api/v1/modules/<module>/@v/<version> (MiB/s, and the peak VmRSS
 *     growth of its processes during each upload), then the published version's
 *     .info under wrk with Basic credentials and right after it the cached public
 *     .info again with the same credentials (the pair for the ratio)
 *   - the audit log's cost, on a database of its own (fresh, filled once): ModGate
 *     with MODGATE_AUDIT=false, then (stopped) ModGate with the audit log on (the
 *     default), same workers and settings: cached public .info under wrk, side by
 *     side, and the rows the "on" run wrote against the requests it served
 *   - exporting the audit log, on that "on" ModGate once its writers are drained:
 *     GET /api/v1/audit/export?format=jsonl, then csv, end to end (rows/s, MB/s),
 *     every line counted and the bytes checked against the signed manifest
 *   - unknown versions of the public module, on the main ModGate after its read
 *     runs: 1,000 .info paths the upstream answers 404, each requested once per
 *     serving process (the negative cache is per process) to fill it, then wrk
 *     cycling through them (all 404, no upstream request), and the cached public
 *     .info right after it the same way: the pair for the ratio
 *   - the soak (BENCH_ONLY=soak only; BENCH_SOAK_SECONDS, default 180): a ModGate
 *     in front of the upstream serving a small module graph too, fresh go clients
 *     building a program from it in a loop (a new GOPATH/GOMODCACHE/GOCACHE each
 *     time) beside a wrk load on cached .info; builds done and failed, VmRSS of
 *     the ModGate processes at the start and the end
 * Server CPU is read from /proc for the whole process tree (a ModGate primary
 * and its workers; nginx master and workers); PostgreSQL's, for ModGate runs,
 * from the backends of the bench database (their process titles name it).
 *
 * Everything it starts (upstream, ModGate with its workers, nginx, Fastify,
 * wrk) is stopped, the temp dir is removed and the throwaway database dropped,
 * on success, failure, timeout and Ctrl-C. Exit 0 when the measurement ran
 * (aims missed or not); non-zero only when something failed to start or
 * answered wrong (bytes, status).
 *
 * Environment:
 *   BENCH_DURATION       seconds per measured wrk run (default 10; "10s" accepted)
 *   BENCH_QUICK=1        3 s runs, 1 s warm-ups
 *   BENCH_WARMUP         seconds of unrecorded load before each run (default 2; quick 1)
 *   BENCH_WORKERS        MODGATE_WORKERS of the main ModGate runs (default 2; 1-99)
 *   BENCH_PROFILE=1      run the main ModGate under --cpu-prof (its workers inherit it);
 *                        print a self-time summary of the workers' profiles
 *   BENCH_DATABASE_URL   admin connection to create/drop modgate_bench_<random>
 *                        (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_KEEP_TMP=1     keep the temp dir (logs) for inspection
 *   BENCH_UPSTREAM_ZIP_DELAY_MS  delay before the local upstream sends .zip bytes (default 300;
 *                        works around a fill bug, see startUpstream)
 *   BENCH_ONLY           comma-separated sections to run (default all but soak): read (ModGate anonymous
 *                        .info/.mod/.zip), auth (.info with Basic credentials), publish (uploads and
 *                        the published .info; implies auth, its baseline), negative (unknown versions
 *                        from the negative cache, and cached .info beside), nginx, fastify, log-info,
 *                        single, audit (.info with the audit log off and on), export (the audit
 *                        export; its rows come from the audit-on .info run, which it runs too),
 *                        soak (go builds + wrk for minutes; only when named).
 *                        The main ModGate always starts and fills (its headers feed fastify).
 *                        E.g. BENCH_ONLY=publish, BENCH_ONLY=audit,export, BENCH_ONLY=soak
 *   BENCH_NEGATIVE_VERSIONS  unknown versions the negative run cycles through (default 1000)
 *   BENCH_SOAK_SECONDS   length of the soak's load (default 180; "3m" accepted)
 *   BENCH_SOAK_CLIENTS   go client loops running side by side in the soak (default 3)
 *   BENCH_SOAK_CONNECTIONS  wrk connections of the soak's .info load (default 16, one thread)
 *   BENCH_GO             the go command of the soak's clients (default go, from PATH)
 *
 * Also used internally: `node bench/run.js --fastify-ceiling` (the bare Fastify child).
 */

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const { formatProfile, summariseProfile } = require('./lib/profile');
const { auditActions, auditMetrics, auditRows, download, getJson, waitForQuiet } = require('./lib/audit');
const { childPids, cmdlineCpu, cmdlineCpuDelta, machineCpu, rssBytes, treeCpu, treePids } = require('./lib/procfs');
const { pinConnections, processCounters, parseStatuses, unpin, wrkPathsScript } = require('./lib/negative');
const { buildModuleZip, getHashed, putFile, startRssSampler } = require('./lib/publish');
const { buildSoakTree, goClientBuild, slope, startRssTimeline } = require('./lib/soak');
const { parseWrk, runWrk } = require('./lib/wrk');

// V8 flags of ModGate's start script (package.json "start"), given to the
// bare Fastify reference too so both run with the same young generation.
const NODE_FLAGS = (/node ((?:--\S+ )*)dist\//.exec(require('../package.json').scripts.start)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/apps/registry/src/main.js');
const RESULTS_DIR = path.join(__dirname, 'results');

const MODULE = 'example.com/bench';
const VERSION = 'v1.0.0';
const GO_MOD = 'module example.com/bench\n\ngo 1.19\n';
const INFO_JSON = '{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}';
const ZIP_FILES = 24; // × 1 MiB of random bytes, stored: the zip is ~24 MiB
const URL_PATHS = {
  info: `/${MODULE}/@v/${VERSION}.info`,
  mod: `/${MODULE}/@v/${VERSION}.mod`,
  zip: `/${MODULE}/@v/${VERSION}.zip`,
};

// Publishing: private modules are the paths under MODGATE_PRIVATE (set for every ModGate run).
const PRIVATE_PREFIX = 'corp.example.com';
const PUB_MODULE = `${PRIVATE_PREFIX}/bench/big`;
const PUB_GO_MOD = `module ${PUB_MODULE}\n\ngo 1.19\n`;
const PUB_VERSIONS = ['v1.0.0', 'v1.0.1', 'v1.0.2']; // one zip each: the zip's prefix names the version
const PUB_BLOBS = 5; // × 10 MiB of random bytes, stored: each zip is ~50 MiB
const PUB_BLOB_BYTES = 10 << 20;
const PUB_RSS_INTERVAL_MS = 20;
const PUB_BASELINE_MS = 300; // VmRSS sampled this long before each upload: its median is the baseline
const PUB_INFO_PATH = `/${PUB_MODULE}/@v/${PUB_VERSIONS[0]}.info`;

// Unknown versions of the public module (the upstream answers 404): the negative cache's run.
const NEG_VERSIONS = parseCount(process.env.BENCH_NEGATIVE_VERSIONS, 1000, 'BENCH_NEGATIVE_VERSIONS');
const NEG_PATHS = Array.from({ length: NEG_VERSIONS }, (_, i) => `/${MODULE}/@v/v1.${i + 1}.0.info`);
const NEGATIVE_CACHE_DEFAULT_S = 60; // MODGATE_NEGATIVE_CACHE_SECONDS's default

const SECTIONS = ['read', 'auth', 'publish', 'negative', 'nginx', 'fastify', 'log-info', 'single', 'audit', 'export', 'soak'];
/** What runs without BENCH_ONLY: everything but the soak (minutes long). */
const DEFAULT_SECTIONS = SECTIONS.filter((x) => x !== 'soak');
const ONLY = parseSections(process.env.BENCH_ONLY);
const ONLY_GIVEN = (process.env.BENCH_ONLY ?? '').trim() !== '';
const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = QUICK ? 3 : parseSeconds(process.env.BENCH_DURATION, 10, 'BENCH_DURATION');
const WARMUP = parseSeconds(process.env.BENCH_WARMUP, QUICK ? 1 : 2, 'BENCH_WARMUP');
const WORKERS = parseWorkers(process.env.BENCH_WORKERS, 2);
const PROFILE = process.env.BENCH_PROFILE === '1';
const KEEP_TMP = process.env.BENCH_KEEP_TMP === '1';
const UPSTREAM_ZIP_DELAY_MS = Number(process.env.BENCH_UPSTREAM_ZIP_DELAY_MS ?? 300);
const ADMIN_DB_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const THREADS = 2;
const CONNS_SMALL = 64;
const CONNS_ZIP = 8;
const NGINX_WORKERS = 2;
const OTHER_CPU_WARN = 0.1; // cores used outside the benchmark during a run that make it worth a note
const AIMS = { infoVsNginx: 0.5, zipVsNginx: 0.8, authVsAnonymous: 0.9, publishRssGrowthMaxMiB: 64, auditOnVsOff: 0.9, exportRowsPerSec: 100_000, soakFailedBuilds: 0, soakRssGrowthMaxMiB: 64 };
const EXPORT_FORMATS = ['jsonl', 'csv'];
// The soak: fresh go clients building a small module graph through ModGate, a wrk load beside them.
const SOAK_SECONDS = parseSeconds(process.env.BENCH_SOAK_SECONDS, 180, 'BENCH_SOAK_SECONDS');
const SOAK_CLIENTS = parseCount(process.env.BENCH_SOAK_CLIENTS, 3, 'BENCH_SOAK_CLIENTS');
const SOAK_WRK_THREADS = 1;
const SOAK_WRK_CONNS = parseCount(process.env.BENCH_SOAK_CONNECTIONS, 16, 'BENCH_SOAK_CONNECTIONS');
const SOAK_RSS_INTERVAL_MS = 2000;
const SOAK_SETTLE_MS = 2000; // before the first VmRSS sample and after the load, before the last
const SOAK_BUILD_TIMEOUT_MS = 180_000; // per go command
// The main ModGate keeps "not found" at least as long as the negative run needs it (priming, warm-up, run).
const NEG_TTL_S = WARMUP + DURATION + 30 > NEGATIVE_CACHE_DEFAULT_S ? WARMUP + DURATION + 60 : null;
const AUDIT_DRAIN_TIMEOUT_MS = 30_000; // how long the audit-on run's writers may take to catch up after the load
/** Targets in the table; the main ModGate runs MODGATE_WORKERS=WORKERS, as do AUTH, PUBLISHED and LOG_INFO. */
const T = {
  MG: 'ModGate',
  AUTH: 'ModGate (Basic auth)',
  PUBLISHED: 'ModGate (published, Basic auth)',
  AUTH_PAIRED: 'ModGate (Basic auth, after publish)',
  LOG_INFO: 'ModGate (log=info)',
  SINGLE: 'ModGate (1 process)',
  AUDIT_OFF: 'ModGate (audit off)',
  AUDIT_ON: 'ModGate (audit on)',
  NEGATIVE: 'ModGate (unknown versions, negative cache)',
  NEG_PAIRED: 'ModGate (cached .info, after negative)',
  NGINX: 'nginx',
  FASTIFY: 'fastify',
};

// ---------------------------------------------------------------------------
// Orchestration

/** Shared state for cleanup: what is running and what must be removed. */
const state = {
  tmp: null,
  databases: [], // names of the throwaway databases created and not dropped yet
  upstream: null,
  upstreamBaseline: null, // upstream requests once ModGate is warm
  children: new Set(),
  cleaning: null,
  failures: [],
  interrupted: false,
};

async function main() {
  installExitHandlers();
  const runCount = 14; // mg info/auth info/mod/zip/published info/auth info again, nginx info/mod/zip, fastify info, mg info (log info), mg info (1 process), audit off/on
  const startCount = 7; // five ModGate, nginx, Fastify
  const publishMs = 120_000; // building and uploading the zips, reading them back
  const exportMs = 180_000; // two audit exports, waiting for the writers
  const negativeMs = want('negative') ? 2 * (DURATION + WARMUP + 20) * 1000 + 120_000 : 0; // priming, checks, two wrk runs
  const soakMs = want('soak') ? (SOAK_SECONDS + 60) * 1000 + SOAK_BUILD_TIMEOUT_MS * 3 + 60_000 : 0; // a ModGate, the first build, the load, the last builds
  const budgetMs = runCount * (DURATION + WARMUP + 20) * 1000 + startCount * 60_000 + publishMs + exportMs + negativeMs + soakMs + 120_000;
  const watchdog = setTimeout(() => {
    log(`watchdog: the benchmark did not finish within ${Math.round(budgetMs / 1000)} s; stopping`);
    state.failures.push('timed out');
    cleanup().finally(() => process.exit(1));
  }, budgetMs);
  watchdog.unref();

  const startedAt = new Date();
  const runs = [];
  let profile = null;
  const extra = { modgateProcesses: {} };
  let uploadWindow = null;
  try {
    preflight();
    state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'modgate-bench-'));
    const dirs = {
      www: path.join(state.tmp, 'www'),
      data: path.join(state.tmp, 'data'),
      blobs: path.join(state.tmp, 'blobs'),
      nginx: path.join(state.tmp, 'nginx'),
    };
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });

    log(`temp dir ${state.tmp}`);
    const files = await prepareData(dirs.www);
    log(`module zip: ${files.zip.length} bytes (${mib(files.zip.length)} MiB)`);

    const db = await createDatabase();
    const dbUrl = db.url;
    log(`database ${db.name}`);

    state.upstream = await startUpstream(dirs.www);
    log(`upstream ${state.upstream.url}`);

    const profileDir = PROFILE ? path.join(RESULTS_DIR, 'profiles', stamp()) : null;
    if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
    if (ONLY_GIVEN) log(`BENCH_ONLY: ${SECTIONS.filter(want).join(', ')}`);

    // The admin of the throwaway database: registered at the first start, then
    // used once, to create the personal access token the authenticated run sends.
    const adminToken = `mg_benchadmin_${randomBase62(40)}`;
    const mgEnv = { dbUrl, dbName: db.name, dataDir: dirs.data, blobsDir: dirs.blobs, upstream: state.upstream.url, adminToken };

    // 1. ModGate with BENCH_WORKERS processes, warn-level logging (the main figures),
    //    .info anonymous and then with Basic credentials, back to back.
    const mg = await startModGate('main', { ...mgEnv, workers: WORKERS, logLevel: 'warn', profileDir, negativeCacheSeconds: want('negative') ? NEG_TTL_S : null });
    extra.modgateProcesses.main = { primary: mg.pid, workers: mg.workerPids };
    const warm = await warmAndVerify(mg.url, files);
    extra.modgateInfoHeaders = warm.infoHeaders;
    const auth = want('auth') ? await prepareAuth(mg.url, adminToken, files) : null;
    if (auth) extra.auth = auth.report;
    state.upstreamBaseline = extra.upstreamRequestsDuringWarm = state.upstream.requests();
    if (want('read')) runs.push(await measure(T.MG, 'info', mg, CONNS_SMALL));
    if (want('auth')) runs.push(await measure(T.AUTH, 'info', mg, CONNS_SMALL, auth.headers));
    if (want('read')) runs.push(await measure(T.MG, 'mod', mg, CONNS_SMALL));
    if (want('read')) runs.push(await measure(T.MG, 'zip', mg, CONNS_ZIP));
    await verifyBytes('ModGate (after the load)', mg.url, files);
    if (auth) await verifyOne('ModGate (Basic auth, after the load)', mg.url, 'info', files.info, auth.headers);

    // 1a. Unknown versions of the public module, answered from the negative
    //     cache once it is filled, under wrk; the cached public .info right after.
    if (want('negative')) extra.negative = await negativeRun(mg, files, runs);

    // 1b. Publishing on the same processes, after their read runs (the uploads
    //     do not disturb those): the zips, then the published .info under load
    //     with the credentials of the Basic-auth run, and the cached public
    //     .info once more right after it, same credentials: the ratio compares
    //     two neighbouring runs, not ones minutes and 150 MiB of uploads apart.
    if (want('publish')) {
      const pub = await publishRun(mg, adminToken, auth.headers);
      extra.publish = pub.report;
      uploadWindow = pub.window;
      runs.push(await measure(T.PUBLISHED, 'info', mg, CONNS_SMALL, auth.headers, PUB_INFO_PATH));
      await verifyPublishedInfo('ModGate (published .info, after the load)', mg.url, auth.headers, pub.info);
      runs.push(await measure(T.AUTH_PAIRED, 'info', mg, CONNS_SMALL, auth.headers));
      await verifyOne('ModGate (Basic auth, after publish and the load)', mg.url, 'info', files.info, auth.headers);
    }
    await stopChild(mg.child, 'SIGTERM', 20_000);
    checkNoUpstreamDuringLoad(mg.name);

    // 2. nginx on the same files.
    if (want('nginx')) {
      const ngx = await startNginx(dirs);
      await verifyBytes('nginx', ngx.url, files);
      runs.push(await measure(T.NGINX, 'info', ngx, CONNS_SMALL));
      runs.push(await measure(T.NGINX, 'mod', ngx, CONNS_SMALL));
      runs.push(await measure(T.NGINX, 'zip', ngx, CONNS_ZIP));
      await stopChild(ngx.child, 'SIGQUIT', 10_000);
    }

    // 3. Bare Fastify: .info from memory with ModGate's headers.
    if (want('fastify')) {
      const fst = await startFastifyCeiling(warm.infoHeaders);
      await verifyBytes('fastify', fst.url, files, ['info']);
      runs.push(await measure(T.FASTIFY, 'info', fst, CONNS_SMALL));
      await stopChild(fst.child, 'SIGTERM', 10_000);
    }

    // 4. ModGate with the access log on (info level), same workers, store and database.
    if (want('log-info')) {
      const mgInfo = await startModGate('log-info', { ...mgEnv, workers: WORKERS, logLevel: 'info', profileDir: null });
      extra.modgateProcesses.logInfo = { primary: mgInfo.pid, workers: mgInfo.workerPids };
      await verifyBytes('ModGate (log info)', mgInfo.url, files, ['info']);
      const logBefore = fs.statSync(mgInfo.logFile).size;
      const infoRun = await measure(T.LOG_INFO, 'info', mgInfo, CONNS_SMALL);
      await stopChild(mgInfo.child, 'SIGTERM', 20_000);
      checkNoUpstreamDuringLoad(mgInfo.name);
      const logBytes = fs.statSync(mgInfo.logFile).size - logBefore;
      infoRun.logBytesPerRequest = infoRun.requests > 0 ? Math.round(logBytes / (infoRun.requests + infoRun.warmupRequests)) : null;
      runs.push(infoRun);
    }

    // 5. ModGate as one process (MODGATE_WORKERS=1), .info only.
    if (want('single')) {
      const mg1 = await startModGate('single', { ...mgEnv, workers: 1, logLevel: 'warn', profileDir: null });
      extra.modgateProcesses.single = { primary: mg1.pid, workers: mg1.workerPids };
      await verifyBytes('ModGate (1 process)', mg1.url, files, ['info']);
      runs.push(await measure(T.SINGLE, 'info', mg1, CONNS_SMALL));
      await verifyBytes('ModGate (1 process, after the load)', mg1.url, files, ['info']);
      await stopChild(mg1.child, 'SIGTERM', 20_000);
      checkNoUpstreamDuringLoad(mg1.name);
    }

    // 6. The audit log: .info with it off and on (a database of its own), then the export.
    if (want('audit') || want('export')) {
      extra.audit = await auditSection({ upstream: state.upstream.url, adminToken }, files, runs);
    }

    // 7. The soak (BENCH_ONLY=soak; not in the default run): fresh go clients
    //    building a module graph through a new ModGate, wrk on cached .info beside them.
    if (want('soak')) {
      extra.soak = await soakSection(mgEnv, dirs.www, files);
      extra.modgateProcesses.soak = extra.soak.processes;
    }

    if (profileDir) {
      const windows = runs.filter((r) => r.server === mg.name).map((r) => ({ kind: profileWindow(r), startUs: r.window.startUs, endUs: r.window.endUs }));
      if (uploadWindow) windows.push({ kind: 'publish uploads', ...uploadWindow });
      profile = summariseProfile({ profileDir, root: ROOT, primaryPid: mg.pid, workers: WORKERS, spawnedAtUs: mg.spawnedAtUs, windows, log });
    }
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }

  if (state.interrupted) {
    // The signal handler is cleaning up and exits; keep the last results file.
    await cleanup();
    return;
  }
  const finishedAt = new Date();
  const ratios = computeRatios(runs);
  // CPU per request with the audit log on / off, the writers' catching up included (a cost, not a rate).
  if (extra.audit) ratios.auditCpuPerRequestOnVsOff = extra.audit.cpuPerRequestOnVsOff;
  if (runs.length > 0 || extra.publish || extra.audit || extra.soak) printReport(runs, ratios, extra);
  if (profile) {
    const show = [['.info load', 20, 15], ['.info (Basic auth) load', 10, 10], ['.zip load', 10, 0], ['.info (published, Basic auth) load', 10, 0], ['.info (unknown versions, negative cache) load', 10, 0], ['publish uploads', 15, 10]];
    process.stdout.write(`${formatProfile(profile, ROOT, show)}\n`);
  }
  writeResults({ startedAt, finishedAt, runs, ratios, profile, extra });
  await cleanup();
  clearTimeout(watchdog);
  if (state.failures.length > 0) {
    log(`FAILED:\n  ${state.failures.join('\n  ')}`);
    process.exit(1);
  }
  process.exit(0);
}

const PROFILE_WINDOW_SUFFIX = { [T.AUTH]: ' (Basic auth)', [T.PUBLISHED]: ' (published, Basic auth)', [T.AUTH_PAIRED]: ' (Basic auth, after publish)', [T.NEGATIVE]: ' (unknown versions, negative cache)', [T.NEG_PAIRED]: ' (cached, after negative)' };
const profileWindow = (r) => `.${r.kind}${PROFILE_WINDOW_SUFFIX[r.target] ?? ''} load`;

/** ModGate must serve the warm cache: any upstream request after the warm-up is a miss. */
function checkNoUpstreamDuringLoad(name) {
  if (state.upstream.requests() !== state.upstreamBaseline) {
    fail(`${name} asked the upstream again after the warm-up (${state.upstream.requests()} requests in all): the cache was not hot`);
  }
}

function preflight() {
  if (!fs.existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} not found: run \`npm run build\` (or \`npm run bench\`)`);
  for (const bin of ['wrk', 'nginx']) {
    const r = spawnSync(bin, bin === 'wrk' ? ['-v'] : ['-v'], { encoding: 'utf8' });
    if (r.error) throw new Error(`${bin} is not installed (${r.error.message})`);
  }
}

function fail(message) {
  if (state.interrupted) return; // the interruption explains it
  log(`error: ${message}`);
  state.failures.push(message);
}

// ---------------------------------------------------------------------------
// Data: one module version in GOPROXY layout under www/

async function prepareData(www) {
  const yazl = require('yazl');
  const dir = path.join(www, MODULE, '@v');
  fs.mkdirSync(dir, { recursive: true });
  const prefix = `${MODULE}@${VERSION}/`;
  const mtime = new Date('2024-01-01T00:00:00Z');
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(GO_MOD), `${prefix}go.mod`, { mtime, compress: false });
  zip.addBuffer(Buffer.from('// Package bench is benchmark filler.\npackage bench\n'), `${prefix}bench.go`, { mtime, compress: false });
  for (let i = 0; i < ZIP_FILES; i++) {
    // Random bytes do not compress: store them, the zip is as big as its content.
    zip.addBuffer(crypto.randomBytes(1 << 20), `${prefix}testdata/blob${String(i).padStart(2, '0')}.bin`, { mtime, compress: false });
  }
  zip.end();
  const zipFile = path.join(dir, `${VERSION}.zip`);
  await pipeline(zip.outputStream, fs.createWriteStream(zipFile));
  fs.writeFileSync(path.join(dir, `${VERSION}.info`), INFO_JSON);
  fs.writeFileSync(path.join(dir, `${VERSION}.mod`), GO_MOD);
  fs.writeFileSync(path.join(dir, 'list'), `${VERSION}\n`);
  return {
    info: Buffer.from(INFO_JSON),
    mod: Buffer.from(GO_MOD),
    zip: fs.readFileSync(zipFile),
  };
}

// ---------------------------------------------------------------------------
// Database: a throwaway database on the admin connection

/**
 * Creates modgate_bench_<random>[_<suffix>] and returns its URL. Every one
 * created is dropped at cleanup (state.databases); the audit section has its
 * own, so its rows and its export are those of its runs alone.
 */
async function createDatabase(suffix = '') {
  const { Client } = require('pg');
  const name = `modgate_bench_${crypto.randomBytes(4).toString('hex')}${suffix ? `_${suffix}` : ''}`;
  const c = new Client({ connectionString: ADMIN_DB_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query(`CREATE DATABASE "${name}"`);
    state.databases.push(name);
  } catch (err) {
    throw new Error(`cannot create the benchmark database on ${redactUrl(ADMIN_DB_URL)}: ${err.message}`);
  } finally {
    await c.end().catch(() => undefined);
  }
  const u = new URL(ADMIN_DB_URL);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

async function dropDatabases() {
  if (state.databases.length === 0) return;
  const { Client } = require('pg');
  const c = new Client({ connectionString: ADMIN_DB_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
  } catch (err) {
    log(`warning: could not drop database(s) ${state.databases.join(', ')}: ${err.message}`);
    return;
  }
  try {
    for (const name of [...state.databases]) {
      try {
        try {
          await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } catch {
          // PostgreSQL < 13: end the sessions by hand, then drop.
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
          await c.query(`DROP DATABASE IF EXISTS "${name}"`);
        }
        state.databases.splice(state.databases.indexOf(name), 1);
      } catch (err) {
        log(`warning: could not drop database ${name}: ${err.message}`);
      }
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Last resort from the synchronous 'exit' handler: a child node process drops them. */
function dropDatabasesSync() {
  if (state.databases.length === 0) return;
  const script = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.env.U, connectionTimeoutMillis: 5000 });
    c.connect()
      .then(async () => { for (const d of JSON.parse(process.env.D)) await c.query('DROP DATABASE IF EXISTS "' + d + '" WITH (FORCE)'); })
      .then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });`;
  spawnSync(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, U: ADMIN_DB_URL, D: JSON.stringify(state.databases) }, timeout: 15_000, stdio: 'ignore' });
  state.databases = [];
}

// ---------------------------------------------------------------------------
// Upstream: a tiny GOPROXY file server (in this process; used only to fill)

function startUpstream(www) {
  let count = 0;
  const byPath = new Map(); // request path → requests (the negative run checks each version's)
  const types = { '.info': 'application/json', '.mod': 'text/plain; charset=utf-8', '.zip': 'application/zip' };
  const server = http.createServer((req, res) => {
    count++;
    const pathname = new URL(req.url, 'http://x').pathname;
    byPath.set(pathname, (byPath.get(pathname) ?? 0) + 1);
    const rel = decodeURIComponent(pathname);
    const file = path.join(www, rel);
    if (!file.startsWith(www + path.sep) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end('not found\n');
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'text/plain; charset=utf-8', 'content-length': st.size });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // Workaround for a ModGate fill bug (upstream.client.ts: `body.on('data', arm)`
      // makes the body flow before ingest pipes it, so the first chunks of a fast
      // .zip are dropped and the fill fails "not a valid zip file: unexpected EOF"):
      // send the headers now and the zip body a moment later. Harmless once fixed;
      // BENCH_UPSTREAM_ZIP_DELAY_MS=0 shows whether it still is needed.
      const delay = path.extname(file) === '.zip' ? UPSTREAM_ZIP_DELAY_MS : 0;
      if (delay > 0) res.flushHeaders();
      setTimeout(() => fs.createReadStream(file).pipe(res), delay);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests: () => count,
        requestsFor: (p) => byPath.get(p) ?? 0,
        /** A copy of the per-path counts: pass it to `since` for the requests made after it. */
        snapshot: () => new Map(byPath),
        since: (snap) => [...byPath].map(([p, n]) => [p, n - (snap.get(p) ?? 0)]).filter(([, n]) => n > 0),
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Contenders

/**
 * ModGate with `workers` processes: MODGATE_WORKERS > 1 makes a cluster
 * primary that forks the workers (same process group, children of the
 * primary); it prints the banner once they are up. Returns when the banner is
 * out, /readyz answers and every worker runs.
 */
async function startModGate(label, { dbUrl, dbName, dataDir, blobsDir, upstream, adminToken, workers, logLevel, profileDir, audit = true, negativeCacheSeconds = null }) {
  const port = await freePort();
  const logFile = path.join(state.tmp, `modgate-${label}.log`);
  const fd = fs.openSync(logFile, 'a');
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(MODGATE_|S3_|AWS_)/.test(k) || ['DATABASE_URL', 'PORT', 'HOST'].includes(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    DATABASE_URL: dbUrl,
    MODGATE_DATA_DIR: dataDir,
    MODGATE_STORAGE: `fs:${blobsDir}`,
    PORT: String(port),
    HOST: '127.0.0.1',
    MODGATE_UPSTREAMS: upstream,
    MODGATE_SUMDBS: 'off',
    MODGATE_LOG_LEVEL: logLevel,
    MODGATE_NETWORK_MODE: 'strict',
    MODGATE_WORKERS: String(workers),
    // Public modules readable without credentials (the main figures are anonymous reads).
    MODGATE_ANONYMOUS_READ: 'true',
    // Registers the user "admin" with this token when the database has no admin (the first start).
    MODGATE_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    // Paths the registry owns: the publish run uploads under it.
    MODGATE_PRIVATE: PRIVATE_PREFIX,
  });
  // The audit log is on by default (nothing set); the audit section's "off" run turns it off entirely.
  if (!audit) env.MODGATE_AUDIT = 'false';
  // The negative cache's lifetime: its default (60 s) unless a run needs more (see NEG_TTL_S).
  if (negativeCacheSeconds != null) env.MODGATE_NEGATIVE_CACHE_SECONDS = String(negativeCacheSeconds);
  // Cluster workers inherit the primary's execArgv, so --cpu-prof profiles each of them.
  // The same V8 flags as `npm start` (package.json), so the bench measures ModGate as shipped.
  const args = [...NODE_FLAGS, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), MAIN];
  log(`starting ModGate[${label}] (MODGATE_WORKERS=${workers}, log level ${logLevel}${audit ? '' : ', MODGATE_AUDIT=false'}${negativeCacheSeconds != null ? `, MODGATE_NEGATIVE_CACHE_SECONDS=${negativeCacheSeconds}` : ''}${profileDir ? ', --cpu-prof' : ''}) on port ${port}`);
  const spawnedAtUs = nowUs();
  const child = track(`ModGate[${label}]`, spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd], detached: true }));
  fs.closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`ModGate[${label}] banner`, 60_000, child, () => fs.readFileSync(logFile, 'utf8').includes('ModGate is listening on'));
    await waitFor(`ModGate[${label}] /readyz`, 30_000, child, async () => (await httpGet(`${url}/readyz`).catch(() => null))?.status === 200);
    // One process serves when MODGATE_WORKERS=1; else the primary's children are the workers.
    if (workers > 1) await waitFor(`ModGate[${label}] ${workers} workers`, 30_000, child, async () => childPids(child.pid).length >= workers);
  } catch (err) {
    throw new Error(`${err.message}\n--- ${logFile} (tail) ---\n${tail(logFile)}`);
  }
  const workerPids = workers > 1 ? childPids(child.pid) : [];
  if (workers > 1) log(`ModGate[${label}]: primary ${child.pid}, workers ${workerPids.join(', ')}`);
  if (workerPids.length > workers) fail(`ModGate[${label}]: ${workerPids.length} child processes, ${workers} workers expected`);
  else if (workers === 1 && childPids(child.pid).length > 0) fail(`ModGate[${label}]: MODGATE_WORKERS=1 but the process has children`);
  return { name: `ModGate[${label}]`, url, child, logFile, spawnedAtUs, pid: child.pid, workers, workerPids, expectedProcesses: workers > 1 ? workers + 1 : 1, dbName, audit, negativeCacheSeconds: negativeCacheSeconds ?? NEGATIVE_CACHE_DEFAULT_S };
}

async function startNginx(dirs) {
  const port = await freePort();
  const p = dirs.nginx;
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(p, d), { recursive: true });
  const conf = `
daemon off;
worker_processes ${NGINX_WORKERS};
${process.getuid && process.getuid() === 0 ? 'user root;' : ''}
pid ${p}/nginx.pid;
lock_file ${p}/nginx.lock;
error_log ${p}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  client_body_temp_path ${p}/body;
  proxy_temp_path ${p}/proxy;
  fastcgi_temp_path ${p}/fastcgi;
  uwsgi_temp_path ${p}/uwsgi;
  scgi_temp_path ${p}/scgi;
  types { application/json info; text/plain mod; application/zip zip; }
  default_type text/plain;
  charset utf-8;
  charset_types text/plain;
  server {
    listen 127.0.0.1:${port};
    root ${dirs.www};
    location / { add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
`;
  const confFile = path.join(p, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const logFile = path.join(p, 'stderr.log');
  const fd = fs.openSync(logFile, 'a');
  log(`starting nginx on port ${port}`);
  const child = track('nginx', spawn('nginx', ['-c', confFile, '-p', `${p}/`, '-e', `${p}/error.log`], { stdio: ['ignore', fd, fd], detached: true }));
  fs.closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('nginx', 15_000, child, async () => (await httpGet(`${url}${URL_PATHS.info}`).catch(() => null))?.status === 200);
  } catch (err) {
    throw new Error(`${err.message}\n--- nginx ---\n${tail(logFile)}\n${tail(path.join(p, 'error.log'))}`);
  }
  return { name: 'nginx', url, child, workers: NGINX_WORKERS, expectedProcesses: NGINX_WORKERS + 1 };
}

async function startFastifyCeiling(infoHeaders) {
  const env = { ...process.env, BENCH_ROUTE: URL_PATHS.info, BENCH_BODY: INFO_JSON, BENCH_HEADERS: JSON.stringify(infoHeaders) };
  log('starting bare Fastify');
  const child = track('fastify', spawn(process.execPath, [...NODE_FLAGS, __filename, '--fastify-ceiling'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true }));
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('bare Fastify did not start within 15 s')), 15_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening (\d+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`bare Fastify exited with code ${code}`));
    });
  });
  return { name: 'fastify', url: `http://127.0.0.1:${port}`, child, workers: 1, expectedProcesses: 1 };
}

/** The child: one Fastify process answering .info from memory. */
function fastifyCeiling() {
  const fastify = require('fastify')({ logger: false });
  const body = process.env.BENCH_BODY;
  const headers = JSON.parse(process.env.BENCH_HEADERS || '{}');
  if (!headers['content-type']) headers['content-type'] = 'application/json';
  fastify.get(process.env.BENCH_ROUTE, (_req, reply) => {
    reply.headers(headers);
    reply.send(body);
  });
  fastify.listen({ port: 0, host: '127.0.0.1' }).then(
    () => process.stdout.write(`listening ${fastify.server.address().port}\n`),
    (err) => {
      process.stderr.write(`fastify: ${err.message}\n`);
      process.exit(1);
    },
  );
  const stop = () => fastify.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------------------
// Checks

/** First requests fill ModGate from the upstream; every answer must be the file's bytes. */
async function warmAndVerify(url, files) {
  const started = Date.now();
  const info = await verifyOne('ModGate', url, 'info', files.info);
  log(`ModGate filled from upstream in ${Date.now() - started} ms`);
  await verifyOne('ModGate', url, 'mod', files.mod);
  await verifyOne('ModGate', url, 'zip', files.zip);
  // Headers the bare Fastify app copies (not per-request ones).
  const infoHeaders = {};
  for (const h of ['content-type', 'cache-control', 'etag']) if (info.headers[h]) infoHeaders[h] = info.headers[h];
  return { infoHeaders };
}

async function verifyBytes(name, url, files, kinds = ['info', 'mod', 'zip']) {
  for (const kind of kinds) await verifyOne(name, url, kind, files[kind]);
}

async function verifyOne(name, url, kind, expected, headers = {}) {
  const r = await httpRequest('GET', `${url}${URL_PATHS[kind]}`, { headers, timeoutMs: 120_000 });
  if (r.status !== 200) throw new Error(`${name} answered ${r.status} for .${kind}: ${r.body.toString('utf8').slice(0, 300)}`);
  if (!r.body.equals(expected)) {
    throw new Error(`${name} returned wrong bytes for .${kind} (${r.body.length} bytes, sha256 ${sha256(r.body)}; want ${expected.length}, ${sha256(expected)})`);
  }
  return r;
}

/**
 * The authenticated run's credentials: a personal access token ("read") that
 * the bootstrap admin creates for itself through the admin API, sent as
 * Basic admin:<token> like a .netrc entry. Checks that .info answers 200 with
 * them and without any (anonymous reads are on), and that the header is
 * really checked: the same token under another login is refused (401).
 */
async function prepareAuth(url, adminToken, files) {
  const created = await httpRequest('POST', `${url}/api/v1/tokens`, {
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', scopes: ['read'] }),
  });
  const text = created.body.toString('utf8');
  if (created.status !== 201) throw new Error(`POST /api/v1/tokens with the bootstrap admin token answered ${created.status}: ${text.slice(0, 300)}`);
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`POST /api/v1/tokens answered 201 without JSON: ${text.slice(0, 100)}`);
  }
  if (typeof doc.token !== 'string' || !/^mg_[A-Za-z0-9]{4,64}_[A-Za-z0-9_]{16,200}$/.test(doc.token)) {
    throw new Error('POST /api/v1/tokens answered 201 without a token of the form mg_<id>_<secret>');
  }
  const basic = (login) => `Basic ${Buffer.from(`${login}:${doc.token}`).toString('base64')}`;
  const headers = { Authorization: basic('admin') };
  await verifyOne('ModGate (Basic admin:<token>)', url, 'info', files.info, headers);
  await verifyOne('ModGate (no Authorization header)', url, 'info', files.info);
  const wrongLogin = await httpRequest('GET', `${url}${URL_PATHS.info}`, { headers: { Authorization: basic('benchnobody') } });
  if (wrongLogin.status !== 401) {
    fail(`ModGate answered ${wrongLogin.status} to the bench token under another login (want 401): the Basic credentials are not checked, so the authenticated run measures nothing`);
  }
  log(`token ${String(doc.prefix ?? doc.token.slice(0, 12))}… created for admin (scopes ${JSON.stringify(doc.scopes ?? null)}); .info: 200 with Basic, 200 without, ${wrongLogin.status} under another login`);
  return {
    headers,
    report: { scheme: 'Basic admin:<personal access token>', scopes: doc.scopes ?? null, statusWithCredentials: 200, statusWithout: 200, statusWrongLogin: wrongLogin.status },
  };
}

// ---------------------------------------------------------------------------
// Publishing

/**
 * Builds one ~50 MiB zip per version (not timed) and PUTs it, streamed from
 * disk, with the bootstrap admin's token (all scopes). VmRSS of every process
 * of the ModGate tree is sampled for PUB_BASELINE_MS before the upload (the
 * baseline: the median) and during it (the peak), every PUB_RSS_INTERVAL_MS;
 * growth is peak − baseline of the process that grew most (the worker that
 * took the upload). Each answer must be 201 with the h1: hash of the files
 * and the zip's size; afterwards the versions must read back byte for byte
 * with the Basic credentials of the authenticated run, and the private path
 * must refuse anonymous reads (401: the read path really checks them).
 */
async function publishRun(mg, adminToken, readHeaders) {
  const dir = path.join(state.tmp, 'publish');
  fs.mkdirSync(dir, { recursive: true });
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/zip' };
  const uploads = [];
  const zips = [];
  let window = null;
  await sleep(1000); // let the processes settle after the read runs before the first baseline
  for (const version of PUB_VERSIONS) {
    const zip = await buildModuleZip(path.join(dir, `${version}.zip`), { modulePath: PUB_MODULE, version, goMod: PUB_GO_MOD, blobs: PUB_BLOBS, blobBytes: PUB_BLOB_BYTES });
    zips.push(zip);
    const url = `${mg.url}/api/v1/modules/${PUB_MODULE}/@v/${version}`;
    const sampler = startRssSampler(mg.child.pid, PUB_RSS_INTERVAL_MS);
    await sleep(PUB_BASELINE_MS);
    sampler.mark();
    const startUs = nowUs();
    let res;
    let rss;
    try {
      res = await putFile(url, zip.file, headers);
    } finally {
      rss = sampler.stop();
    }
    const endUs = nowUs();
    window = { startUs: window ? window.startUs : startUs, endUs };
    const text = res.body.toString('utf8');
    if (res.status !== 201) throw new Error(`PUT ${url} answered ${res.status} (want 201): ${text.slice(0, 300)}`);
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`PUT ${url} answered 201 without JSON: ${text.slice(0, 100)}`);
    }
    if (doc.zipHash !== zip.h1) throw new Error(`PUT ${url}: zipHash ${doc.zipHash}, want ${zip.h1} (the h1: of the files uploaded)`);
    if (doc.zipSize !== zip.size) throw new Error(`PUT ${url}: zipSize ${doc.zipSize}, want ${zip.size}`);
    const top = rss.perPid.filter((p) => p.growth != null).sort((a, b) => b.growth - a.growth)[0] ?? null;
    // The process that took the upload: the busiest during it (it reads, hashes and checks 50 MiB).
    const handler = rss.perPid.filter((p) => p.cpuSeconds != null).sort((a, b) => b.cpuSeconds - a.cpuSeconds)[0] ?? null;
    const seconds = res.ms / 1000;
    const u = {
      version,
      status: res.status,
      zipBytes: zip.size,
      seconds,
      bytesPerSec: zip.size / seconds,
      mibPerSec: zip.size / seconds / 1048576,
      mbPerSec: zip.size / seconds / 1e6,
      rssGrowthMiB: top ? top.growth / 1048576 : null,
      rssGrowthPid: top ? top.pid : null,
      rssTreeGrowthMiB: rss.tree.growth == null ? null : rss.tree.growth / 1048576,
      handlerPid: handler ? handler.pid : null,
      handlerCpuSeconds: handler ? handler.cpuSeconds : null,
      handlerRssGrowthMiB: handler ? mibOrNull(handler.growth) : null,
      rssSamples: rss.samples,
      rss: rss.perPid.map((p) => ({ pid: p.pid, baselineMiB: mibOrNull(p.baseline), peakMiB: mibOrNull(p.peak), growthMiB: mibOrNull(p.growth), cpuSeconds: p.cpuSeconds })),
      zipHash: doc.zipHash,
    };
    uploads.push(u);
    log(`published ${PUB_MODULE}@${version}: ${mib(zip.size)} MiB in ${seconds.toFixed(2)} s (${fmt(u.mibPerSec, 1)} MiB/s), VmRSS +${fmt(u.rssGrowthMiB, 1)} MiB (pid ${u.rssGrowthPid}; tree +${fmt(u.rssTreeGrowthMiB, 1)} MiB, ${rss.samples} samples; taken by pid ${u.handlerPid}, ${fmt(u.handlerCpuSeconds, 2)} s CPU, +${fmt(u.handlerRssGrowthMiB, 1)} MiB)`);
  }

  // Read back: anonymous refused, then every version's .zip and the first one's .info and .mod with the credentials.
  const anon = await httpGet(`${mg.url}${PUB_INFO_PATH}`);
  if (anon.status !== 401) fail(`ModGate answered ${anon.status} to an anonymous read of the published ${PUB_INFO_PATH} (want 401): the private read path does not check credentials`);
  for (const zip of zips) {
    const r = await getHashed(`${mg.url}/${PUB_MODULE}/@v/${zip.version}.zip`, readHeaders);
    if (r.status !== 200 || r.sha256 !== zip.sha256) {
      throw new Error(`ModGate answered the published ${zip.version}.zip with ${r.status}, ${r.bytes} bytes, sha256 ${r.sha256.slice(0, 16)} (want 200, ${zip.size} bytes, ${zip.sha256.slice(0, 16)}): ${r.status === 200 ? '' : r.text}`);
    }
    fs.rmSync(zip.file, { force: true });
  }
  const mod = await httpRequest('GET', `${mg.url}/${PUB_MODULE}/@v/${PUB_VERSIONS[0]}.mod`, { headers: readHeaders });
  if (mod.status !== 200 || mod.body.toString('utf8') !== PUB_GO_MOD) throw new Error(`ModGate answered the published .mod with ${mod.status}: ${JSON.stringify(mod.body.toString('utf8').slice(0, 200))}`);
  const info = await verifyPublishedInfo('ModGate (published .info)', mg.url, readHeaders, null);
  log(`published versions read back (.zip ×${zips.length}, .mod, .info ${info.toString('utf8')}); anonymous .info: ${anon.status}`);
  // ~300 MiB were written (zips, spools, blobs): flush them now, not during the .info run that follows.
  spawnSync('sync', [], { timeout: 60_000, stdio: 'ignore' });

  const rates = uploads.map((u) => u.mibPerSec).sort((a, b) => a - b);
  const medianMibPerSec = rates[Math.floor(rates.length / 2)];
  const growths = uploads.map((u) => u.rssGrowthMiB).filter((x) => x != null);
  // The same processes over the whole run: peak of any upload minus the baseline before the first.
  const first = uploads[0]?.rss ?? [];
  const sinceFirst = first.map((p0) => Math.max(...uploads.map((u) => u.rss.find((p) => p.pid === p0.pid)?.peakMiB ?? -Infinity)) - p0.baselineMiB).filter(Number.isFinite);
  const report = {
    module: PUB_MODULE,
    route: `PUT /api/v1/modules/${PUB_MODULE}/@v/<version>`,
    credentials: 'Bearer <bootstrap admin token>',
    client: 'node:http, streamed from a file, Content-Length set, one fresh connection per upload',
    rssSampleIntervalMs: PUB_RSS_INTERVAL_MS,
    rssBaselineMs: PUB_BASELINE_MS,
    uploads,
    medianMibPerSec,
    medianMbPerSec: (medianMibPerSec * 1048576) / 1e6,
    maxRssGrowthMiB: growths.length ? Math.max(...growths) : null,
    rssGrowthSinceFirstBaselineMiB: sinceFirst.length ? Math.max(...sinceFirst) : null,
    readBack: { anonymousInfoStatus: anon.status, zips: zips.length, mod: true, info: JSON.parse(info.toString('utf8')) },
  };
  return { report, info, window };
}

/** The published .info with the credentials: 200, JSON of the first version; the same bytes as `expected` when given. */
async function verifyPublishedInfo(name, url, headers, expected) {
  const r = await httpRequest('GET', `${url}${PUB_INFO_PATH}`, { headers });
  const text = r.body.toString('utf8');
  if (r.status !== 200) throw new Error(`${name} answered ${r.status}: ${text.slice(0, 300)}`);
  let doc = null;
  try {
    doc = JSON.parse(text);
  } catch {
    /* checked below */
  }
  if (!doc || doc.Version !== PUB_VERSIONS[0] || typeof doc.Time !== 'string') throw new Error(`${name} returned ${JSON.stringify(text.slice(0, 200))}, want {"Version":"${PUB_VERSIONS[0]}","Time":…}`);
  if (expected && !r.body.equals(expected)) throw new Error(`${name} returned ${JSON.stringify(text)}, earlier ${JSON.stringify(expected.toString('utf8'))}`);
  return r.body;
}

// ---------------------------------------------------------------------------
// The audit log

/**
 * On a database and a store of their own (fresh: audit_events holds this
 * section's rows alone), filled once from the upstream:
 *   - audit: ModGate with MODGATE_AUDIT=false, cached .info under wrk; it must
 *     leave audit_events empty. Then stopped, and
 *   - ModGate with the audit log on (the default; audit or export), the same
 *     workers and settings: cached .info under wrk. The rows it wrote during
 *     the warm-up and the run are counted 1 s after the load and once the
 *     count stops moving, against the requests wrk completed: every answer is
 *     a row (a few more: requests in flight when wrk stops are served too).
 *   - export: on that ModGate, the whole log as jsonl, then csv, end to end
 *     (request to last byte), every line counted and the bytes checked
 *     against the export's signed manifest.
 */
async function auditSection({ upstream, adminToken }, files, runs) {
  const db = await createDatabase('audit');
  log(`database ${db.name} (audit section)`);
  const dataDir = path.join(state.tmp, 'audit-data');
  const blobsDir = path.join(state.tmp, 'audit-blobs');
  for (const d of [dataDir, blobsDir]) fs.mkdirSync(d, { recursive: true });
  const env = { dbUrl: db.url, dbName: db.name, dataDir, blobsDir, upstream, adminToken, workers: WORKERS, logLevel: 'warn', profileDir: null };
  const report = { database: 'its own, fresh; store filled once from the upstream', workers: WORKERS, logLevel: 'warn', off: null, on: null, exports: [] };
  let filled = false;
  const fill = async (m) => {
    if (filled) return;
    await verifyOne(`${m.name} (fill)`, m.url, 'info', files.info);
    filled = true;
    state.upstreamBaseline = state.upstream.requests(); // this store was filled just now
  };

  if (want('audit')) {
    const off = await startModGate('audit-off', { ...env, audit: false });
    try {
      await fill(off);
      const c0 = costSample(off, db.name);
      const run = await measure(T.AUDIT_OFF, 'info', off, CONNS_SMALL);
      const cost = costSince(c0, off, db.name, run.requests + run.warmupRequests);
      await verifyOne(`${off.name} (after the load)`, off.url, 'info', files.info);
      const after = await auditRows(db.url);
      run.auditRows = after.rows;
      runs.push(run);
      report.off = { env: 'MODGATE_AUDIT=false', requestsServed: run.requests + run.warmupRequests, rowsInTable: after.rows, cost };
      if (after.rows !== 0) fail(`${off.name} (MODGATE_AUDIT=false): audit_events holds ${after.rows} rows, want 0: the audit log was not off, the comparison means nothing`);
    } finally {
      await stopChild(off.child, 'SIGTERM', 20_000);
    }
    checkNoUpstreamDuringLoad(off.name);
  }

  const on = await startModGate('audit-on', env);
  try {
    await fill(on);
    // Whatever the start and the fill wrote (the fill's own download row) is in before the load.
    const q0 = await waitForQuiet(db.url, { timeoutMs: 5000 });
    const c0 = costSample(on, db.name);
    const run = await measure(T.AUDIT_ON, 'info', on, CONNS_SMALL);
    const served = run.requests + run.warmupRequests;
    const tEnd = Date.now();
    const atEnd = await auditRows(db.url);
    await sleep(Math.max(0, 1000 - (Date.now() - tEnd)));
    const at1s = await auditRows(db.url);
    const at1sMs = Date.now() - tEnd;
    const quiet = await waitForQuiet(db.url, { timeoutMs: AUDIT_DRAIN_TIMEOUT_MS });
    const cost = costSince(c0, on, db.name, served); // the writers' catching up after the load included
    const actions = await auditActions(db.url, q0.maxSeq);
    // The writers' own counters (summed over the workers): written includes spill files replayed.
    const metrics = await auditMetrics(on.url, on.workers).catch((err) => (log(`warning: /metrics: ${err.message}`), null));
    const written = quiet.rows - q0.rows;
    run.auditRows = written;
    runs.push(run);
    report.on = {
      env: 'MODGATE_AUDIT unset (on)',
      requestsServed: served, // wrk's completed requests, warm-up and run
      rowsBefore: q0.rows,
      rowsAtEnd: atEnd.rows - q0.rows, // right after wrk exited
      lagAtEnd: Math.max(0, served - (atEnd.rows - q0.rows)),
      rowsAt1s: at1s.rows - q0.rows,
      msAfterLoadAt1s: at1sMs,
      lagAt1s: Math.max(0, served - (at1s.rows - q0.rows)),
      rowsWritten: written,
      rowsMinusRequests: written - served,
      settled: quiet.settled,
      // When the count last moved (ms after the load); null: not after the 1 s count.
      lastRowMsAfterLoad: quiet.lastMovedMs > 0 ? quiet.lastMovedMs + at1sMs : null,
      actions,
      rowsInTable: quiet.rows,
      metrics, // modgate_audit_events_{written,spilled}_total etc. over the workers, since their start
      cost,
    };
    log(`${on.name}: ${fmt(served, 0)} requests served (warm-up + run), ${fmt(at1s.rows - q0.rows, 0)} audit rows 1 s after the load, ${fmt(written, 0)} once the count stopped moving; ${quiet.rows} rows in audit_events`);
    // A writer still behind is a figure (reported), not a failure; rows missing once it is done are.
    if (!quiet.settled) log(`warning: ${on.name}: the audit_events count still moved ${AUDIT_DRAIN_TIMEOUT_MS / 1000} s after the load (${fmt(served - written, 0)} rows behind); the export runs while the writers catch up`);
    else if (written < served) fail(`${on.name}: ${fmt(written, 0)} audit rows for ${fmt(served, 0)} requests served: ${served - written} download events missing`);
    const stray = actions.filter((a) => a.action !== 'download.info' || a.outcome !== 'allowed');
    if (stray.length) fail(`${on.name}: unexpected audit rows during the .info load: ${JSON.stringify(stray)}`);
    await verifyOne(`${on.name} (after the load)`, on.url, 'info', files.info);

    if (want('export')) {
      for (const format of EXPORT_FORMATS) report.exports.push(await exportRun(on, db, adminToken, format));
    }
  } finally {
    await stopChild(on.child, 'SIGTERM', 20_000);
  }
  checkNoUpstreamDuringLoad(on.name);
  const [a, b] = [report.on?.cost?.usPerRequest, report.off?.cost?.usPerRequest];
  report.cpuPerRequestOnVsOff = a && b ? a / b : null;
  return report;
}

/**
 * The whole cost of a load: CPU of the ModGate tree and of the database's
 * PostgreSQL backends from before the warm-up until the writers are drained
 * (the "on" run) or the load ends (the "off" one), per request served. Less
 * disturbed by other processes than requests/s, and unlike the run's own
 * µs/request it includes the rows written after the load.
 */
function costSample(m, dbName) {
  return { tree: treeCpu(m.child.pid), db: cmdlineCpu(dbName), at: nowUs() };
}

function costSince(c0, m, dbName, requests) {
  const tree = treeCpu(m.child.pid);
  const serverCpuS = c0.tree && tree ? tree.seconds - c0.tree.seconds : null;
  const dbCpuS = process.platform === 'linux' ? cmdlineCpuDelta(c0.db, cmdlineCpu(dbName)) : null;
  const us = (x) => (x != null && requests ? (x * 1e6) / requests : null);
  return { seconds: (nowUs() - c0.at) / 1e6, requests, serverCpuS, dbCpuS, serverUsPerRequest: us(serverCpuS), dbUsPerRequest: us(dbCpuS), usPerRequest: us(serverCpuS == null ? null : serverCpuS + (dbCpuS ?? 0)) };
}

/**
 * GET /api/v1/audit/export?format=… with the bootstrap admin token, timed
 * from the request to the last byte; the client counts bytes and lines and
 * hashes the body (nothing kept). Then the signed manifest of the export:
 * its rows must be the lines (csv: less the header), its bytes and SHA-256
 * those received.
 */
async function exportRun(m, db, adminToken, format) {
  const headers = { authorization: `Bearer ${adminToken}` };
  const url = `${m.url}/api/v1/audit/export?format=${format}`;
  const before = await auditRows(db.url);
  log(`export ${format}: GET /api/v1/audit/export?format=${format} (${fmt(before.rows, 0)} rows in audit_events)`);
  const db0 = cmdlineCpu(db.name);
  const cpu0 = treeCpu(m.child.pid);
  const m0 = machineCpu();
  const r = await download(url, headers);
  const m1 = machineCpu();
  const cpu1 = treeCpu(m.child.pid);
  const db1 = cmdlineCpu(db.name);
  if (r.status !== 200) throw new Error(`GET ${url} answered ${r.status}: ${r.head.slice(0, 300)}`);
  const id = r.headers['x-modgate-export-id'];
  if (!id) throw new Error(`GET ${url} answered 200 without X-ModGate-Export-Id`);
  const signed = await getJson(`${m.url}/api/v1/audit/exports/${id}/manifest`, headers);
  const man = signed.manifest ?? {};
  const dataLines = format === 'csv' ? r.lines - 1 : r.lines;
  if (man.rows !== dataLines) fail(`export ${format}: ${dataLines} ${format === 'csv' ? 'rows (lines less the header)' : 'lines'} received, the manifest says ${man.rows} rows`);
  if (man.bytes !== r.bytes || man.sha256 !== r.sha256) fail(`export ${format}: ${r.bytes} bytes, sha256 ${r.sha256.slice(0, 16)} received; the manifest says ${man.bytes} bytes, ${String(man.sha256).slice(0, 16)}`);
  // The export records itself (audit.export) before it reads the head: one more row than before.
  if (!(man.rows >= before.rows)) fail(`export ${format}: ${man.rows} rows exported, ${before.rows} were in audit_events before`);
  const seconds = r.ms / 1000;
  const wallS = seconds;
  const cpuSeconds = cpu0 && cpu1 ? cpu1.seconds - cpu0.seconds : null;
  const dbCpuSeconds = process.platform === 'linux' ? cmdlineCpuDelta(db0, db1) : null;
  const x = {
    format,
    contentType: r.headers['content-type'] ?? null,
    rows: man.rows,
    rowsInTableBefore: before.rows,
    bytes: r.bytes,
    lines: r.lines,
    bytesPerRow: man.rows ? r.bytes / man.rows : null,
    seconds,
    firstByteMs: r.firstByteMs,
    rowsPerSec: man.rows / seconds,
    mbPerSec: r.bytes / 1e6 / seconds,
    mibPerSec: r.bytes / 1048576 / seconds,
    serverCpuCores: cpuSeconds != null ? cpuSeconds / wallS : null,
    serverCpuUsPerRow: cpuSeconds != null && man.rows ? (cpuSeconds * 1e6) / man.rows : null,
    dbCpuCores: dbCpuSeconds != null ? dbCpuSeconds / wallS : null,
    benchCpuCores: m0 && m1 ? (m1.self - m0.self) / wallS : null,
    manifest: { id, firstSeq: man.firstSeq, lastSeq: man.lastSeq, headSeq: man.headSeq, sha256: man.sha256, keyId: man.keyId, signed: typeof signed.signature === 'string' },
  };
  log(`export ${format}: ${fmt(x.rows, 0)} rows, ${mib(x.bytes)} MiB in ${seconds.toFixed(2)} s: ${fmt(x.rowsPerSec, 0)} rows/s, ${fmt(x.mbPerSec, 1)} MB/s (first byte after ${fmt(r.firstByteMs, 0)} ms)`);
  return x;
}

// ---------------------------------------------------------------------------
// Unknown versions: the negative cache

/**
 * On the main ModGate (after its read runs): NEG_VERSIONS versions of the
 * public module that the upstream does not have (v1.1.0 … v1.<N>.0; it
 * answers 404). The negative cache is per process, so each serving process
 * is filled on its own: one keep-alive connection pinned to each (found in
 * /proc), every path requested once through each: one upstream request per
 * version and process, answered 404. A second pass through the same
 * connections must be answered from the negative cache alone (no upstream
 * request; modgate_cache_lookups_total{result="negative"} +N per process).
 * Then wrk cycles through the paths (a Lua script; the warm-up counts the
 * answers by status: all 404), the upstream must see no request, and the
 * negative lookups over the processes must cover the requests served; every
 * path still answers 404 afterwards. Right after it, the cached public .info
 * under the same kind of wrk script (one path): the pair for the ratio.
 */
async function negativeRun(mg, files, runs) {
  const pids = mg.workers > 1 ? mg.workerPids : [mg.pid];
  const ttlS = mg.negativeCacheSeconds;
  const dir = path.join(state.tmp, 'wrk');
  fs.mkdirSync(dir, { recursive: true });
  const asked = NEG_PATHS.filter((p) => state.upstream.requestsFor(p) > 0);
  if (asked.length) throw new Error(`negative run: the upstream was asked for ${asked.length} of the unknown versions before the run (${asked[0]}): they must be new to ModGate`);
  const sumOf = (cs, f) => cs.reduce((a, c) => a + (f(c) ?? 0), 0);
  const negLookups = (c) => c.lookups.negative ?? 0;
  const counters = async () => {
    const pins = await pinConnections(mg.url, pids);
    try {
      return await Promise.all(pins.map(processCounters));
    } finally {
      unpin(pins);
    }
  };
  // Every path through every pinned connection; answers must be 404 "not found: …".
  const pass = async (pins, what) => {
    const wrong = [];
    let sample = null;
    await Promise.all(
      pins.map(async (pin) => {
        for (const p of NEG_PATHS) {
          const r = await pin.get(p);
          const text = r.body.toString('utf8');
          if (r.status !== 404 || !/^not found/i.test(text)) wrong.push(`${p} via pid ${pin.pid}: ${r.status} ${text.slice(0, 120)}`);
          else sample ??= text.trim();
        }
      }),
    );
    if (wrong.length) throw new Error(`negative run (${what}): ${wrong.length} of ${NEG_PATHS.length * pins.length} answers were not 404 "not found": ${wrong.slice(0, 3).join('; ')}`);
    return sample;
  };

  const pins = await pinConnections(mg.url, pids);
  const report = { module: MODULE, versions: NEG_VERSIONS, paths: `/${MODULE}/@v/v1.<1…${NEG_VERSIONS}>.0.info`, negativeCacheSeconds: ttlS, processes: pins.map((p) => p.pid) };
  let primedAt;
  try {
    const c0 = await Promise.all(pins.map(processCounters));
    const up0 = state.upstream.snapshot();
    const upTotal0 = state.upstream.requests();
    primedAt = Date.now();
    report.notFoundBody = await pass(pins, 'filling');
    report.primeMs = Date.now() - primedAt;
    const c1 = await Promise.all(pins.map(processCounters));
    // The upstream: each version asked at most once per process (the cache is per process), nothing else.
    const perVersion = NEG_PATHS.map((p) => state.upstream.requestsFor(p));
    const others = state.upstream.since(up0).filter(([p]) => !NEG_PATHS.includes(p));
    const maxPer = Math.max(...perVersion);
    const minPer = Math.min(...perVersion);
    report.fill = {
      requests: NEG_VERSIONS * pins.length,
      ms: report.primeMs,
      upstreamRequests: state.upstream.requests() - upTotal0,
      upstreamPerVersion: { min: minPer, max: maxPer, processes: pins.length },
      upstreamOtherPaths: others.slice(0, 10).map(([p, n]) => ({ path: p, requests: n })),
      modgateUpstreamRequests: sumOf(c1, (c) => c.upstreamTotal) - sumOf(c0, (c) => c.upstreamTotal),
      modgateUpstreamByOutcome: diffOutcomes(c0, c1),
    };
    if (maxPer > pins.length) fail(`negative run: the upstream got up to ${maxPer} requests for one unknown version while filling ${pins.length} process(es): more than one per process`);
    if (others.length) fail(`negative run: filling asked the upstream for other paths too: ${others.slice(0, 3).map(([p, n]) => `${p} ×${n}`).join(', ')}`);
    log(`negative: ${fmt(NEG_VERSIONS, 0)} unknown versions × ${pins.length} process(es) answered 404 in ${fmt(report.primeMs, 0)} ms; upstream ${minPer === maxPer ? maxPer : `${minPer}-${maxPer}`} request(s) per version (one per process), ${report.fill.upstreamRequests} in all`);

    // Second pass: the negative cache alone.
    const up1 = state.upstream.requests();
    const t1 = Date.now();
    await pass(pins, 'from the negative cache');
    const againMs = Date.now() - t1;
    const c2 = await Promise.all(pins.map(processCounters));
    const negPerProcess = c2.map((c, i) => negLookups(c) - negLookups(c1[i]));
    report.again = { requests: NEG_VERSIONS * pins.length, ms: againMs, upstreamRequests: state.upstream.requests() - up1, negativeLookupsPerProcess: negPerProcess };
    if (report.again.upstreamRequests !== 0) fail(`negative run: the second pass over the unknown versions asked the upstream ${report.again.upstreamRequests} time(s): not answered from the negative cache`);
    const short = negPerProcess.filter((n) => n < NEG_VERSIONS);
    if (short.length) fail(`negative run: the second pass counted ${negPerProcess.join(' / ')} negative lookups per process, want ${NEG_VERSIONS} each`);
  } finally {
    unpin(pins);
  }

  // Under load: wrk cycling through the paths.
  const runScript = wrkPathsScript(path.join(dir, 'negative.lua'), NEG_PATHS);
  const warmScript = wrkPathsScript(path.join(dir, 'negative-count.lua'), NEG_PATHS, { countStatuses: true });
  const c3 = await counters();
  state.upstreamBaseline = state.upstream.requests();
  const run = await measure(T.NEGATIVE, 'info', mg, CONNS_SMALL, {}, NEG_PATHS[0], { script: runScript, warmupScript: warmScript, expectStatus: 404 });
  const c4 = await counters();
  const loadEndedAt = Date.now();
  run.paths = NEG_VERSIONS;
  runs.push(run);
  const served = run.requests + run.warmupRequests;
  const upDuring = state.upstream.requests() - state.upstreamBaseline;
  const negDuring = sumOf(c4, negLookups) - sumOf(c3, negLookups);
  report.load = {
    requestsServed: served, // wrk's completed requests, warm-up and run
    warmupStatuses: run.warmupStatuses,
    non2xx: run.non2xx,
    negativeLookups: negDuring, // over the processes: ≥ requests served (a few in flight when wrk stopped)
    negativeLookupsPerProcess: c4.map((c, i) => negLookups(c) - negLookups(c3[i])),
    upstreamRequests: upDuring,
    modgateUpstreamRequests: sumOf(c4, (c) => c.upstreamTotal) - sumOf(c3, (c) => c.upstreamTotal),
    secondsSinceFill: (loadEndedAt - primedAt) / 1000,
  };
  if (upDuring !== 0) fail(`negative run: the upstream got ${upDuring} request(s) during the load: some "not found" answers were not from the negative cache${report.load.secondsSinceFill >= ttlS ? ` (the entries were ${fmt(report.load.secondsSinceFill, 0)} s old, MODGATE_NEGATIVE_CACHE_SECONDS=${ttlS})` : ''}`);
  if (negDuring < served) fail(`negative run: ${fmt(negDuring, 0)} negative-cache lookups for ${fmt(served, 0)} requests served: some answers were not 404s from the negative cache`);
  log(`negative: ${fmt(served, 0)} requests (warm-up statuses ${JSON.stringify(run.warmupStatuses)}), ${fmt(negDuring, 0)} negative lookups, upstream ${upDuring} requests during the load`);
  // Still "not found" (spot check: every 10th path, fresh connections), then the cached .info is still right.
  for (const p of NEG_PATHS.filter((_, i) => i % 10 === 0)) {
    const r = await httpGet(`${mg.url}${p}`);
    if (r.status !== 404) fail(`negative run: ${p} answered ${r.status} after the load (want 404)`);
  }
  await verifyOne('ModGate (after the negative load)', mg.url, 'info', files.info);

  // The pair: cached public .info right after, through the same kind of wrk script (one path).
  const cachedScript = wrkPathsScript(path.join(dir, 'cached-info.lua'), [URL_PATHS.info]);
  const pair = await measure(T.NEG_PAIRED, 'info', mg, CONNS_SMALL, {}, URL_PATHS.info, { script: cachedScript });
  runs.push(pair);
  await verifyOne('ModGate (after the cached .info load)', mg.url, 'info', files.info);
  // Whatever the upstream answered while filling is the new baseline for the main ModGate's later check.
  state.upstreamBaseline = state.upstream.requests();
  return report;
}

/** modgate_upstream_requests_total by outcome, summed over the processes, between two sets of counters. */
function diffOutcomes(before, after) {
  const out = {};
  for (const [i, c] of after.entries()) {
    for (const [k, v] of Object.entries(c.upstream)) out[k] = (out[k] ?? 0) + v - (before[i]?.upstream[k] ?? 0);
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== 0));
}

// ---------------------------------------------------------------------------
// The soak

/**
 * A new ModGate (MODGATE_WORKERS=WORKERS, warn, the main database and store,
 * audit log on) in front of the upstream, which now also serves a small
 * module graph (lib/soak.js: 5 modules, 11 versions, built by gotool
 * build-tree). One go client builds the program first (fills the graph from
 * the upstream; not counted). Then for SOAK_SECONDS: SOAK_CLIENTS loops of
 * fresh go clients (new HOME, GOPATH, GOMODCACHE, GOCACHE each time; `go mod
 * download all`, `go build`, run the program, remove the dir) and wrk on the
 * cached public .info (-t1 -c SOAK_WRK_CONNS) beside them. Reported: builds
 * done and failed, their times, the upstream requests after the first build,
 * wrk's figures, and VmRSS of every ModGate process (every
 * SOAK_RSS_INTERVAL_MS; start: after the first build and a pause, end: a
 * pause after the load).
 */
async function soakSection(mgEnv, www, files) {
  const versions = await buildSoakTree(www, state.tmp);
  const modules = [...new Set(versions.map((v) => v.path))];
  log(`soak: module graph of ${modules.length} modules, ${versions.length} versions on the upstream (${modules.join(', ')})`);
  const m = await startModGate('soak', { ...mgEnv, workers: WORKERS, logLevel: 'warn', profileDir: null });
  const clientsDir = path.join(state.tmp, 'soak-clients');
  fs.mkdirSync(clientsDir, { recursive: true });
  const spawnGo = (label) => (cmd, args, o) => track(`go[${label}]`, spawn(cmd, args, o));
  const build = (label) => goClientBuild({ goproxy: m.url, parent: clientsDir, label, timeoutMs: SOAK_BUILD_TIMEOUT_MS, spawnGo: spawnGo(label) });
  const report = {
    seconds: SOAK_SECONDS,
    clients: SOAK_CLIENTS,
    workers: WORKERS,
    graph: { modules, versions: versions.map((v) => `${v.path}@${v.version}`) },
    client: 'fresh HOME/GOPATH/GOMODCACHE/GOCACHE per build; GOPROXY=<ModGate>, GOSUMDB=off, GOFLAGS=-mod=mod -modcacherw, GOTOOLCHAIN=local; go mod download all, go build -o app ., ./app (output checked)',
    processes: { primary: m.pid, workers: m.workerPids },
  };
  try {
    const rssReady = rssOf(m);
    await verifyOne(`${m.name} (fill)`, m.url, 'info', files.info);
    const up0 = state.upstream.requests();
    const warm = await build('first');
    if (!warm.ok) throw new Error(`soak: the first go build through ${m.name} failed: ${warm.error}`);
    report.firstBuild = { ms: warm.ms, steps: warm.steps, upstreamRequests: state.upstream.requests() - up0 };
    log(`soak: first build (fills the graph) in ${fmt(warm.ms, 0)} ms, ${report.firstBuild.upstreamRequests} upstream requests`);
    await sleep(SOAK_SETTLE_MS);

    const upSnap = state.upstream.snapshot();
    const upStart = state.upstream.requests();
    const timeline = startRssTimeline(m.pid, SOAK_RSS_INTERVAL_MS);
    const pids0 = timeline.pids;
    const cpu0 = treeCpu(m.pid);
    const startedAt = Date.now();
    const deadline = startedAt + SOAK_SECONDS * 1000;
    log(`soak: ${SOAK_SECONDS} s, ${SOAK_CLIENTS} go client loops + wrk -t${SOAK_WRK_THREADS} -c${SOAK_WRK_CONNS} on ${URL_PATHS.info}`);
    const wrkRun = runWrk({ url: `${m.url}${URL_PATHS.info}`, threads: SOAK_WRK_THREADS, connections: SOAK_WRK_CONNS, seconds: SOAK_SECONDS, timeout: '5s' }, (child) => track('wrk', child, false));
    const builds = [];
    const loop = async (i) => {
      for (let k = 0; Date.now() < deadline && !state.interrupted; k++) {
        const r = await build(`c${i}-${k}`);
        builds.push({ client: i, atS: (Date.now() - startedAt) / 1000, ...r });
        if (!r.ok) log(`soak: client ${i} build ${k} FAILED after ${fmt(r.ms, 0)} ms: ${r.error}`);
      }
    };
    const [wrkOut] = await Promise.all([wrkRun, ...Array.from({ length: SOAK_CLIENTS }, (_, i) => loop(i))]);
    const endedAt = Date.now();
    const cpu1 = treeCpu(m.pid);
    timeline.sample(); // the last one under load
    await sleep(SOAK_SETTLE_MS);
    const samples = timeline.stop();
    const w = parseWrk(wrkOut);
    if (!w.requestsPerSec) fail(`soak: wrk reported no requests/s:\n${wrkOut}`);
    if (w.non2xx > 0) fail(`soak: ${w.non2xx} non-2xx/3xx answers to the cached .info under load`);
    if (m.child.exitCode !== null) fail(`${m.name} exited during the soak`);
    const pidsNow = treePids(m.pid);
    if (pidsNow.join() !== pids0.join()) fail(`${m.name}: its processes changed during the soak (${pids0.join(' ')} → ${pidsNow.join(' ')}): a worker died?`);
    await verifyOne(`${m.name} (after the soak)`, m.url, 'info', files.info);

    const ok = builds.filter((b) => b.ok);
    const failed = builds.filter((b) => !b.ok);
    if (failed.length) fail(`soak: ${failed.length} of ${builds.length} go builds failed (first: ${failed[0].error})`);
    const times = ok.map((b) => b.ms).sort((a, b) => a - b);
    const q = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))] : null);
    const stepMedian = (name) => {
      const xs = ok.map((b) => b.steps.find((s) => s.step.startsWith(name))?.ms).filter((x) => x != null).sort((a, b) => a - b);
      return xs.length ? xs[Math.floor(xs.length / 2)] : null;
    };
    const wall = (endedAt - startedAt) / 1000;
    // VmRSS: first sample (start of the load), last (a pause after it), the peak; per process and the tree.
    const first = samples[0];
    const last = samples[samples.length - 1];
    const perProcess = pids0.map((pid) => {
      const xs = samples.map((s) => s.perPid[pid]).filter((x) => x != null);
      const start = first.perPid[pid];
      const end = last.perPid[pid];
      return { pid, role: pid === m.pid ? (WORKERS > 1 ? 'primary' : 'server') : 'worker', startMiB: mibOrNull(start), endMiB: mibOrNull(end), peakMiB: mibOrNull(xs.length ? Math.max(...xs) : null), growthMiB: start != null && end != null ? (end - start) / 1048576 : null };
    });
    const loadSamples = samples.filter((s) => s.s <= (endedAt - startedAt) / 1000 + 0.5);
    const trend = (xs) => slope(xs.map((s) => [s.s / 60, s.treeBytes == null ? null : s.treeBytes / 1048576]));
    const treeSlope = trend(loadSamples);
    // The second half alone: a heap that is still growing to its working size levels off, a leak does not.
    const secondHalfSlope = trend(loadSamples.filter((s) => s.s >= (endedAt - startedAt) / 2000));
    // Under load VmRSS saw-tooths with the garbage collector (up by the young generation's
    // size, down at each major GC): its low-water mark is what creeps when memory leaks. Compared
    // per third of the load after its first sixth (the ramp from idle to loaded).
    const loadS = (endedAt - startedAt) / 1000;
    const rampS = loadS / 6;
    const third = (loadS - rampS) / 3;
    const thirds = [0, 1, 2].map((k) => {
      const [a, b] = [rampS + k * third, rampS + (k + 1) * third];
      const xs = loadSamples.filter((x) => x.s >= a && x.s <= b + 0.01);
      const tree = xs.map((x) => x.treeBytes).filter((x) => x != null).sort((a, b) => a - b);
      const minOf = (pid) => {
        const v = xs.map((x) => x.perPid[pid]).filter((b) => b != null);
        return v.length ? Math.min(...v) / 1048576 : null;
      };
      const perPid = Object.fromEntries(pids0.map((pid) => [pid, minOf(pid)]));
      return { fromS: Number(a.toFixed(1)), toS: Number(b.toFixed(1)), samples: tree.length, minMiB: mibOrNull(tree[0] ?? null), medianMiB: mibOrNull(tree[Math.floor(tree.length / 2)] ?? null), maxMiB: mibOrNull(tree[tree.length - 1] ?? null), minPerPidMiB: perPid };
    });
    const lowWaterGrowth = thirds[0].minMiB != null && thirds[2].minMiB != null ? thirds[2].minMiB - thirds[0].minMiB : null;
    const rss = {
      intervalMs: SOAK_RSS_INTERVAL_MS,
      rampS, // the first sixth of the load, left out of the thirds
      thirds, // of the load after the ramp: min, median, max of the sum; min per process
      lowWaterGrowthMiB: lowWaterGrowth, // min of the last third − min of the first third (the aim)
      atReadyMiB: mibOrNull(rssReady.tree),
      startMiB: mibOrNull(first.treeBytes),
      endMiB: mibOrNull(last.treeBytes),
      peakMiB: mibOrNull(Math.max(...samples.map((s) => s.treeBytes ?? 0))),
      growthMiB: first.treeBytes != null && last.treeBytes != null ? (last.treeBytes - first.treeBytes) / 1048576 : null,
      slopeMiBPerMin: treeSlope, // least squares over the samples during the load
      slopeSecondHalfMiBPerMin: secondHalfSlope,
      maxProcessGrowthMiB: Math.max(...perProcess.map((p) => p.growthMiB ?? -Infinity)),
      perProcess,
      samples: samples.map((s) => ({ s: Number(s.s.toFixed(1)), treeMiB: s.treeBytes == null ? null : Number((s.treeBytes / 1048576).toFixed(1)) })),
    };
    Object.assign(report, {
      wallSeconds: wall,
      builds: { done: ok.length, failed: failed.length, total: builds.length, perClient: Array.from({ length: SOAK_CLIENTS }, (_, i) => builds.filter((b) => b.client === i).length), perMinute: (ok.length / wall) * 60, medianMs: q(0.5), p95Ms: q(0.95), maxMs: times.length ? times[times.length - 1] : null, stepMedianMs: { download: stepMedian('go mod download'), build: stepMedian('go build'), run: stepMedian('app') }, failures: failed.slice(0, 5).map((b) => ({ client: b.client, atS: b.atS, error: b.error })) },
      upstreamRequestsDuringLoad: state.upstream.requests() - upStart,
      upstreamPathsDuringLoad: state.upstream.since(upSnap).slice(0, 10).map(([p, n]) => ({ path: p, requests: n })),
      wrk: { url: URL_PATHS.info, threads: SOAK_WRK_THREADS, connections: SOAK_WRK_CONNS, requestsPerSec: w.requestsPerSec, requests: w.requests, latencyP50Ms: w.p50Ms, latencyP99Ms: w.p99Ms, non2xx: w.non2xx, socketErrors: w.socketErrors },
      serverCpuCores: cpu0 && cpu1 ? (cpu1.seconds - cpu0.seconds) / wall : null,
      rss,
    });
    log(`soak: ${ok.length} builds done, ${failed.length} failed in ${fmt(wall, 0)} s; wrk ${fmt(w.requestsPerSec, 0)} req/s; VmRSS ${fmt(rss.startMiB, 1)} → ${fmt(rss.endMiB, 1)} MiB (peak ${fmt(rss.peakMiB, 1)})`);
    if (report.upstreamRequestsDuringLoad > 0) log(`soak: note: the upstream got ${report.upstreamRequestsDuringLoad} request(s) after the first build: ${report.upstreamPathsDuringLoad.map((x) => `${x.path} ×${x.requests}`).join(', ')}`);
  } finally {
    await stopChild(m.child, 'SIGTERM', 20_000);
  }
  return report;
}

/** VmRSS of every process of a ModGate (bytes): { tree, perPid }. */
function rssOf(m) {
  const perPid = {};
  let tree = 0;
  for (const pid of treePids(m.pid)) {
    const b = rssBytes(pid);
    perPid[pid] = b;
    tree += b ?? 0;
  }
  return { tree, perPid };
}

// ---------------------------------------------------------------------------
// wrk

/**
 * A warm-up (WARMUP s, not recorded) and a measured wrk run (DURATION s) of
 * `urlPath`. Options: `script`, a wrk Lua script (e.g. cycling through many
 * paths; wrk still connects to urlPath's server), `warmupScript` for the
 * warm-up instead (one that counts answers by status), and `expectStatus`:
 * every answer must have that (non-2xx) status instead of a 2xx one (checked
 * by the warm-up's counts, and by wrk's non-2xx count equalling its requests).
 */
async function measure(target, kind, server, connections, headers = {}, urlPath = URL_PATHS[kind], opts = {}) {
  const url = `${server.url}${urlPath}`;
  const timeout = kind === 'zip' ? '30s' : '5s';
  const wrk = (seconds, script = opts.script) => runWrk({ url, threads: THREADS, connections, seconds, timeout, headers, script }, (child) => track('wrk', child, false));
  const expect = opts.expectStatus ?? null;
  // Answers that are not what the run expects: non-2xx normally; with expectStatus, anything else.
  const wrongAnswers = (w) => (expect == null ? w.non2xx : (w.requests || 0) - w.non2xx);
  let warmupRequests = 0;
  let warmupStatuses = null;
  // With a status-counting warm-up script, a 1 s warm-up even when WARMUP=0: the statuses are checked there.
  const warmS = WARMUP > 0 ? WARMUP : opts.warmupScript ? 1 : 0;
  if (warmS > 0) {
    const out = await wrk(warmS, opts.warmupScript ?? opts.script);
    const w = parseWrk(out);
    warmupRequests = WARMUP > 0 ? w.requests || 0 : 0;
    if (wrongAnswers(w) > 0) fail(`${target} .${kind}: ${wrongAnswers(w)} ${expect == null ? 'non-2xx/3xx' : `non-${expect} (2xx/3xx)`} responses during the warm-up`);
    if (opts.warmupScript) {
      warmupStatuses = parseStatuses(out);
      const others = warmupStatuses ? Object.entries(warmupStatuses).filter(([st]) => Number(st) !== (expect ?? 200)) : null;
      if (!warmupStatuses) fail(`${target} .${kind}: the warm-up script printed no status counts:\n${out}`);
      else if (others.length) fail(`${target} .${kind}: answers other than ${expect ?? 200} during the warm-up: ${others.map(([st, n]) => `${n} × ${st}`).join(', ')}`);
    }
  }
  log(`wrk ${target} .${kind}: -t${THREADS} -c${connections} -d${DURATION}s${Object.keys(headers).length ? ` -H ${Object.keys(headers).join(', ')}` : ''}${opts.script ? ` -s ${path.basename(opts.script)}` : ''}`);
  // Server CPU over the run: user+sys of the whole process tree (ModGate primary
  // and workers, nginx master and workers). The cores are shared with wrk, so
  // CPU per request compares contenders more fairly than req/s.
  // ModGate's database: the PostgreSQL backends of the bench database (the audit writers' INSERTs).
  const db0 = server.dbName ? cmdlineCpu(server.dbName) : null;
  const cpu0 = treeCpu(server.child.pid);
  const m0 = machineCpu();
  const startUs = nowUs();
  const out = await wrk(DURATION);
  const endUs = nowUs();
  const m1 = machineCpu();
  const cpu1 = treeCpu(server.child.pid);
  const db1 = server.dbName ? cmdlineCpu(server.dbName) : null;
  const r = parseWrk(out);
  const cpuSeconds = cpu0 && cpu1 ? cpu1.seconds - cpu0.seconds : null;
  const dbCpuSeconds = db0 && db1 && process.platform === 'linux' ? cmdlineCpuDelta(db0, db1) : null;
  const processes = cpu1 ? cpu1.pids.length : null;
  if (cpu0 && cpu1 && cpu0.pids.join() !== cpu1.pids.join()) fail(`${server.name}: its processes changed during the .${kind} run (${cpu0.pids.join(' ')} → ${cpu1.pids.join(' ')}): a worker died?`);
  if (processes != null && processes !== server.expectedProcesses) fail(`${server.name}: ${processes} processes during the .${kind} run, ${server.expectedProcesses} expected`);
  const wallS = (endUs - startUs) / 1e6;
  // Anything else busy on the machine disturbs the figures (the cores are shared): say so.
  const md = m0 && m1 ? { busy: m1.busy - m0.busy, steal: m1.steal - m0.steal, bench: m1.self - m0.self, wrk: m1.reapedChildren - m0.reapedChildren } : null;
  const otherCpuCores = md && cpuSeconds != null ? Math.max(0, md.busy - cpuSeconds - (dbCpuSeconds ?? 0) - md.bench - md.wrk) / wallS : null;
  if (server.child && server.child.exitCode !== null) fail(`${server.name} exited during the .${kind} run`);
  if (!r.requestsPerSec) fail(`${target} .${kind}: wrk reported no requests/s:\n${out}`);
  if (wrongAnswers(r) > 0) fail(`${target} .${kind}: ${wrongAnswers(r)} ${expect == null ? 'non-2xx/3xx' : `non-${expect} (2xx/3xx)`} responses under load`);
  const bytesPerSec = r.transferPerSec;
  return {
    target,
    kind,
    server: server.name,
    workers: server.workers,
    serverProcesses: processes,
    authenticated: Object.keys(headers).length > 0,
    url,
    threads: THREADS,
    connections,
    durationS: DURATION,
    requestsPerSec: r.requestsPerSec,
    transferBytesPerSec: bytesPerSec,
    mibPerSec: bytesPerSec / 1048576,
    latencyP50Ms: r.p50Ms,
    latencyP99Ms: r.p99Ms,
    requests: r.requests,
    warmupRequests,
    non2xx: r.non2xx,
    expectStatus: expect,
    warmupStatuses,
    script: opts.script ? path.basename(opts.script) : null,
    socketErrors: r.socketErrors,
    serverCpuCores: cpuSeconds != null ? cpuSeconds / wallS : null,
    serverCpuUsPerRequest: cpuSeconds != null && r.requests ? (cpuSeconds * 1e6) / r.requests : null,
    serverCpuMsPerMiB: cpuSeconds != null && r.transferPerSec ? (cpuSeconds * 1e3) / ((r.transferPerSec * DURATION) / 1048576) : null,
    dbCpuCores: dbCpuSeconds != null ? dbCpuSeconds / wallS : null,
    dbCpuUsPerRequest: dbCpuSeconds != null && r.requests ? (dbCpuSeconds * 1e6) / r.requests : null,
    wrkCpuCores: md ? md.wrk / wallS : null,
    otherCpuCores,
    stealCores: md ? md.steal / wallS : null,
    window: { startUs, endUs },
    raw: out,
  };
}

// ---------------------------------------------------------------------------
// Report

function computeRatios(runs) {
  const get = (target, kind) => runs.find((r) => r.target === target && r.kind === kind);
  const ratio = (a, b, field) => (a && b && a[field] && b[field] ? a[field] / b[field] : null);
  const mgInfo = get(T.MG, 'info');
  const single = get(T.SINGLE, 'info');
  const cpu = (target) => get(target, 'info')?.serverCpuUsPerRequest ?? null;
  return {
    workers: WORKERS,
    // ModGate with BENCH_WORKERS processes unless the name says 1 process.
    infoVsNginx: ratio(mgInfo, get(T.NGINX, 'info'), 'requestsPerSec'),
    infoSingleVsNginx: ratio(single, get(T.NGINX, 'info'), 'requestsPerSec'),
    infoVsFastify: ratio(mgInfo, get(T.FASTIFY, 'info'), 'requestsPerSec'),
    infoSingleVsFastify: ratio(single, get(T.FASTIFY, 'info'), 'requestsPerSec'),
    infoWorkersVsSingle: ratio(mgInfo, single, 'requestsPerSec'),
    modVsNginx: ratio(get(T.MG, 'mod'), get(T.NGINX, 'mod'), 'requestsPerSec'),
    zipVsNginx: ratio(get(T.MG, 'zip'), get(T.NGINX, 'zip'), 'transferBytesPerSec'),
    authVsAnonymous: ratio(get(T.AUTH, 'info'), mgInfo, 'requestsPerSec'),
    infoLogInfoVsWarn: ratio(get(T.LOG_INFO, 'info'), mgInfo, 'requestsPerSec'),
    // A published (private) version's .info against the cached public one, both with the same
    // Basic credentials: the run right after it (the pair), and the Basic-auth run of the start.
    publishedInfoVsCachedAuth: ratio(get(T.PUBLISHED, 'info'), get(T.AUTH_PAIRED, 'info'), 'requestsPerSec'),
    publishedInfoVsCachedAuthEarlier: ratio(get(T.PUBLISHED, 'info'), get(T.AUTH, 'info'), 'requestsPerSec'),
    publishedInfoVsCachedAnonymous: ratio(get(T.PUBLISHED, 'info'), mgInfo, 'requestsPerSec'),
    // The audit log on (default) against MODGATE_AUDIT=false: neighbouring runs, same settings, own database.
    auditOnVsOff: ratio(get(T.AUDIT_ON, 'info'), get(T.AUDIT_OFF, 'info'), 'requestsPerSec'),
    // Unknown versions answered from the negative cache against the cached public .info: the run
    // right after it (same wrk Lua script style), and the plain anonymous .info run of the start.
    negativeVsCachedInfo: ratio(get(T.NEGATIVE, 'info'), get(T.NEG_PAIRED, 'info'), 'requestsPerSec'),
    negativeVsCachedInfoEarlier: ratio(get(T.NEGATIVE, 'info'), mgInfo, 'requestsPerSec'),
    // Server CPU per .info request (µs), the same work measured as cost rather than rate.
    infoCpuUsPerRequest: {
      modgate: cpu(T.MG),
      modgateAuth: cpu(T.AUTH),
      modgatePublished: cpu(T.PUBLISHED),
      modgateAuthAfterPublish: cpu(T.AUTH_PAIRED),
      modgateLogInfo: cpu(T.LOG_INFO),
      modgateSingle: cpu(T.SINGLE),
      modgateAuditOff: cpu(T.AUDIT_OFF),
      modgateAuditOn: cpu(T.AUDIT_ON),
      modgateNegative: cpu(T.NEGATIVE),
      modgateCachedAfterNegative: cpu(T.NEG_PAIRED),
      nginx: cpu(T.NGINX),
      fastify: cpu(T.FASTIFY),
    },
  };
}

function printReport(runs, ratios, extra) {
  const procs = (r) => (r.serverProcesses == null ? `${r.workers}` : r.serverProcesses > r.workers ? `${r.workers}+${r.serverProcesses - r.workers}` : `${r.serverProcesses}`);
  const rows = runs.map((r) => [
    r.target,
    `.${r.kind}`,
    procs(r),
    `${r.connections}`,
    fmt(r.requestsPerSec, 0),
    r.kind === 'zip' ? `${fmt(r.mibPerSec, 1)} MiB/s` : `${fmt(r.mibPerSec, 2)} MiB/s`,
    `${fmt(r.latencyP50Ms, 2)} ms`,
    `${fmt(r.latencyP99Ms, 2)} ms`,
    r.serverCpuCores == null ? 'n/a' : `${fmt(r.serverCpuCores, 2)}`,
    r.kind === 'zip' ? (r.serverCpuMsPerMiB == null ? 'n/a' : `${fmt(r.serverCpuMsPerMiB, 2)} ms/MiB`) : r.serverCpuUsPerRequest == null ? 'n/a' : `${fmt(r.serverCpuUsPerRequest, 1)} µs/req`,
    r.dbCpuCores == null ? '-' : fmt(r.dbCpuCores, 2),
    r.wrkCpuCores == null ? 'n/a' : fmt(r.wrkCpuCores, 2),
    r.otherCpuCores == null ? 'n/a' : fmt(r.otherCpuCores, 2),
    socketErrorText(r),
  ]);
  const head = ['target', 'file', 'procs', 'conns', 'req/s', 'transfer', 'p50', 'p99', 'srv cores', 'srv CPU', 'db', 'wrk', 'other', 'errors'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cols) => cols.map((c, i) => (i >= 2 && i <= 12 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [];
  out.push('');
  out.push(`ModGate hot read path — wrk -t${THREADS}, ${DURATION} s per run (+${WARMUP} s warm-up), ${os.cpus().length} CPUs, node ${process.version}`);
  out.push(`ModGate MODGATE_WORKERS=${WORKERS} unless "1 process"; nginx worker_processes ${NGINX_WORKERS}; procs: serving processes + master/primary, all in "srv" CPU`);
  out.push('db: cores of the PostgreSQL backends of ModGate\'s database (the audit writers); wrk, other: cores used by wrk and by processes outside the benchmark during the run');
  if (PROFILE) out.push('(BENCH_PROFILE=1: the first ModGate ran under --cpu-prof; its figures include profiler overhead)');
  out.push('');
  out.push(line(head));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out.push(line(row));
  const disturbed = runs.filter((r) => r.otherCpuCores != null && r.otherCpuCores >= OTHER_CPU_WARN);
  if (disturbed.length > 0) {
    out.push(`note: other processes used ≥ ${OTHER_CPU_WARN} cores during ${disturbed.map((r) => `${r.target} .${r.kind}`).join(', ')}: those figures are disturbed`);
  }
  out.push('');
  const pct = (x) => (x == null ? '' : `${(x * 100).toFixed(0)}%`.padStart(5));
  const aim = (x, a) => (x == null || a == null ? '' : x >= a ? `  (aim ≥ ${a}: met)` : `  (aim ≥ ${a}: MISSED)`);
  const w = `(${WORKERS} ${WORKERS === 1 ? 'process' : 'workers'})`;
  const infoLog = runs.find((r) => r.target === T.LOG_INFO);
  const ratioLines = [
    ['ModGate .info / nginx .info', w, ratios.infoVsNginx, AIMS.infoVsNginx],
    ['ModGate .info / nginx .info', '(1 process)', ratios.infoSingleVsNginx],
    ['ModGate .info / bare Fastify .info', w, ratios.infoVsFastify],
    ['ModGate .info / bare Fastify .info', '(1 process)', ratios.infoSingleVsFastify],
    [`ModGate .info ${w.slice(1, -1)} / 1 process`, '', ratios.infoWorkersVsSingle],
    ['ModGate .mod  / nginx .mod', w, ratios.modVsNginx],
    ['ModGate .zip MiB/s / nginx MiB/s', w, ratios.zipVsNginx, AIMS.zipVsNginx],
    ['ModGate .info Basic auth / anonymous', w, ratios.authVsAnonymous, AIMS.authVsAnonymous],
    ['ModGate .info log=info / log=warn', w, ratios.infoLogInfoVsWarn, null, infoLog?.logBytesPerRequest ? `(${infoLog.logBytesPerRequest} log bytes/request)` : ''],
    ['ModGate .info published / cached public', '(Basic, next run)', ratios.publishedInfoVsCachedAuth],
    ['ModGate .info published / cached public', '(Basic, 1st run)', ratios.publishedInfoVsCachedAuthEarlier],
    ['ModGate .info published (Basic) / cached anonymous', w, ratios.publishedInfoVsCachedAnonymous],
    ['ModGate .info audit on / MODGATE_AUDIT=false', w, ratios.auditOnVsOff, AIMS.auditOnVsOff],
    ['ModGate unknown version (negative) / cached .info', '(next run)', ratios.negativeVsCachedInfo],
    ['ModGate unknown version (negative) / cached .info', '(1st run)', ratios.negativeVsCachedInfoEarlier],
  ].filter(([, , x]) => x != null || !ONLY_GIVEN);
  const lw = Math.max(...ratioLines.map(([l]) => l.length));
  const qw = Math.max(...ratioLines.map(([, q]) => q.length));
  for (const [label, qual, x, a, note = ''] of ratioLines) {
    out.push(`${label.padEnd(lw)}  ${qual.padEnd(qw)}  ${ratioText(x)} ${pct(x)}${aim(x, a)}  ${note}`.trimEnd());
  }
  const c = ratios.infoCpuUsPerRequest;
  if (c && c.modgate != null) {
    const us = (x) => (x == null ? 'n/a' : `${fmt(x, 1)} µs`);
    out.push(
      `server CPU per .info request: ModGate ${us(c.modgate)}, Basic auth ${us(c.modgateAuth)}, published ${us(c.modgatePublished)} (cached next to it ${us(c.modgateAuthAfterPublish)}), log=info ${us(c.modgateLogInfo)}, 1 process ${us(c.modgateSingle)}, audit off ${us(c.modgateAuditOff)} / on ${us(c.modgateAuditOn)}, unknown version ${us(c.modgateNegative)} (cached next to it ${us(c.modgateCachedAfterNegative)}); nginx ${us(c.nginx)}, bare Fastify ${us(c.fastify)}`,
    );
  }
  if (extra.negative) out.push('', ...negativeReport(extra.negative, runs, ratios));
  if (extra.publish) out.push('', ...publishReport(extra.publish, runs, ratios));
  if (extra.audit) out.push('', ...auditReport(extra.audit, runs, ratios));
  if (extra.soak) out.push('', ...soakReport(extra.soak));
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
}

function publishReport(p, runs, ratios) {
  const out = [];
  const size = p.uploads.length ? `${mib(p.uploads[0].zipBytes)} MiB` : '';
  out.push(`Publishing — ${p.route}, ${size} zips streamed from disk (node:http, Content-Length), ${p.credentials}; MODGATE_WORKERS=${WORKERS}`);
  out.push(`VmRSS of every ModGate process sampled every ${p.rssSampleIntervalMs} ms: growth = peak during the upload − median of the ${p.rssBaselineMs} ms before, of the process that grew most (pid);`);
  out.push('tree: the same for the sum over the processes; taken by: the process with the most CPU during the upload');
  const rows = p.uploads.map((u) => [
    u.version,
    `${u.status}`,
    `${mib(u.zipBytes)} MiB`,
    `${fmt(u.seconds, 2)} s`,
    `${fmt(u.mibPerSec, 1)} MiB/s`,
    `${fmt(u.mbPerSec, 1)} MB/s`,
    `+${fmt(u.rssGrowthMiB, 1)} MiB`,
    `${u.rssGrowthPid ?? 'n/a'}`,
    `+${fmt(u.rssTreeGrowthMiB, 1)} MiB`,
    `${u.handlerPid ?? 'n/a'} (+${fmt(u.handlerRssGrowthMiB, 1)} MiB, ${fmt(u.handlerCpuSeconds, 2)} s CPU)`,
  ]);
  const head = ['version', 'status', 'zip', 'time', 'rate', '', 'RSS growth', 'pid', 'tree', 'taken by (its growth, CPU)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cols) => cols.map((c, i) => (i >= 2 && i <= 8 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  out.push(line(head));
  for (const row of rows) out.push(line(row));
  const aim = AIMS.publishRssGrowthMaxMiB;
  const met = p.maxRssGrowthMiB == null ? '' : p.maxRssGrowthMiB < aim ? `  (aim < ${aim} MiB: met)` : `  (aim < ${aim} MiB: MISSED)`;
  out.push(`median ${fmt(p.medianMibPerSec, 1)} MiB/s (${fmt(p.medianMbPerSec, 1)} MB/s); max RSS growth during an upload ${fmt(p.maxRssGrowthMiB, 1)} MiB${met}; peak since before the first upload +${fmt(p.rssGrowthSinceFirstBaselineMiB, 1)} MiB`);
  const get = (target) => runs.find((r) => r.target === target && r.kind === 'info');
  const pub = get(T.PUBLISHED);
  if (pub) {
    const rps = (r) => (r ? `${fmt(r.requestsPerSec, 0)} req/s` : 'n/a');
    out.push(`.info, Basic auth, -c${CONNS_SMALL}: published ${PUB_MODULE}@${PUB_VERSIONS[0]} ${rps(pub)} vs cached public ${MODULE}@${VERSION} ${rps(get(T.AUTH_PAIRED))} (the next run; ${rps(get(T.AUTH))} in the 1st): ratio ${ratioText(ratios.publishedInfoVsCachedAuth).trim()} (${ratioText(ratios.publishedInfoVsCachedAuthEarlier).trim()})`);
  }
  return out;
}

function auditReport(a, runs, ratios) {
  const out = [];
  const get = (target) => runs.find((r) => r.target === target && r.kind === 'info');
  const rps = (r) => (r ? `${fmt(r.requestsPerSec, 0)} req/s` : 'n/a');
  const off = get(T.AUDIT_OFF);
  const on = get(T.AUDIT_ON);
  out.push(`Audit log — own database, MODGATE_WORKERS=${WORKERS}, log level ${a.logLevel}, cached public .info, wrk -c${CONNS_SMALL}; MODGATE_AUDIT=false first, then the default (on)`);
  if (off || on) {
    const x = ratios.auditOnVsOff;
    const aim = x == null ? '' : x >= AIMS.auditOnVsOff ? `  (aim ≥ ${AIMS.auditOnVsOff}: met)` : `  (aim ≥ ${AIMS.auditOnVsOff}: MISSED)`;
    const dbc = (r) => (r?.dbCpuCores == null ? 'n/a' : fmt(r.dbCpuCores, 2));
    out.push(`.info: audit off ${rps(off)} vs audit on ${rps(on)}: ratio on/off ${ratioText(x).trim()}${aim}; PostgreSQL backends ${dbc(off)} / ${dbc(on)} cores`);
    const us = (c) => (c?.usPerRequest == null ? 'n/a' : `${fmt(c.usPerRequest, 1)} µs (ModGate ${fmt(c.serverUsPerRequest, 1)} + PostgreSQL ${fmt(c.dbUsPerRequest, 1)})`);
    out.push(`CPU per request, warm-up to drained writers: off ${us(a.off?.cost)}, on ${us(a.on?.cost)}: on/off ×${a.cpuPerRequestOnVsOff == null ? 'n/a' : a.cpuPerRequestOnVsOff.toFixed(2)}`);
  }
  if (a.on) {
    const o = a.on;
    out.push(
      `audit rows during the "on" warm-up + run: ${fmt(o.rowsWritten, 0)} for ${fmt(o.requestsServed, 0)} requests served (${o.rowsMinusRequests >= 0 ? '+' : ''}${fmt(o.rowsMinusRequests, 0)}: in flight when wrk stopped);` +
        ` right after the load ${fmt(o.rowsAtEnd, 0)} (lag ${fmt(o.lagAtEnd, 0)}), ${(o.msAfterLoadAt1s / 1000).toFixed(1)} s after ${fmt(o.rowsAt1s, 0)} (lag ${fmt(o.lagAt1s, 0)});` +
        ` ${o.lastRowMsAfterLoad == null ? 'no row after that' : `last row ${fmt(o.lastRowMsAfterLoad, 0)} ms after the load`}${o.settled ? '' : ` (STILL MOVING ${AUDIT_DRAIN_TIMEOUT_MS / 1000} s after the load)`}`,
    );
    const mt = o.metrics;
    if (mt) out.push(`writers' counters over the ${mt.processes} workers since their start: modgate_audit_events_written_total ${fmt(mt.written, 0)} (audit_events: ${fmt(o.rowsInTable, 0)} rows), spilled_total ${fmt(mt.spilled, 0)} (events that went through a spill file: the in-memory queue was full), write_failures_total ${fmt(mt.failures, 0)}, at_risk ${fmt(mt.atRisk, 0)}`);
    if (off) out.push(`audit off: ${fmt(a.off.rowsInTable, 0)} rows in audit_events after ${fmt(a.off.requestsServed, 0)} requests (want 0)`);
  }
  if (a.exports.length) {
    out.push('export: GET /api/v1/audit/export (Bearer admin), request to last byte, lines counted, bytes and SHA-256 checked against the signed manifest');
    const rows = a.exports.map((e) => [
      e.format,
      fmt(e.rows, 0),
      `${fmt(e.bytes / 1e6, 1)} MB`,
      `${fmt(e.bytesPerRow, 0)} B/row`,
      `${fmt(e.seconds, 2)} s`,
      `${fmt(e.rowsPerSec, 0)} rows/s`,
      `${fmt(e.mbPerSec, 1)} MB/s`,
      `${fmt(e.mibPerSec, 1)} MiB/s`,
      `${fmt(e.firstByteMs, 0)} ms`,
      e.serverCpuCores == null ? 'n/a' : fmt(e.serverCpuCores, 2),
      e.dbCpuCores == null ? 'n/a' : fmt(e.dbCpuCores, 2),
      e.benchCpuCores == null ? 'n/a' : fmt(e.benchCpuCores, 2),
      e.rowsPerSec >= AIMS.exportRowsPerSec ? 'met' : 'MISSED',
    ]);
    const head = ['format', 'rows', 'size', '', 'time', 'rows/s', 'MB/s', '', '1st byte', 'srv cores', 'db', 'client', `aim ≥ ${fmt(AIMS.exportRowsPerSec, 0)} rows/s`];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cols) => cols.map((c, i) => (i >= 1 && i <= 11 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
    out.push(line(head));
    for (const row of rows) out.push(line(row));
  }
  return out;
}

function negativeReport(n, runs, ratios) {
  const out = [];
  const get = (target) => runs.find((r) => r.target === target && r.kind === 'info');
  const rps = (r) => (r ? `${fmt(r.requestsPerSec, 0)} req/s` : 'n/a');
  const neg = get(T.NEGATIVE);
  out.push(`Negative cache — ${fmt(n.versions, 0)} unknown versions ${n.paths} (upstream: 404), MODGATE_WORKERS=${WORKERS}, MODGATE_NEGATIVE_CACHE_SECONDS=${n.negativeCacheSeconds}; wrk -c${CONNS_SMALL} with a Lua script cycling through the paths`);
  if (n.fill) {
    const f = n.fill;
    const per = f.upstreamPerVersion.min === f.upstreamPerVersion.max ? `${f.upstreamPerVersion.max}` : `${f.upstreamPerVersion.min}-${f.upstreamPerVersion.max}`;
    out.push(`fill: each version once through a connection pinned to each of the ${n.processes.length} process(es) (the cache is per process): ${fmt(f.requests, 0)} × 404 in ${fmt(f.ms, 0)} ms; upstream ${per} request(s) per version (at most 1 per process), ${fmt(f.upstreamRequests, 0)} in all (ModGate's modgate_upstream_requests_total ${fmt(f.modgateUpstreamRequests, 0)} ${JSON.stringify(f.modgateUpstreamByOutcome)})`);
  }
  if (n.again) out.push(`again, same connections: ${fmt(n.again.requests, 0)} × 404 in ${fmt(n.again.ms, 0)} ms, upstream ${n.again.upstreamRequests} requests, negative lookups per process ${n.again.negativeLookupsPerProcess.join(' / ')}`);
  if (n.load) {
    const l = n.load;
    out.push(`under load: ${fmt(l.requestsServed, 0)} requests (warm-up + run), warm-up statuses ${JSON.stringify(l.warmupStatuses)}, wrk non-2xx ${fmt(l.non2xx, 0)} (the run's ${fmt(neg?.requests, 0)}); negative lookups ${fmt(l.negativeLookups, 0)} (${l.negativeLookupsPerProcess.join(' / ')}); upstream requests ${l.upstreamRequests} (modgate_upstream_requests_total +${l.modgateUpstreamRequests}); entries ${fmt(l.secondsSinceFill, 0)} s old at the end`);
  }
  if (neg) {
    const us = (r) => (r?.serverCpuUsPerRequest == null ? 'n/a' : `${fmt(r.serverCpuUsPerRequest, 1)} µs`);
    out.push(`.info: unknown version (404, negative cache) ${rps(neg)} vs cached public ${MODULE}@${VERSION} ${rps(get(T.NEG_PAIRED))} (the next run, same script style${get(T.MG) ? `; ${rps(get(T.MG))} in the 1st, plain wrk` : ''}): ratio ${ratioText(ratios.negativeVsCachedInfo).trim()}${get(T.MG) ? ` (${ratioText(ratios.negativeVsCachedInfoEarlier).trim()})` : ''}; server CPU ${us(neg)} vs ${us(get(T.NEG_PAIRED))} per request`);
  }
  return out;
}

function soakReport(s) {
  const out = [];
  out.push(`Soak — ${s.seconds} s, ${s.clients} loops of fresh go clients (${s.graph.modules.length} modules, ${s.graph.versions.length} versions upstream) through ModGate (MODGATE_WORKERS=${s.workers}, audit on), wrk -t${SOAK_WRK_THREADS} -c${SOAK_WRK_CONNS} on the cached .info beside them`);
  out.push(`client: ${s.client}`);
  if (s.firstBuild) out.push(`first build (fills the graph; not counted): ${fmt(s.firstBuild.ms, 0)} ms, ${s.firstBuild.upstreamRequests} upstream requests`);
  if (s.builds) {
    const b = s.builds;
    const aim = b.failed === AIMS.soakFailedBuilds ? '(aim 0: met)' : '(aim 0: MISSED)';
    out.push(`builds: ${fmt(b.done, 0)} done, ${fmt(b.failed, 0)} failed ${aim} in ${fmt(s.wallSeconds, 0)} s (${fmt(b.perMinute, 1)}/min; per client ${b.perClient.join(' / ')}); time median ${fmt(b.medianMs, 0)} ms, p95 ${fmt(b.p95Ms, 0)} ms, max ${fmt(b.maxMs, 0)} ms (median steps: download ${fmt(b.stepMedianMs.download, 0)} ms, build ${fmt(b.stepMedianMs.build, 0)} ms, run ${fmt(b.stepMedianMs.run, 0)} ms)`);
    for (const f of b.failures) out.push(`  failed: client ${f.client} at ${fmt(f.atS, 0)} s: ${f.error}`);
    out.push(`upstream requests after the first build: ${s.upstreamRequestsDuringLoad}${s.upstreamPathsDuringLoad.length ? ` (${s.upstreamPathsDuringLoad.map((x) => `${x.path} ×${x.requests}`).join(', ')})` : ''}`);
  }
  if (s.wrk) out.push(`wrk .info: ${fmt(s.wrk.requestsPerSec, 0)} req/s, p50 ${fmt(s.wrk.latencyP50Ms, 2)} ms, p99 ${fmt(s.wrk.latencyP99Ms, 2)} ms, ${fmt(s.wrk.requests, 0)} requests, ${socketErrorText(s.wrk)}; ModGate ${fmt(s.serverCpuCores, 2)} cores`);
  if (s.rss) {
    const r = s.rss;
    const g = r.lowWaterGrowthMiB;
    const aim = g == null ? '' : g < AIMS.soakRssGrowthMaxMiB ? `(aim < ${AIMS.soakRssGrowthMaxMiB} MiB: met)` : `(aim < ${AIMS.soakRssGrowthMaxMiB} MiB: MISSED)`;
    out.push(`VmRSS of the ModGate processes, summed (every ${r.intervalMs / 1000} s): ${fmt(r.startMiB, 1)} MiB at the start of the load (idle, after the first build) → ${fmt(r.endMiB, 1)} MiB at the end (${SOAK_SETTLE_MS / 1000} s after it; ${signed(r.growthMiB, 1)} MiB), peak ${fmt(r.peakMiB, 1)} MiB; ${fmt(r.atReadyMiB, 1)} MiB before the first build`);
    out.push(`  under load after the first ${fmt(r.rampS, 0)} s, per third (min / median / max): ${r.thirds.map((t) => `${fmt(t.minMiB, 0)} / ${fmt(t.medianMiB, 0)} / ${fmt(t.maxMiB, 0)}`).join(', ')} MiB; low-water mark last − first third ${signed(g, 1)} MiB ${aim}; trend ${signed(r.slopeMiBPerMin, 1)} MiB/min (2nd half ${signed(r.slopeSecondHalfMiBPerMin, 1)})`);
    out.push(`  per process, start → end (peak; low-water first → last third): ${r.perProcess.map((p) => `${p.role} ${p.pid} ${fmt(p.startMiB, 1)} → ${fmt(p.endMiB, 1)} MiB (${fmt(p.peakMiB, 1)}; ${fmt(r.thirds[0].minPerPidMiB[p.pid], 0)} → ${fmt(r.thirds[2].minPerPidMiB[p.pid], 0)})`).join('; ')}`);
  }
  return out;
}

function socketErrorText(r) {
  const s = r.socketErrors;
  const parts = [];
  if (r.non2xx) parts.push(`non-2xx ${r.non2xx}`);
  if (s) for (const k of ['connect', 'read', 'write', 'timeout']) if (s[k]) parts.push(`${k} ${s[k]}`);
  return parts.join(', ') || '-';
}

function writeResults({ startedAt, finishedAt, runs, ratios, profile, extra }) {
  try {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, 'latest.json');
    const doc = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      ok: state.failures.length === 0,
      failures: state.failures,
      host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}`, nginx: nginxVersion() },
      config: {
        durationS: DURATION,
        warmupS: WARMUP,
        modgateWorkers: WORKERS,
        nginxWorkers: NGINX_WORKERS,
        threads: THREADS,
        connections: { small: CONNS_SMALL, zip: CONNS_ZIP },
        quick: QUICK,
        profile: PROFILE,
        zipFiles: ZIP_FILES,
        sections: SECTIONS.filter(want),
        modgatePrivate: PRIVATE_PREFIX,
        publish: { module: PUB_MODULE, versions: PUB_VERSIONS, zipBlobs: PUB_BLOBS, blobBytes: PUB_BLOB_BYTES },
        audit: { database: 'own', exportFormats: EXPORT_FORMATS },
        negative: { module: MODULE, versions: NEG_VERSIONS, negativeCacheSeconds: NEG_TTL_S ?? NEGATIVE_CACHE_DEFAULT_S },
        soak: want('soak') ? { seconds: SOAK_SECONDS, clients: SOAK_CLIENTS, wrkThreads: SOAK_WRK_THREADS, wrkConnections: SOAK_WRK_CONNS, rssIntervalMs: SOAK_RSS_INTERVAL_MS } : null,
      },
      units: { transferBytesPerSec: 'bytes/s', mibPerSec: 'MiB/s (wrk "MB" is 1024²)', mbPerSec: 'MB/s (10⁶ bytes, publish and export)', rssGrowthMiB: 'MiB (VmRSS)', latency: 'ms', rowsPerSec: 'audit rows/s (export)', dbCpuCores: 'cores of the PostgreSQL backends of the bench database' },
      aims: AIMS,
      ratios,
      runs: runs.map(({ raw, window, ...r }) => r),
      extra,
      profile: profile ? { files: profile.files, windows: profile.windows } : null,
    };
    fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    log(`results written to ${path.relative(ROOT, file)}`);
  } catch (err) {
    log(`warning: could not write results: ${err.message}`);
  }
}

function nginxVersion() {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return ((r.stderr || '') + (r.stdout || '')).trim().replace(/^nginx version: /, '') || null;
}

// ---------------------------------------------------------------------------
// Processes, cleanup

const detachedChildren = new WeakSet();

/**
 * Registers a child for cleanup. A detached child leads its own process group
 * with everything it forks (nginx workers, ModGate cluster workers): signals
 * go to the whole group, and when the leader is gone anything left in the
 * group is killed.
 */
function track(name, child, detached = true) {
  const entry = { name, child };
  if (detached && child.pid) detachedChildren.add(child);
  state.children.add(entry);
  child.once('exit', () => {
    state.children.delete(entry);
    if (detached && child.pid) sweepGroup(name, child.pid);
  });
  child.once('error', (err) => {
    state.children.delete(entry);
    log(`${name}: ${err.message}`);
  });
  return child;
}

/** Signal a child we started (its own process group when detached), wait, then SIGKILL. */
async function stopChild(child, signal = 'SIGTERM', timeoutMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  signalChild(child, signal);
  const t = await Promise.race([exited.then(() => 'exited'), sleep(timeoutMs).then(() => 'timeout')]);
  if (t === 'timeout') {
    log(`pid ${child.pid} did not stop on ${signal} within ${timeoutMs} ms; killing`);
    signalChild(child, 'SIGKILL');
    await Promise.race([exited, sleep(3000)]);
  }
}

/** Right after a group leader we started exited: kill what is left of its group (orphaned workers). */
function sweepGroup(name, pgid) {
  try {
    process.kill(-pgid, 0);
  } catch {
    return; // the group is empty
  }
  log(`${name}: processes of its group ${pgid} outlived it; killing them`);
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

function signalChild(child, signal) {
  try {
    // A detached child leads its own process group (nginx: master + workers).
    if (detachedChildren.has(child)) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function cleanup() {
  if (state.cleaning) return state.cleaning;
  state.cleaning = (async () => {
    const children = [...state.children];
    await Promise.all(children.map(({ name, child }) => stopChild(child, name === 'nginx' ? 'SIGQUIT' : 'SIGTERM', name.startsWith('ModGate') ? 20_000 : 5000)));
    if (state.upstream) await state.upstream.close().catch(() => undefined);
    await dropDatabases();
    removeTmp();
  })();
  return state.cleaning;
}

function removeTmp() {
  if (!state.tmp) return;
  if (KEEP_TMP) {
    log(`kept ${state.tmp}`);
  } else {
    fs.rmSync(state.tmp, { recursive: true, force: true });
  }
  state.tmp = null;
}

function installExitHandlers() {
  const onSignal = (sig) => {
    if (state.interrupted) return;
    state.interrupted = true;
    log(`${sig}: stopping everything`);
    const force = setTimeout(() => process.exit(130), 40_000);
    force.unref();
    cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGHUP', () => onSignal('SIGHUP'));
  const onCrash = (err) => {
    log(`unexpected error: ${err && err.stack ? err.stack : err}`);
    state.failures.push(String(err && err.message ? err.message : err));
    cleanup().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  // Synchronous last resort (process.exit from anywhere).
  process.on('exit', () => {
    for (const { child } of state.children) signalChild(child, 'SIGKILL');
    dropDatabasesSync();
    try {
      removeTmp();
    } catch {
      /* best effort */
    }
  });
}

// ---------------------------------------------------------------------------
// Small helpers

function httpGet(url, timeoutMs = 10_000) {
  return httpRequest('GET', url, { timeoutMs });
}

function httpRequest(method, url, { headers = {}, body = null, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = body == null ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

async function waitFor(what, timeoutMs, child, probe) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what}: the process exited (code ${child.exitCode}, signal ${child.signalCode})`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tail(file, n = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

function parseSeconds(v, dflt, name) {
  if (v === undefined || v === '') return dflt;
  const m = /^(\d+)(s|m)?$/.exec(v.trim());
  if (!m || Number(m[1]) < 0) {
    process.stderr.write(`bench: ${name}: expected seconds such as 10 or 10s\n`);
    process.exit(2);
  }
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

function parseCount(v, dflt, name) {
  if (v === undefined || v === '') return dflt;
  if (!/^[1-9]\d{0,5}$/.test(v.trim())) {
    process.stderr.write(`bench: ${name}: expected a positive whole number\n`);
    process.exit(2);
  }
  return Number(v.trim());
}

function parseSections(v) {
  if (v === undefined || v.trim() === '') return new Set(DEFAULT_SECTIONS);
  const picked = v.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = picked.filter((x) => !SECTIONS.includes(x));
  if (bad.length > 0 || picked.length === 0) {
    process.stderr.write(`bench: BENCH_ONLY: unknown section ${bad.join(', ') || '(none)'}; expected a comma-separated list of ${SECTIONS.join(', ')}\n`);
    process.exit(2);
  }
  return new Set(picked);
}

/** A section runs when BENCH_ONLY names it (all by default); the publish run needs the Basic-auth run beside it. */
function want(section) {
  return ONLY.has(section) || (section === 'auth' && ONLY.has('publish'));
}

function parseWorkers(v, dflt) {
  if (v === undefined || v === '') return dflt;
  if (!/^[1-9]\d?$/.test(v.trim())) {
    process.stderr.write('bench: BENCH_WORKERS: expected a number of ModGate processes, 1-99\n');
    process.exit(2);
  }
  return Number(v.trim());
}

function randomBase62(n) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < n; i++) out += abc[crypto.randomInt(abc.length)];
  return out;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);
const mib = (n) => (n / 1048576).toFixed(1);
const mibOrNull = (n) => (n == null ? null : n / 1048576);
const fmt = (x, d) => (x == null ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const signed = (x, d) => (x == null ? 'n/a' : `${x >= 0 ? '+' : ''}${fmt(x, d)}`);
const ratioText = (x) => (x == null ? ' n/a' : x.toFixed(2));
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');
const redactUrl = (u) => u.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// Entry point last: every const above is initialised by now.
if (process.argv[2] === '--fastify-ceiling') {
  fastifyCeiling();
} else {
  main();
}
