'use strict';
/**
 * The audit section's helpers: rows in audit_events (read straight from
 * PostgreSQL), waiting for the writers to drain, and one export download
 * (GET /api/v1/audit/export, streamed: bytes, lines and SHA-256 counted as
 * they arrive, nothing kept) with its signed manifest.
 */

const crypto = require('node:crypto');
const http = require('node:http');

async function withClient(dbUrl, fn) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: dbUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** { rows, maxSeq } of audit_events now. */
async function auditRows(dbUrl) {
  return withClient(dbUrl, async (c) => {
    const { rows } = await c.query('SELECT count(*)::bigint AS n, COALESCE(max(seq), 0)::bigint AS seq FROM audit_events');
    return { rows: Number(rows[0].n), maxSeq: Number(rows[0].seq) };
  });
}

/** Rows per action (and outcome) with seq > afterSeq: what a run wrote. */
async function auditActions(dbUrl, afterSeq) {
  return withClient(dbUrl, async (c) => {
    const { rows } = await c.query('SELECT action, outcome, count(*)::bigint AS n FROM audit_events WHERE seq > $1 GROUP BY 1, 2 ORDER BY 3 DESC', [afterSeq]);
    return rows.map((r) => ({ action: r.action, outcome: r.outcome, rows: Number(r.n) }));
  });
}

/**
 * Polls the row count every `intervalMs` until it has not moved for
 * `quietMs` (the queues are drained) or `timeoutMs` passed. Returns the last
 * count, when it last moved (ms after the call) and whether it settled.
 */
async function waitForQuiet(dbUrl, { intervalMs = 200, quietMs = 600, timeoutMs = 15_000 } = {}) {
  const t0 = Date.now();
  let last = await auditRows(dbUrl);
  let movedAt = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = await auditRows(dbUrl);
    const ms = Date.now() - t0;
    if (now.rows !== last.rows) movedAt = ms;
    last = now;
    if (ms - movedAt >= quietMs) return { ...last, lastMovedMs: movedAt, settled: true };
    if (ms >= timeoutMs) return { ...last, lastMovedMs: movedAt, settled: false };
  }
}

/**
 * GET url with the headers; the body is counted, not kept. Resolves with the
 * status, headers, bytes, '\n' count, SHA-256 (hex), time to the first body
 * byte and to the end (ms, from before the request), and the body's first
 * bytes when the status is not 200 (for the error message).
 */
function download(url, headers, timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = http.get(url, { headers, agent: false }, (res) => {
      const sha = crypto.createHash('sha256');
      let bytes = 0;
      let lines = 0;
      let firstByteMs = null;
      let head = '';
      res.on('data', (chunk) => {
        firstByteMs ??= ms();
        bytes += chunk.length;
        sha.update(chunk);
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        if (res.statusCode !== 200 && head.length < 500) head += chunk.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, lines, sha256: sha.digest('hex'), firstByteMs, ms: ms(), head }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: not done within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}

/** GET a JSON document; 409 (not stored yet) is retried for up to `retryMs`. */
async function getJson(url, headers, retryMs = 5000) {
  const deadline = Date.now() + retryMs;
  for (;;) {
    const r = await new Promise((resolve, reject) => {
      const req = http.get(url, { headers, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
      req.on('error', reject);
    });
    if (r.status === 409 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      continue;
    }
    if (r.status !== 200) throw new Error(`GET ${url} answered ${r.status}: ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text);
  }
}

const METRICS = {
  written: 'modgate_audit_events_written_total',
  spilled: 'modgate_audit_events_spilled_total',
  failures: 'modgate_audit_write_failures_total',
  atRisk: 'modgate_audit_events_at_risk',
  started: 'modgate_process_start_time_seconds',
};

/**
 * The audit writers' counters summed over the workers. /metrics answers for
 * the one process that took the connection (no aggregation across cluster
 * workers), and the cluster hands fresh connections to the workers in turn:
 * scrape until `workers` distinct processes answered (told apart by their
 * start time and counters, so call it once the counters are still), at most
 * 8 × workers times. Null when fewer answered.
 */
async function auditMetrics(baseUrl, workers) {
  const seen = new Map();
  for (let i = 0; i < 8 * workers && seen.size < workers; i++) {
    const text = await new Promise((resolve, reject) => {
      const req = http.get(`${baseUrl}/metrics`, { agent: false }, (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (t += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(t) : reject(new Error(`GET /metrics answered ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error('GET /metrics: no answer within 10 s')));
      req.on('error', reject);
    });
    const v = {};
    for (const [k, name] of Object.entries(METRICS)) {
      const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
      v[k] = m ? Number(m[1]) : null;
    }
    seen.set(JSON.stringify([v.started, v.written, v.spilled, v.failures]), v);
  }
  if (seen.size !== workers) return null;
  const sum = (k) => [...seen.values()].reduce((a, v) => (a == null || v[k] == null ? null : a + v[k]), 0);
  return { processes: seen.size, written: sum('written'), spilled: sum('spilled'), failures: sum('failures'), atRisk: sum('atRisk') };
}

module.exports = { auditRows, auditActions, waitForQuiet, download, getJson, auditMetrics };
