// Semantic versions as the go command reads them: a port of
// golang.org/x/mod/semver (v0.7.0) plus the pseudo-version helpers of
// golang.org/x/mod/module/pseudo.go. Versions carry a leading "v"; "v1" and
// "v1.2" are accepted shorthands, as in Go. Every check here is on ASCII, so
// indexing JS code units matches Go's byte indexing.
import { GoModError } from './errors';

interface Parsed {
  major: string;
  minor: string;
  patch: string;
  short: string; // ".0.0" or ".0" that Canonical appends to a shorthand
  prerelease: string; // with its leading "-"
  build: string; // with its leading "+"
}

function parseInt_(v: string): [num: string, rest: string] | null {
  if (v === '' || v[0] < '0' || v[0] > '9') return null;
  let i = 1;
  while (i < v.length && v[i] >= '0' && v[i] <= '9') i++;
  if (v[0] === '0' && i !== 1) return null; // no leading zeros
  return [v.slice(0, i), v.slice(i)];
}

function isIdentChar(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c === '-';
}

function isNum(v: string): boolean {
  return /^[0-9]*$/.test(v);
}

// A numeric pre-release identifier must not have a leading zero.
function isBadNum(v: string): boolean {
  return v.length > 1 && v[0] === '0' && isNum(v);
}

// Parses "-id.id..." up to a "+" or the end; identifiers are non-empty.
function parseDotted(v: string, lead: '-' | '+', stopAtPlus: boolean): [t: string, rest: string] | null {
  if (v === '' || v[0] !== lead) return null;
  let i = 1;
  let start = 1;
  while (i < v.length && !(stopAtPlus && v[i] === '+')) {
    if (!isIdentChar(v[i]) && v[i] !== '.') return null;
    if (v[i] === '.') {
      if (start === i || (lead === '-' && isBadNum(v.slice(start, i)))) return null;
      start = i + 1;
    }
    i++;
  }
  if (start === i || (lead === '-' && isBadNum(v.slice(start, i)))) return null;
  return [v.slice(0, i), v.slice(i)];
}

function parse(v: string): Parsed | null {
  if (v === '' || v[0] !== 'v') return null;
  const p: Parsed = { major: '', minor: '', patch: '', short: '', prerelease: '', build: '' };
  let r = parseInt_(v.slice(1));
  if (!r) return null;
  [p.major, v] = r;
  if (v === '') return { ...p, minor: '0', patch: '0', short: '.0.0' };
  if (v[0] !== '.') return null;
  r = parseInt_(v.slice(1));
  if (!r) return null;
  [p.minor, v] = r;
  if (v === '') return { ...p, patch: '0', short: '.0' };
  if (v[0] !== '.') return null;
  r = parseInt_(v.slice(1));
  if (!r) return null;
  [p.patch, v] = r;
  if (v.length > 0 && v[0] === '-') {
    const pre = parseDotted(v, '-', true);
    if (!pre) return null;
    [p.prerelease, v] = pre;
  }
  if (v.length > 0 && v[0] === '+') {
    const b = parseDotted(v, '+', false);
    if (!b) return null;
    [p.build, v] = b;
  }
  return v === '' ? p : null;
}

/** semver.IsValid. */
export function isValid(v: string): boolean {
  return parse(v) !== null;
}

/** semver.Canonical: fills in .MINOR/.PATCH, drops build metadata (even +incompatible); '' if invalid. */
export function canonical(v: string): string {
  const p = parse(v);
  if (!p) return '';
  if (p.build !== '') return v.slice(0, v.length - p.build.length);
  return v + p.short;
}

/**
 * module.CanonicalVersion(v) === v, for a non-empty v: the form the proxy
 * protocol uses, where "+incompatible" is the only build suffix kept.
 */
export function isCanonicalVersion(v: string): boolean {
  const c = canonical(v);
  if (c === '') return false;
  return v === c || (build(v) === '+incompatible' && v === c + '+incompatible');
}

/** semver.Major: "v2" for "v2.1.0"; '' if invalid. */
export function major(v: string): string {
  const p = parse(v);
  return p ? v.slice(0, 1 + p.major.length) : '';
}

/** semver.MajorMinor: "v2.1" for "v2.1.0"; '' if invalid. */
export function majorMinor(v: string): string {
  const p = parse(v);
  if (!p) return '';
  const i = 1 + p.major.length;
  const j = i + 1 + p.minor.length;
  if (j <= v.length && v[i] === '.' && v.slice(i + 1, j) === p.minor) return v.slice(0, j);
  return v.slice(0, i) + '.' + p.minor;
}

/** semver.Prerelease: "-pre" for "v2.1.0-pre+meta"; '' if none or invalid. */
export function prerelease(v: string): string {
  return parse(v)?.prerelease ?? '';
}

/** semver.Build: "+meta" for "v2.1.0+meta"; '' if none or invalid. */
export function build(v: string): string {
  return parse(v)?.build ?? '';
}

/** A valid version without a pre-release part (what @latest prefers). */
export function isRelease(v: string): boolean {
  const p = parse(v);
  return p !== null && p.prerelease === '';
}

function sign(x: number): -1 | 0 | 1 {
  return x < 0 ? -1 : x > 0 ? 1 : 0;
}

// Decimal strings without leading zeros: longer is larger, else lexical.
function compareInt(x: string, y: string): -1 | 0 | 1 {
  if (x === y) return 0;
  if (x.length !== y.length) return sign(x.length - y.length);
  return x < y ? -1 : 1;
}

function comparePrerelease(x: string, y: string): -1 | 0 | 1 {
  // No pre-release sorts after any pre-release; identifiers compare left to
  // right, numeric ones numerically and below alphanumeric ones, and a longer
  // list wins when one is a prefix of the other (semver.org rule 11).
  if (x === y) return 0;
  if (x === '') return 1;
  if (y === '') return -1;
  const xs = x.slice(1).split('.');
  const ys = y.slice(1).split('.');
  for (let i = 0; i < xs.length && i < ys.length; i++) {
    const dx = xs[i];
    const dy = ys[i];
    if (dx === dy) continue;
    const ix = isNum(dx);
    const iy = isNum(dy);
    if (ix !== iy) return ix ? -1 : 1;
    if (ix && dx.length !== dy.length) return sign(dx.length - dy.length);
    return dx < dy ? -1 : 1;
  }
  return xs.length < ys.length ? -1 : 1;
}

/**
 * semver.Compare. Build metadata is ignored; an invalid version is less than
 * any valid one and all invalid versions are equal.
 */
export function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa && !pb) return 0;
  if (!pa) return -1;
  if (!pb) return 1;
  return (
    compareInt(pa.major, pb.major) ||
    compareInt(pa.minor, pb.minor) ||
    compareInt(pa.patch, pb.patch) ||
    comparePrerelease(pa.prerelease, pb.prerelease)
  );
}

/** semver.Max: canonicalizes both and returns the greater (b on a tie). */
export function max(a: string, b: string): string {
  const ca = canonical(a);
  const cb = canonical(b);
  return compare(ca, cb) > 0 ? ca : cb;
}

// Go compares strings bytewise (UTF-8), which is code point order; JS `<`
// compares UTF-16 code units, which differs above U+FFFF.
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = (x.value.codePointAt(0) ?? 0) - (y.value.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
}

/** semver.Sort (ByVersion): ascending by Compare, ties by string. Returns a new array. */
export function sortVersions(vs: readonly string[]): string[] {
  return [...vs].sort((a, b) => compare(a, b) || compareCodePoints(a, b));
}

// ---- pseudo-versions (module/pseudo.go) ----

const pseudoVersionRE = /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/** module.IsPseudoVersion: vX.0.0-yyyymmddhhmmss-rev, vX.Y.Z-pre.0.time-rev or vX.Y.Z-0.time-rev. */
export function isPseudoVersion(v: string): boolean {
  return v.split('-').length - 1 >= 2 && isValid(v) && pseudoVersionRE.test(v);
}

function pseudoError(v: string, why: string): GoModError {
  return new GoModError('invalid-version', `pseudo-version ${goQuote(v)} invalid: ${why}`);
}

function parsePseudoVersion(v: string): { base: string; timestamp: string; rev: string; build: string } {
  if (!isPseudoVersion(v)) throw pseudoError(v, 'syntax error');
  const b = build(v);
  let s = v.slice(0, v.length - b.length);
  const j = s.lastIndexOf('-');
  const rev = s.slice(j + 1);
  s = s.slice(0, j);
  const i = s.lastIndexOf('-');
  const dot = s.lastIndexOf('.');
  // "vX.Y.Z-pre.0" / "vX.Y.(Z+1)-0" keep a dot after the last dash; "vX.0.0" does not.
  if (dot > i) return { base: s.slice(0, dot), timestamp: s.slice(dot + 1), rev, build: b };
  return { base: s.slice(0, i), timestamp: s.slice(i + 1), rev, build: b };
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** module.PseudoVersionTime: the UTC commit time; throws 'invalid-version' if not a pseudo-version or a bad time. */
export function pseudoVersionTime(v: string): Date {
  const { timestamp } = parsePseudoVersion(v);
  // time.Parse("20060102150405", ...) range checks, day checked against the month.
  const n = (a: number, b: number) => Number(timestamp.slice(a, b));
  const [year, month, day, hour, min, sec] = [n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14)];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || min > 59 || sec > 59) {
    throw pseudoError(v, `malformed time ${goQuote(timestamp)}`);
  }
  const d = new Date(Date.UTC(2000, month - 1, day, hour, min, sec));
  d.setUTCFullYear(year); // Date.UTC maps years 0..99 to 1900..1999
  return d;
}

/** module.PseudoVersionRev: the commit hash prefix. */
export function pseudoVersionRev(v: string): string {
  return parsePseudoVersion(v).rev;
}

// decDecimal: the decimal string minus one, '' for zero.
function decDecimal(decimal: string): string {
  const digits = decimal.split('');
  let i = digits.length - 1;
  for (; i >= 0 && digits[i] === '0'; i--) digits[i] = '9';
  if (i < 0) return '';
  if (i === 0 && digits[i] === '1' && digits.length > 1) digits.shift();
  else digits[i] = String.fromCharCode(digits[i].charCodeAt(0) - 1);
  return digits.join('');
}

/**
 * module.PseudoVersionBase: the tagged version the pseudo-version builds on
 * ("" for the vX.0.0-time-rev form), keeping a "+incompatible" suffix.
 */
export function pseudoVersionBase(v: string): string {
  const { base, build: b } = parsePseudoVersion(v);
  const pre = prerelease(base);
  if (pre === '') {
    // vX.0.0-time-rev has no parent tag, so +incompatible makes no sense.
    if (b !== '') throw pseudoError(v, `lacks base version, but has build metadata ${goQuote(b)}`);
    return '';
  }
  if (pre === '-0') {
    const trimmed = base.slice(0, base.length - pre.length);
    const i = trimmed.lastIndexOf('.');
    const patch = decDecimal(trimmed.slice(i + 1));
    if (patch === '') throw pseudoError(v, `version before ${trimmed} would have negative patch number`);
    return trimmed.slice(0, i + 1) + patch + b;
  }
  return base.slice(0, base.length - '.0'.length) + b;
}

// ---- Go-style quoting for messages ----

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function quoteRuneBody(ch: string, quote: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (ch === quote || ch === '\\') return '\\' + ch;
  if (printable.test(ch)) return ch;
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };
  if (named[ch]) return named[ch];
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp >= 0xd800 && cp <= 0xdfff) return '\ufffd'; // lone surrogate: Go would have decoded U+FFFD
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/** Go's %q (strconv.Quote) for a string, so messages read exactly like the go command's. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += quoteRuneBody(ch, '"');
  return out + '"';
}

/** Go's %q (strconv.QuoteRune) for one character. */
export function goQuoteRune(ch: string): string {
  return "'" + quoteRuneBody(ch, "'") + "'";
}
