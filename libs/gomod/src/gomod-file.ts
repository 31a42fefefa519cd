// Reading a dependency's go.mod the way the go command does: a port of the
// golang.org/x/mod/modfile (v0.7.0) lexer, parser and comment attachment,
// interpreted like modfile.ParseLax as cmd/go's rawGoModSummary uses it
// (fix == nil). We keep only what a proxy needs: the module path, its
// "Deprecated:" paragraph and the retractions with their rationales.
//
// ParseLax already ignores unknown directives (toolchain, godebug, ...) and
// accepts "go 1.21.0". We are laxer still in one way: ParseLax also fails on
// a malformed go or require line; we ignore those lines, since they do not
// change what we extract. We fail ('invalid-gomod') only where the file
// cannot be read at all (a lexical or block syntax error) or the module
// directive itself is malformed or repeated.
//
// The lexer and parser are in gomod-syntax.ts; this file interprets the
// statements they produce.
import { GoModError } from './errors';
import { Parser, SyntaxFail, goTrimSpace, type Comments, type Line, type LineBlock, type Position, type Stmt } from './gomod-syntax';
import { compare } from './semver';

export interface Retraction {
  low: string;
  high: string;
  rationale: string;
}

export interface ParsedGoMod {
  module: string | null;
  deprecated: string | null;
  retract: Retraction[];
}

// ---- interpretation (rule.go, as ParseLax with fix == nil) ----

// strconv.Unquote for a double-quoted Go string; null on a syntax error.
function unquote(s: string): string | null {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"' || s.includes('\n')) return null;
  const body = s.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22 };
  const pushRune = (cp: number) => bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  for (let i = 0; i < body.length; ) {
    const cp = body.codePointAt(i) ?? 0;
    const c = String.fromCodePoint(cp);
    if (c === '"') return null;
    if (c !== '\\') {
      pushRune(cp);
      i += c.length;
      continue;
    }
    const e = body[i + 1] ?? '';
    if (e in simple) {
      bytes.push(simple[e]);
      i += 2;
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return null;
      bytes.push(parseInt(oct, 8));
      i += 4;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = { x: 2, u: 4, U: 8 }[e];
      const hex = body.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return null;
      const v = parseInt(hex, 16);
      if (e === 'x') bytes.push(v);
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return null;
      else pushRune(v);
      i += 2 + n;
    } else {
      return null; // includes \' , which Go allows only in rune literals
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// modfile's parseString: a quoted token is unquoted; other quote characters are reserved.
function parseString(t: string): string {
  if (t.startsWith('"')) {
    const s = unquote(t);
    if (s === null) throw new Error('invalid quoted string: invalid syntax');
    return s;
  }
  if (/["'`]/.test(t)) throw new Error('invalid quoted string: unquoted string cannot contain quote');
  return t;
}

// parseDirectiveComment: the text of the comments above and after a line,
// falling back to its block's comments when the line has none.
function directiveComment(block: LineBlock | null, line: Line): string {
  let c: Comments = line;
  if (block && line.before.length === 0 && line.suffix.length === 0) c = block;
  return [...c.before, ...c.suffix]
    .filter((x) => x.token.startsWith('//'))
    .map((x) => goTrimSpace(x.token.slice(2)))
    .join('\n');
}

// The first paragraph starting with "Deprecated:" (x/mod's deprecatedRE, (?s) mode).
const deprecatedRE = /(?:^|\n\n)Deprecated: *([\s\S]*?)(?:$|\n\n)/;

// parseVersionInterval: "v1" or "[v1, v2]"; versions are taken as written
// (ParseLax with fix == nil does not canonicalize retractions). null when
// malformed, which ParseLax silently skips.
function versionInterval(args: string[]): { low: string; high: string } | null {
  try {
    if (args.length === 0 || args[0] === '(') return null;
    if (args[0] !== '[') {
      const v = parseString(args[0]);
      return { low: v, high: v };
    }
    if (args.length < 5 || args[2] !== ',' || args[4] !== ']') return null;
    return { low: parseString(args[1]), high: parseString(args[3]) };
  } catch {
    return null;
  }
}

function positioned(pos: Position, msg: string): GoModError {
  const where = pos.lineRune > 1 ? `go.mod:${pos.line}:${pos.lineRune}` : `go.mod:${pos.line}`;
  return new GoModError('invalid-gomod', `${where}: ${msg}`);
}

/**
 * Reads a go.mod like the go command reads a dependency's (modfile.ParseLax):
 * the module path (null if there is no module directive), the Deprecated
 * paragraph of the comments above or after the module line (null if none)
 * and every retract directive with its rationale. Throws 'invalid-gomod'
 * for a syntax error or a malformed or repeated module directive.
 */
export function parseGoMod(data: Buffer | Uint8Array | string): ParsedGoMod {
  // Go decodes invalid UTF-8 to U+FFFD as it lexes; so does Buffer.toString.
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  let stmts: Stmt[];
  try {
    stmts = new Parser(text).parse();
  } catch (e) {
    if (e instanceof SyntaxFail) throw positioned(e.pos, e.message);
    throw e;
  }
  const out: ParsedGoMod = { module: null, deprecated: null, retract: [] };
  let seenModule = false;
  const add = (block: LineBlock | null, line: Line, verb: string, args: string[]) => {
    if (verb === 'module') {
      if (seenModule) throw positioned(line.start, 'repeated module statement');
      seenModule = true;
      if (args.length !== 1) throw positioned(line.start, 'usage: module module/path');
      try {
        out.module = parseString(args[0]);
      } catch (e) {
        throw positioned(line.start, (e as Error).message);
      }
      // An empty "Deprecated:" paragraph deprecates nothing in Go either.
      out.deprecated = deprecatedRE.exec(directiveComment(block, line))?.[1] || null;
    } else if (verb === 'retract') {
      const vi = versionInterval(args);
      if (vi) out.retract.push({ ...vi, rationale: directiveComment(block, line) });
    }
    // Everything else (go, require, toolchain, godebug, unknown) is not ours to judge.
  };
  for (const s of stmts) {
    if (s.kind === 'line') add(null, s, s.tokens[0], s.tokens.slice(1));
    // Blocks like "require x (" (two tokens before the paren) are skipped, as in ParseLax.
    else if (s.kind === 'block' && s.tokens.length === 1) for (const l of s.lines) add(s, l, s.tokens[0], l.tokens);
  }
  return out;
}

/** True when data parses and its module directive names path. */
export function moduleLineMatches(data: Buffer | Uint8Array | string, path: string): boolean {
  try {
    return parseGoMod(data).module === path;
  } catch {
    return false;
  }
}

/**
 * Whether version falls in a retracted interval (bounds compared with
 * semver.Compare, as cmd/go's CheckRetractions does), and the first
 * non-empty rationale of the matching directives.
 */
export function isRetracted(version: string, retract: readonly Retraction[]): { retracted: boolean; rationale: string } {
  const hits = retract.filter((r) => compare(r.low, version) <= 0 && compare(version, r.high) <= 0);
  return { retracted: hits.length > 0, rationale: hits.find((r) => r.rationale !== '')?.rationale ?? '' };
}

const graphicOrSpaceRE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}\p{White_Space}]$/u;

/**
 * cmd/go's modload.ShortMessage: the first line of a rationale or
 * deprecation message, made safe for a terminal.
 */
export function shortMessage(message: string, emptyDefault: string): string {
  const nl = message.indexOf('\n');
  if (nl >= 0) message = message.slice(0, nl);
  message = goTrimSpace(message);
  if (message === '') return emptyDefault;
  if (Buffer.byteLength(message, 'utf8') > 500) return '(message omitted: too long)';
  for (const c of message) {
    if (!graphicOrSpaceRE.test(c)) return '(message omitted: contains non-printable characters)';
  }
  return message;
}

/**
 * The go.mod the go command serves for a version whose zip has none
 * (modfetch's legacyGoMod): `module <path>` and a newline. A valid module
 * path never needs modfile.AutoQuote's quoting.
 */
export function syntheticGoMod(path: string): Buffer {
  return Buffer.from(`module ${path}\n`);
}
