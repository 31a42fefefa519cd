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
import { GoModError } from './errors';
import { compare, goQuoteRune } from './semver';

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

interface Position {
  line: number;
  lineRune: number;
  byte: number; // UTF-16 offset; only compared, so it stands in for Go's byte offset
}

interface Comment {
  start: Position;
  token: string; // "// text", or "" for a preserved blank line in a block
}

interface Comments {
  before: Comment[]; // whole-line comments directly above
  suffix: Comment[]; // end-of-line comments
}

interface Line extends Comments {
  kind: 'line';
  start: Position;
  end: Position;
  tokens: string[];
}

// A parenthesis of a block; it holds the comments found next to it.
interface Paren extends Comments {
  kind: 'paren';
  pos: Position;
}

interface LineBlock extends Comments {
  kind: 'block';
  start: Position;
  tokens: string[];
  lines: Line[];
  lparen: Paren;
  rparen: Paren;
}

interface CommentBlock extends Comments {
  kind: 'comments';
  start: Position;
}

type Stmt = Line | LineBlock | CommentBlock;
type Node = Stmt | Paren;

// Span per modfile's Expr.Span; a paren's span covers one character.
function span(x: Node): [Position, Position] {
  switch (x.kind) {
    case 'line':
      return [x.start, x.end];
    case 'paren':
      return [x.pos, afterParen(x.pos)];
    case 'block':
      return [x.start, afterParen(x.rparen.pos)];
    case 'comments':
      return [x.start, x.start];
  }
}

// Token kinds; punctuation tokens use their character code.
const EOF = -1;
const EOLCOMMENT = -2;
const IDENT = -3;
const STRING = -4;
const COMMENT = -5;
const NL = 0x0a;

interface Token {
  kind: number;
  pos: Position;
  endPos: Position;
  text: string;
}

const isEOL = (k: number) => k === EOF || k === EOLCOMMENT || k === NL;
const afterParen = (p: Position): Position => ({ line: p.line, lineRune: p.lineRune + 1, byte: p.byte + 1 });
const printableRE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const whiteSpaceRE = /^\p{White_Space}$/u;

// modfile's isIdent: printable, not space, not one of the punctuation tokens.
function isIdent(c: string): boolean {
  return c !== '' && !' ()[]{},'.includes(c) && printableRE.test(c) && !whiteSpaceRE.test(c);
}

// Go's strings.TrimSpace (unicode.IsSpace, which is the White_Space property).
function goTrimSpace(s: string): string {
  return s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

class SyntaxFail extends Error {
  constructor(
    readonly pos: Position,
    message: string,
  ) {
    super(message);
  }
}

const paren = (pos: Position): Paren => ({ kind: 'paren', pos, before: [], suffix: [] });

/** The modfile lexer and parser (read.go), producing statements with comments attached. */
class Parser {
  private i = 0;
  private pos: Position = { line: 1, lineRune: 1, byte: 0 };
  private token: Token = { kind: EOF, pos: this.pos, endPos: this.pos, text: '' };
  private tokenStart = 0;
  private readonly suffixComments: Comment[] = [];
  readonly stmts: Stmt[] = [];

  constructor(private readonly src: string) {}

  parse(): Stmt[] {
    this.readToken();
    this.parseFile();
    this.assignComments();
    return this.stmts;
  }

  private fail(msg: string): never {
    throw new SyntaxFail({ ...this.pos }, msg);
  }

  private peekRune(): string {
    if (this.i >= this.src.length) return '';
    return String.fromCodePoint(this.src.codePointAt(this.i) ?? 0);
  }

  private readRune(): string {
    const c = this.peekRune();
    this.i += c.length;
    if (c === '\n') this.pos = { line: this.pos.line + 1, lineRune: 1, byte: this.i };
    else this.pos = { line: this.pos.line, lineRune: this.pos.lineRune + 1, byte: this.i };
    return c;
  }

  private startToken(): void {
    this.tokenStart = this.i;
    this.token = { kind: EOF, pos: this.pos, endPos: this.pos, text: '' };
  }

  private endToken(kind: number): void {
    let text = this.src.slice(this.tokenStart, this.i);
    if (kind === COMMENT || kind === EOLCOMMENT) text = text.endsWith('\r\n') ? text.slice(0, -2) : text.replace(/\n$/, '');
    this.token = { ...this.token, kind, text, endPos: this.pos };
  }

  private lex(): Token {
    const tok = this.token;
    this.readToken();
    return tok;
  }

  private readToken(): void {
    while (this.i < this.src.length) {
      const c = this.peekRune();
      if (c === ' ' || c === '\t' || c === '\r') {
        this.readRune();
        continue;
      }
      if (this.src.startsWith('//', this.i)) {
        this.startToken();
        // A comment alone on its line goes to the parser; one after tokens
        // is kept aside and attached to the syntax before it.
        const lineStart = this.src.lastIndexOf('\n', this.i - 1) + 1;
        const suffix = goTrimSpace(this.src.slice(lineStart, this.i)).length > 0;
        this.readRune();
        this.readRune();
        while (this.i < this.src.length && this.readRune() !== '\n');
        if (!suffix) return this.endToken(COMMENT);
        this.endToken(EOLCOMMENT);
        this.suffixComments.push({ start: this.token.pos, token: this.token.text });
        return;
      }
      if (this.src.startsWith('/*', this.i)) this.fail('mod files must use // comments (not /* */ comments)');
      break;
    }
    this.startToken();
    if (this.i >= this.src.length) return this.endToken(EOF);

    const c = this.peekRune();
    if ('\n()[]{},'.includes(c)) {
      this.readRune();
      return this.endToken(c.charCodeAt(0));
    }
    if (c === '"' || c === '`') {
      this.readRune();
      for (;;) {
        if (this.i >= this.src.length) {
          this.pos = this.token.pos;
          this.fail('unexpected EOF in string');
        }
        if (this.peekRune() === '\n') this.fail('unexpected newline in string');
        const r = this.readRune();
        if (r === c) break;
        if (r === '\\' && c !== '`') {
          if (this.i >= this.src.length) {
            this.pos = this.token.pos;
            this.fail('unexpected EOF in string');
          }
          this.readRune();
        }
      }
      return this.endToken(STRING);
    }
    if (!isIdent(c)) this.fail(`unexpected input character ${goQuoteRune(c)}`);
    while (isIdent(this.peekRune())) {
      if (this.src.startsWith('//', this.i)) break;
      if (this.src.startsWith('/*', this.i)) this.fail('mod files must use // comments (not /* */ comments)');
      this.readRune();
    }
    this.endToken(IDENT);
  }

  private parseFile(): void {
    let cb: CommentBlock | null = null;
    for (;;) {
      const k = this.token.kind;
      if (k === NL) {
        this.lex();
        if (cb) this.stmts.push(cb);
        cb = null;
      } else if (k === COMMENT) {
        const tok = this.lex();
        cb ??= { kind: 'comments', start: tok.pos, before: [], suffix: [] };
        cb.before.push({ start: tok.pos, token: tok.text });
      } else if (k === EOF) {
        if (cb) this.stmts.push(cb);
        return;
      } else {
        this.parseStmt();
        // Comment lines directly above a statement belong to it.
        if (cb) this.stmts[this.stmts.length - 1].before = cb.before;
        cb = null;
      }
    }
  }

  private newLine(start: Position, end: Position, tokens: string[]): Line {
    return { kind: 'line', start, end, tokens, before: [], suffix: [] };
  }

  private newBlock(start: Position, tokens: string[], lparen: Position): LineBlock {
    // rparen.pos is set once the closing paren is read.
    return { kind: 'block', start, tokens, lines: [], lparen: paren(lparen), rparen: paren(lparen), before: [], suffix: [] };
  }

  private parseStmt(): void {
    const first = this.lex();
    const start = first.pos;
    let end = first.endPos;
    const tokens = [first.text];
    for (;;) {
      const tok = this.lex();
      if (isEOL(tok.kind)) {
        this.stmts.push(this.newLine(start, end, tokens));
        return;
      }
      if (tok.kind === 0x28 /* ( */) {
        const next = this.token.kind;
        if (isEOL(next)) {
          this.stmts.push(this.parseLineBlock(start, tokens, tok));
          return;
        }
        if (next === 0x29 /* ) */) {
          const rparen = this.lex();
          if (isEOL(this.token.kind)) {
            this.lex(); // empty block "x ()"
            const block = this.newBlock(start, tokens, tok.pos);
            block.rparen.pos = rparen.pos;
            this.stmts.push(block);
            return;
          }
          tokens.push(tok.text, rparen.text); // "( )" mid-line is just tokens
        } else {
          tokens.push(tok.text);
        }
        continue;
      }
      tokens.push(tok.text);
      end = tok.endPos;
    }
  }

  private parseLineBlock(start: Position, tokens: string[], lparen: Token): LineBlock {
    const block = this.newBlock(start, tokens, lparen.pos);
    let comments: Comment[] = [];
    for (;;) {
      const k = this.token.kind;
      if (k === EOLCOMMENT) {
        this.lex(); // attached later by assignComments
      } else if (k === NL) {
        this.lex();
        // Keep blank lines as empty comments (they separate paragraphs).
        if ((comments.length === 0 && block.lines.length > 0) || (comments.length > 0 && comments[comments.length - 1].token !== '')) {
          comments.push({ start: this.token.pos, token: '' });
        }
      } else if (k === COMMENT) {
        const tok = this.lex();
        comments.push({ start: tok.pos, token: tok.text });
      } else if (k === EOF) {
        this.fail(`syntax error (unterminated block started at go.mod:${start.line}:${start.lineRune})`);
      } else if (k === 0x29 /* ) */) {
        const rparen = this.lex();
        block.rparen.before = comments;
        block.rparen.pos = rparen.pos;
        if (!isEOL(this.token.kind)) this.fail('syntax error (expected newline after closing paren)');
        this.lex();
        return block;
      } else {
        const l = this.parseLine();
        l.before = comments;
        block.lines.push(l);
        comments = [];
      }
    }
  }

  private parseLine(): Line {
    const first = this.lex();
    const start = first.pos;
    let end = first.endPos;
    const tokens = [first.text];
    for (;;) {
      const tok = this.lex();
      if (isEOL(tok.kind)) return this.newLine(start, end, tokens);
      tokens.push(tok.text);
      end = tok.endPos;
    }
  }

  // Suffix ("x // c") comments go to the last single-line syntax node that
  // ends before them, found by walking the postorder list backwards.
  private assignComments(): void {
    const post: Node[] = [];
    for (const s of this.stmts) {
      if (s.kind === 'block') post.push(s.lparen, ...s.lines, s.rparen);
      post.push(s);
    }
    const suffix = [...this.suffixComments];
    for (let i = post.length - 1; i >= 0; i--) {
      const [start, end] = span(post[i]);
      if (start.line !== end.line) continue;
      while (suffix.length > 0 && end.byte <= suffix[suffix.length - 1].start.byte) {
        post[i].suffix.push(suffix.pop() as Comment);
      }
    }
    for (const x of post) x.suffix.reverse();
  }
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
export function isRetracted(version: string, retract: ParsedGoMod['retract']): { retracted: boolean; rationale: string } {
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
