// Module, import and file paths, their case-escaped forms and the module
// path/version pairing rules: a port of golang.org/x/mod/module (v0.7.0)
// module.go. Messages match x/mod's error strings so a go command user sees
// what Go itself would say.
//
// Go strings are UTF-8 bytes, ours are UTF-16. A lone surrogate is the only
// way a JS string can fail to be valid Unicode, so it plays the part of
// Go's "invalid UTF-8". All index arithmetic below is on ASCII characters,
// where code units and bytes agree.
import { GoModError } from './errors';
import { build, canonical, goQuote, goQuoteRune, isValid, major } from './semver';

type PathKind = 'module' | 'import' | 'file';

const loneSurrogate = /\p{Cs}/u;
const letter = /^\p{L}$/u;

// Reserved file names on Windows; compared case-insensitively against the
// part of an element before its first dot.
const badWindowsNames = [
  'CON', 'PRN', 'AUX', 'NUL',
  'COM1', 'COM2', 'COM3', 'COM4', 'COM5', 'COM6', 'COM7', 'COM8', 'COM9',
  'LPT1', 'LPT2', 'LPT3', 'LPT4', 'LPT5', 'LPT6', 'LPT7', 'LPT8', 'LPT9',
];

function isAsciiAlnum(c: string): boolean {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The first element is a lower-case LDH domain name, so it cannot be spelled
// two ways on a case-insensitive file system.
function firstPathOK(c: string): boolean {
  return c === '-' || c === '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

// Module paths avoid anything that changes meaning in a URL ("%20", "+").
function modPathOK(c: string): boolean {
  return c === '-' || c === '.' || c === '_' || c === '~' || isAsciiAlnum(c);
}

// Import paths also allow "+" (historically used for binaries like "g++").
function importPathOK(c: string): boolean {
  return modPathOK(c) || c === '+';
}

// File names: ASCII letters and digits, punctuation that is safe in shells
// and on Windows and macOS, space, and any Unicode letter.
function fileNameOK(c: string): boolean {
  if ((c.codePointAt(0) ?? 0) < 0x80) return isAsciiAlnum(c) || "!#$%&()+,-.=@[]^_{}~ ".includes(c);
  return letter.test(c);
}

const charOK: Record<PathKind, (c: string) => boolean> = { module: modPathOK, import: importPathOK, file: fileNameOK };

// checkElem returns why one path element is invalid, or null.
function checkElem(elem: string, kind: PathKind): string | null {
  if (elem === '') return 'empty path element';
  if (/^\.+$/.test(elem)) return `invalid path element ${goQuote(elem)}`;
  if (elem[0] === '.' && kind === 'module') return 'leading dot in path element';
  if (elem[elem.length - 1] === '.') return 'trailing dot in path element';
  for (const c of elem) {
    if (!charOK[kind](c)) return `invalid char ${goQuoteRune(c)}`;
  }
  const dot = elem.indexOf('.');
  const short = dot >= 0 ? elem.slice(0, dot) : elem;
  // Only ASCII letters fold onto these names (no Kelvin sign or long s in them).
  if (badWindowsNames.includes(short.replace(/[a-z]/g, (c) => c.toUpperCase()))) {
    return `${goQuote(short)} disallowed as path element component on Windows`;
  }
  if (kind === 'file') return null; // short names only matter for import paths
  // Windows 8.3 short names look like "PROGRA~1".
  const tilde = short.lastIndexOf('~');
  if (tilde >= 0 && tilde < short.length - 1 && /^[0-9]+$/.test(short.slice(tilde + 1))) {
    return 'trailing tilde and digits in path element';
  }
  return null;
}

// checkPathOf returns why a slash-separated path is invalid, or null.
function checkPathOf(path: string, kind: PathKind): string | null {
  if (loneSurrogate.test(path)) return 'invalid UTF-8';
  if (path === '') return 'empty string';
  if (path[0] === '-' && kind !== 'file') return 'leading dash';
  if (path.includes('//')) return 'double slash';
  if (path[path.length - 1] === '/') return 'trailing slash';
  for (const elem of path.split('/')) {
    const err = checkElem(elem, kind);
    if (err) return err;
  }
  return null;
}

function modulePathProblem(path: string): string | null {
  const err = checkPathOf(path, 'module');
  if (err) return err;
  let i = path.indexOf('/');
  if (i < 0) i = path.length;
  if (i === 0) return 'leading slash';
  const first = path.slice(0, i);
  if (!first.includes('.')) return 'missing dot in first path element';
  if (path[0] === '-') return 'leading dash in first path element';
  for (const c of first) {
    if (!firstPathOK(c)) return `invalid char ${goQuoteRune(c)} in first path element`;
  }
  if (!splitPathVersion(path).ok) return 'invalid version';
  return null;
}

function invalidPath(kind: PathKind, path: string, why: string): GoModError {
  return new GoModError('invalid-path', `malformed ${kind} path ${goQuote(path)}: ${why}`);
}

/**
 * module.CheckPath: a valid import path whose first element is a lower-case
 * domain name with a dot, no element starting with a dot, and a well-formed
 * major version suffix (/vN with N >= 2, or gopkg.in's .vN). Throws 'invalid-path'.
 */
export function checkPath(path: string): void {
  const why = modulePathProblem(path);
  if (why) throw invalidPath('module', path, why);
}

/** module.CheckImportPath. Throws 'invalid-path'. */
export function checkImportPath(path: string): void {
  const why = checkPathOf(path, 'import');
  if (why) throw invalidPath('import', path, why);
}

/**
 * module.CheckFilePath, the rule for names inside a module zip: valid
 * Unicode, no empty, "." or ".." elements, no element ending in ".", only
 * letters, digits, space and !#$%&()+,-.=@[]^_{}~, no Windows reserved
 * names. Throws 'invalid-path'.
 */
export function checkFilePath(path: string): void {
  const why = checkPathOf(path, 'file');
  if (why) throw invalidPath('file', path, why);
}

// ---- case escaping (the proxy protocol's "!x" for "X") ----

function escapeString(s: string): string {
  for (const c of s) {
    // CheckPath/checkElem should have excluded these; the escaping would be ambiguous.
    if (c === '!' || (c.codePointAt(0) ?? 0) >= 0x80) throw new Error('internal error: inconsistency in EscapePath');
  }
  return s.replace(/[A-Z]/g, (c) => '!' + c.toLowerCase());
}

function unescapeString(escaped: string): string | null {
  // Every "!" must precede a lower-case letter; raw capitals and non-ASCII are invalid.
  if (!/^(?:[\x00-\x20\x22-\x40\x5b-\x7f]|![a-z])*$/.test(escaped)) return null;
  return escaped.replace(/!([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** module.EscapePath: "github.com/Azure/x" -> "github.com/!azure/x". Throws 'invalid-path'. */
export function escapePath(path: string): string {
  checkPath(path);
  return escapeString(path);
}

/**
 * module.UnescapePath. Throws 'invalid-escape' for a raw capital or a "!"
 * not followed by a lower-case letter, 'invalid-path' if the result is not
 * a valid module path.
 */
export function unescapePath(escaped: string): string {
  const path = unescapeString(escaped);
  if (path === null) throw new GoModError('invalid-escape', `invalid escaped module path ${goQuote(escaped)}`);
  const why = modulePathProblem(path);
  if (why) {
    const inner = `malformed module path ${goQuote(path)}: ${why}`;
    throw new GoModError('invalid-path', `invalid escaped module path ${goQuote(escaped)}: ${inner}`);
  }
  return path;
}

/**
 * module.EscapeVersion. Versions need not be semver but must be valid file
 * names without "!". Throws 'invalid-version'.
 */
export function escapeVersion(v: string): string {
  if (checkElem(v, 'file') !== null || v.includes('!')) {
    throw new GoModError('invalid-version', `version ${goQuote(v)} invalid: disallowed version string`);
  }
  try {
    return escapeString(v);
  } catch (e) {
    // A non-ASCII letter passes checkElem but cannot be escaped; Go says so too.
    throw new GoModError('invalid-version', (e as Error).message);
  }
}

/**
 * module.UnescapeVersion. Throws 'invalid-escape' for a bad escape,
 * 'invalid-version' if the result is not a valid file name.
 */
export function unescapeVersion(escaped: string): string {
  const v = unescapeString(escaped);
  if (v === null) throw new GoModError('invalid-escape', `invalid escaped version ${goQuote(escaped)}`);
  const why = checkElem(v, 'file');
  if (why) throw new GoModError('invalid-version', `invalid escaped version ${goQuote(v)}: ${why}`);
  return v;
}

// ---- major version suffixes ----

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function splitGopkgIn(path: string): { prefix: string; pathMajor: string; ok: boolean } {
  // gopkg.in paths always end in .vN (N may be 0 or 1), optionally "-unstable".
  let i = path.length;
  if (path.endsWith('-unstable')) i -= '-unstable'.length;
  while (i > 0 && isDigit(path[i - 1])) i--;
  if (i <= 1 || path[i - 1] !== 'v' || path[i - 2] !== '.') return { prefix: path, pathMajor: '', ok: false };
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (pathMajor.length <= 2 || (pathMajor[2] === '0' && pathMajor !== '.v0')) return { prefix: path, pathMajor: '', ok: false };
  return { prefix, pathMajor, ok: true };
}

/**
 * module.SplitPathVersion: prefix + pathMajor === path, pathMajor '' or
 * "/vN" (N >= 2), or ".vN" for gopkg.in. ok is false for a malformed suffix
 * such as "/v1", "/v0", "/v02" or "/v1.2".
 */
export function splitPathVersion(path: string): { prefix: string; pathMajor: string; ok: boolean } {
  if (path.startsWith('gopkg.in/')) return splitGopkgIn(path);
  let i = path.length;
  let dot = false;
  while (i > 0 && (isDigit(path[i - 1]) || path[i - 1] === '.')) {
    if (path[i - 1] === '.') dot = true;
    i--;
  }
  if (i <= 1 || i === path.length || path[i - 1] !== 'v' || path[i - 2] !== '/') return { prefix: path, pathMajor: '', ok: true };
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (dot || pathMajor.length <= 2 || pathMajor[2] === '0' || pathMajor === '/v1') return { prefix: path, pathMajor: '', ok: false };
  return { prefix, pathMajor, ok: true };
}

function pathMajorProblem(v: string, pathMajor: string): string | null {
  if (pathMajor.startsWith('.v') && pathMajor.endsWith('-unstable')) pathMajor = pathMajor.slice(0, -'-unstable'.length);
  // Old go commands made v0.0.0- pseudo-versions for gopkg.in .v1 paths; Go still accepts them.
  if (v.startsWith('v0.0.0-') && pathMajor === '.v1') return null;
  const m = major(v);
  let want = pathMajor;
  if (pathMajor === '') {
    if (m === 'v0' || m === 'v1' || build(v) === '+incompatible') return null;
    want = 'v0 or v1';
  } else if (pathMajor[0] === '/' || pathMajor[0] === '.') {
    if (m === pathMajor.slice(1)) return null;
    want = pathMajor.slice(1);
  }
  return `should be ${want}, not ${m}`;
}

/** module.CheckPathMajor. Throws 'invalid-version' when v's major does not fit pathMajor. */
export function checkPathMajor(version: string, pathMajor: string): void {
  const why = pathMajorProblem(version, pathMajor);
  if (why) throw new GoModError('invalid-version', `version ${goQuote(version)} invalid: ${why}`);
}

/** module.MatchPathMajor. */
export function matchPathMajor(version: string, pathMajor: string): boolean {
  return pathMajorProblem(version, pathMajor) === null;
}

function invalidVersion(path: string, version: string, why: string): GoModError {
  // Shaped like module.ModuleError wrapping an InvalidVersionError.
  return new GoModError('invalid-version', `${path}@${version}: invalid version: ${why}`);
}

/**
 * module.Check exactly: a valid module path and a valid (not necessarily
 * canonical) semantic version whose major matches the path.
 */
export function checkModule(path: string, version: string): void {
  checkPath(path);
  if (!isValid(version)) throw invalidVersion(path, version, 'not a semantic version');
  const why = pathMajorProblem(version, splitPathVersion(path).pathMajor);
  if (why) throw invalidVersion(path, version, why);
}

/**
 * What a proxy may serve: module.Check, plus the version must be canonical
 * (module.CanonicalVersion) and "+incompatible" must be used the way the go
 * command's checkCanonical (modfetch/coderepo.go) demands: only on major 2+
 * for a path without a major suffix. Throws 'invalid-path' or 'invalid-version'.
 */
export function checkModuleVersion(path: string, version: string): void {
  checkModule(path, version);
  const b = build(version);
  const canon = canonical(version) + (b === '+incompatible' ? b : '');
  if (version !== canon) throw invalidVersion(path, version, `not a canonical version (want ${goQuote(canon)})`);
  const base = b === '+incompatible' ? version.slice(0, -b.length) : version;
  const { pathMajor } = splitPathVersion(path);
  if (!matchPathMajor(base, pathMajor)) {
    if (pathMajor !== '') throw invalidVersion(path, version, 'module path includes a major version suffix, so major version must match');
    // major >= 2 without "/vN": only legal as +incompatible, which checkModule saw.
    if (b !== '+incompatible') throw invalidVersion(path, version, pathMajorProblem(base, pathMajor) ?? '');
  } else if (b === '+incompatible') {
    throw invalidVersion(path, version, `+incompatible suffix not allowed: major version ${major(version)} is compatible`);
  }
}

// ---- case folding (x/mod/zip's collision check) ----

const foldCache = new Map<number, string>();

// Simple case folding, which JS applies for /iu regexps: two characters are
// equal under strings.EqualFold iff this regexp test says so. Only called
// for non-ASCII characters, none of which is regexp syntax.
function sameFold(a: string, b: string): boolean {
  return new RegExp(`^${a}$`, 'iu').test(b);
}

function foldRune(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x80) return ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch;
  const hit = foldCache.get(cp);
  if (hit !== undefined) return hit;
  // Every member of a fold class (k, K, U+212A KELVIN SIGN; µ, μ, Μ) has the
  // same lower case of its upper case. Full case mappings can leave the
  // class (upper of "ı" is "I", whose lower is "i") or expand to two
  // characters ("ß" -> "SS"), so a candidate counts only if it is one
  // character that folds equal to ch.
  const candidates = [ch.toUpperCase().toLowerCase(), ch.toLowerCase(), ch.toUpperCase()];
  const key = candidates.find((m) => [...m].length === 1 && sameFold(ch, m)) ?? ch;
  foldCache.set(cp, key);
  return key;
}

/**
 * Like zip's strToFold: foldPath(a) === foldPath(b) iff strings.EqualFold(a, b).
 * ASCII is lower-cased as Go does; other characters map to one member of
 * their simple case-folding class (not always Go's choice of member). Use it to find names that collide on a
 * case-insensitive file system.
 */
export function foldPath(p: string): string {
  if (/^[\x00-\x40\x5b-\x7f]*$/.test(p)) return p; // ASCII without capitals: already folded
  let out = '';
  for (const ch of p) out += foldRune(ch);
  return out;
}
