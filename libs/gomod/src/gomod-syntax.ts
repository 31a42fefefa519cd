// The go.mod lexer and parser: a port of golang.org/x/mod/modfile (v0.7.0)
// read.go, producing the file's statements (lines and blocks) with their
// comments attached the way modfile does. What the statements mean is
// gomod-file.ts's business.
import { goQuoteRune } from './semver';

export interface Position {
  line: number;
  lineRune: number;
  byte: number; // UTF-16 offset; only compared, so it stands in for Go's byte offset
}

export interface Comment {
  start: Position;
  token: string; // "// text", or "" for a preserved blank line in a block
}

export interface Comments {
  before: Comment[]; // whole-line comments directly above
  suffix: Comment[]; // end-of-line comments
}

export interface Line extends Comments {
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

export interface LineBlock extends Comments {
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

export type Stmt = Line | LineBlock | CommentBlock;
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
export function goTrimSpace(s: string): string {
  return s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

export class SyntaxFail extends Error {
  constructor(
    readonly pos: Position,
    message: string,
  ) {
    super(message);
  }
}

const paren = (pos: Position): Paren => ({ kind: 'paren', pos, before: [], suffix: [] });

/** The modfile lexer and parser (read.go), producing statements with comments attached. */
export class Parser {
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
