/**
 * Reading and updating a .netrc file the way the go command reads it, without
 * disturbing anything else in it: other machines, comments, macros and the
 * user's layout stay byte for byte; only the values of the entry for our host
 * change (or one line is added). The go command takes the first entry whose
 * machine matches and stops at `default`, so a new entry goes before it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface NetrcValue {
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

export interface NetrcEntry {
  /** null for the `default` entry. */
  readonly machine: string | null;
  /** Where the `machine`/`default` keyword starts. */
  readonly start: number;
  /** Where the machine name (or `default`) ends: new fields go here. */
  readonly nameEnd: number;
  /** Where the entry's last token (or macro body) ends. */
  end: number;
  /** First occurrence of each key (login, password, account, …). */
  readonly fields: Map<string, NetrcValue>;
  /** A `macdef` whose body runs to the end of the file (no blank line after it). */
  openMacro: boolean;
}

interface Token {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

  next(): Token | null {
    const t = this.text;
    while (this.pos < t.length && /\s/.test(t[this.pos])) this.pos++;
    if (this.pos >= t.length) return null;
    const start = this.pos;
    while (this.pos < t.length && !/\s/.test(t[this.pos])) this.pos++;
    return { text: t.slice(start, this.pos), start, end: this.pos };
  }

  /** Moves to the start of the next line. */
  skipLine(): void {
    const nl = this.text.indexOf('\n', this.pos);
    this.pos = nl < 0 ? this.text.length : nl + 1;
  }

  /**
   * A macro body runs from the line after `macdef name` up to the first empty
   * line. Returns where the body ends and whether an empty line closed it.
   */
  skipMacroBody(): { end: number; closed: boolean } {
    this.skipLine();
    const t = this.text;
    while (this.pos < t.length) {
      const nl = t.indexOf('\n', this.pos);
      const line = t.slice(this.pos, nl < 0 ? t.length : nl);
      if (line === '' || line === '\r') return { end: this.pos, closed: true };
      this.pos = nl < 0 ? t.length : nl + 1;
    }
    return { end: t.length, closed: false };
  }
}

/** Every machine/default entry with the positions of its tokens. */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  const s = new Scanner(text);
  let cur: NetrcEntry | null = null;
  for (let tok = s.next(); tok; tok = s.next()) {
    if (tok.text.startsWith('#')) {
      // A comment where a keyword is expected (values are read below, so a
      // password that starts with '#' is still a password).
      s.skipLine();
      continue;
    }
    if (tok.text === 'machine') {
      const name = s.next();
      cur = { machine: name?.text ?? '', start: tok.start, nameEnd: name?.end ?? tok.end, end: name?.end ?? tok.end, fields: new Map(), openMacro: false };
      entries.push(cur);
    } else if (tok.text === 'default') {
      cur = { machine: null, start: tok.start, nameEnd: tok.end, end: tok.end, fields: new Map(), openMacro: false };
      entries.push(cur);
    } else if (tok.text === 'macdef') {
      const name = s.next();
      const body = s.skipMacroBody();
      if (cur) {
        cur.end = Math.max(name?.end ?? tok.end, body.end);
        cur.openMacro = !body.closed;
      }
    } else {
      const value = s.next();
      if (cur && value) {
        if (!cur.fields.has(tok.text)) cur.fields.set(tok.text, { value: value.text, start: value.start, end: value.end });
        cur.end = value.end;
      }
    }
  }
  return entries;
}

/** What the go command would send for this machine: the first complete matching entry. */
export function lookupNetrc(text: string, machine: string): { login: string; password: string } | null {
  for (const e of parseNetrc(text)) {
    if (e.machine === null) break;
    const login = e.fields.get('login')?.value;
    const password = e.fields.get('password')?.value;
    if (e.machine === machine && login && password) return { login, password };
  }
  return null;
}

interface Edit {
  readonly at: number;
  readonly end: number;
  readonly text: string;
}

/**
 * Sets login and password for `machine`: every existing entry for it is
 * updated in place (other fields, layout and comments kept); without one, a
 * line is added before any `default` entry, else at the end.
 */
export function upsertNetrcEntry(text: string, machine: string, login: string, password: string): string {
  for (const [what, v] of [['machine', machine], ['login', login], ['password', password]] as const) {
    // .netrc has no quoting the go command understands.
    if (!v || /[\s"']/.test(v) || v.startsWith('#')) throw new Error(`cannot write this ${what} to .netrc: it is empty or holds blanks or quotes`);
  }
  const entries = parseNetrc(text);
  const mine = entries.filter((e) => e.machine !== null && e.machine.toLowerCase() === machine.toLowerCase());
  const edits: Edit[] = [];
  for (const e of mine) {
    const l = e.fields.get('login');
    const p = e.fields.get('password');
    if (l) edits.push({ at: l.start, end: l.end, text: login });
    if (p) edits.push({ at: p.start, end: p.end, text: password });
    if (!l && !p) edits.push({ at: e.nameEnd, end: e.nameEnd, text: ` login ${login} password ${password}` });
    else if (!l) edits.push({ at: e.nameEnd, end: e.nameEnd, text: ` login ${login}` });
    else if (!p) edits.push({ at: l.end, end: l.end, text: ` password ${password}` });
  }
  if (mine.length === 0) {
    const line = `machine ${machine} login ${login} password ${password}\n`;
    const def = entries.find((e) => e.machine === null);
    if (def) {
      // Put it on its own line in front of `default` (the go command stops there).
      const lineStart = text.lastIndexOf('\n', def.start - 1) + 1;
      const onlyBlanksBefore = text.slice(lineStart, def.start).trim() === '';
      edits.push({ at: onlyBlanksBefore ? lineStart : def.start, end: onlyBlanksBefore ? lineStart : def.start, text: onlyBlanksBefore ? line : `\n${line}` });
    } else {
      let prefix = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
      // An unterminated macro would swallow our line: close it with an empty line.
      if (entries.at(-1)?.openMacro) prefix += '\n';
      edits.push({ at: text.length, end: text.length, text: prefix + line });
    }
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.end);
  return out;
}

/**
 * The machine names the go command looks up for a registry URL: Go 1.19
 * matches the host without the port, Go 1.24+ the host:port of the URL (the
 * port only appears when it is not the scheme's default).
 */
export function netrcMachines(registryUrl: string): string[] {
  const u = new URL(registryUrl);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return u.port ? [host, u.host] : [host];
}

/** $NETRC, else ~/.netrc (~/_netrc on Windows), as the go command resolves it. */
export function defaultNetrcPath(env: Record<string, string | undefined> = process.env): string {
  if (env.NETRC) return env.NETRC;
  return join(homedir(), process.platform === 'win32' ? '_netrc' : '.netrc');
}

/**
 * Writes credentials for every machine into the file at `path` (created if
 * missing). The result always has mode 0600: it holds secrets. Written to a
 * temporary file and renamed, so a crash never leaves half a file; a symlinked
 * .netrc (dotfile managers) is followed and stays a symlink.
 */
export async function saveNetrcCredentials(path: string, machines: readonly string[], login: string, password: string): Promise<string> {
  const target = await realpath(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return path;
    throw err;
  });
  const before = await readFile(target, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  let text = before;
  for (const m of machines) text = upsertNetrcEntry(text, m, login, password);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // The umask may have taken bits away; be exact.
    await chmod(tmp, 0o600);
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return target;
}

/** The file mode's permission bits (for reporting and tests). */
export async function netrcMode(path: string): Promise<number> {
  return (await lstat(await realpath(path))).mode & 0o777;
}
