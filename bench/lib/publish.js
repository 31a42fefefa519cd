'use strict';
/**
 * The publish run: a module zip built on disk, streamed to ModGate's publish
 * API with node:http, and the server's resident memory sampled from /proc
 * while it goes in.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const { pipeline } = require('node:stream/promises');
const { processCpu, rssBytes, treePids } = require('./procfs');

/**
 * Writes a module zip as zip.Create makes it (files only, no directory
 * entries) to `file`: go.mod, one .go file and `blobs` × `blobBytes` of random
 * bytes under data/ (stored: random bytes do not compress, so the zip is as
 * big as its content). Resolves with its size, the sha256 of the file and the
 * go.sum h1: hash the registry must answer.
 */
async function buildModuleZip(file, { modulePath, version, goMod, blobs, blobBytes }) {
  const yazl = require('yazl');
  const prefix = `${modulePath}@${version}/`;
  const mtime = new Date('2024-01-01T00:00:00Z');
  const entries = [
    [`${prefix}go.mod`, Buffer.from(goMod)],
    [`${prefix}big.go`, Buffer.from('// Package big is benchmark filler for the publish run.\npackage big\n')],
  ];
  for (let i = 0; i < blobs; i++) entries.push([`${prefix}data/blob${i}.bin`, crypto.randomBytes(blobBytes)]);
  const zip = new yazl.ZipFile();
  for (const [name, bytes] of entries) zip.addBuffer(bytes, name, { mtime, compress: false });
  zip.end();
  await pipeline(zip.outputStream, fs.createWriteStream(file));
  const size = fs.statSync(file).size;
  return { file, version, size, sha256: await sha256File(file), h1: h1Hash(entries) };
}

/** dirhash.Hash1: sha256 of "<sha256 hex>  <name>\n" over the files sorted by name, base64. */
function h1Hash(entries) {
  const lines = entries
    .map(([name, bytes]) => [name, crypto.createHash('sha256').update(bytes).digest('hex')])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, hex]) => `${hex}  ${name}\n`)
    .join('');
  return `h1:${crypto.createHash('sha256').update(lines).digest('base64')}`;
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/**
 * PUT `file` to `url`, streamed from disk with its Content-Length, on a
 * fresh connection. Resolves once the whole answer is in: { status, body, ms }
 * (ms from the request's start to the end of the answer).
 */
function putFile(url, file, headers, timeoutMs = 120_000) {
  const size = fs.statSync(file).size;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(url, { method: 'PUT', headers: { ...headers, 'content-length': size }, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`PUT ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    const body = fs.createReadStream(file);
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

/** GET `url` and hash the body as it streams (a 50 MiB zip is not kept). Resolves with { status, bytes, sha256, text }. */
function getHashed(url, headers, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', headers, agent: false }, (res) => {
      const h = crypto.createHash('sha256');
      let bytes = 0;
      let head = '';
      res.on('data', (c) => {
        h.update(c);
        bytes += c.length;
        if (head.length < 300) head += c.toString('utf8', 0, Math.min(c.length, 300));
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, sha256: h.digest('hex'), text: head.slice(0, 300) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Samples VmRSS of every process of the tree rooted at `rootPid` (a ModGate
 * primary and its workers: whichever worker takes the upload) every
 * `intervalMs`. `mark()` ends the baseline: afterwards samples count as
 * "during". `stop()` returns per pid { baseline: median before the mark,
 * peak: max after it, growth, cpuSeconds: its CPU from the mark on (the
 * process that took the upload is the busy one) } and the RSS figures of
 * the sum over the tree.
 */
function startRssSampler(rootPid, intervalMs = 20) {
  const pids = treePids(rootPid);
  const before = new Map(pids.map((p) => [p, []]));
  const during = new Map(pids.map((p) => [p, []]));
  const treeBefore = [];
  const treeDuring = [];
  let marked = false;
  let cpuAtMark = new Map();
  let samples = 0;
  const sample = () => {
    let sum = 0;
    let all = true;
    for (const pid of pids) {
      const rss = rssBytes(pid);
      if (rss == null) {
        all = false;
        continue;
      }
      (marked ? during : before).get(pid).push(rss);
      sum += rss;
    }
    if (all) (marked ? treeDuring : treeBefore).push(sum);
    samples++;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    mark() {
      sample();
      marked = true;
      cpuAtMark = new Map(pids.map((p) => [p, processCpu(p)]));
    },
    stop() {
      clearInterval(timer);
      sample();
      const cpu = (pid) => {
        const a = cpuAtMark.get(pid);
        const b = processCpu(pid);
        return a == null || b == null ? null : b - a;
      };
      const perPid = pids.map((pid) => ({ pid, ...growth(before.get(pid), during.get(pid)), cpuSeconds: cpu(pid) }));
      return { intervalMs, samples, perPid, tree: growth(treeBefore, treeDuring) };
    },
  };
}

function growth(before, during) {
  if (before.length === 0 || during.length === 0) return { baseline: null, peak: null, growth: null };
  const sorted = [...before].sort((a, b) => a - b);
  const baseline = sorted[Math.floor(sorted.length / 2)];
  const peak = Math.max(...during);
  return { baseline, peak, growth: peak - baseline };
}

module.exports = { buildModuleZip, putFile, getHashed, startRssSampler };
