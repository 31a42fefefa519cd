// The "h1:" hash of go.sum and the checksum database: a port of
// golang.org/x/mod/sumdb/dirhash.Hash1 (x/mod 0.7.0).
import { createHash } from 'node:crypto';
import { GoModError } from './errors';

export interface H1Entry {
  /** The name as hashed: for a module zip, the entry name with its `module@version/` prefix. */
  name: string;
  /** Lower-case hex SHA-256 of the content. */
  sha256hex: string;
}

const sha256Hex = /^[0-9a-f]{64}$/;

/**
 * dirhash.Hash1 over already-hashed files: SHA-256 of the lines
 * `<hex>  <name>\n`, sorted by name, as base64 behind "h1:".
 */
export function h1FromEntries(entries: ReadonlyArray<H1Entry>): string {
  const lines = entries.map(({ name, sha256hex }) => {
    // Go refuses these names: the line format could not tell them apart.
    if (name.includes('\n')) throw new GoModError('invalid-zip', `file name ${JSON.stringify(name)} contains a newline`);
    // Go hashes the name's bytes; a lone surrogate has no UTF-8 form, and
    // Buffer.from silently turns it into U+FFFD, so the round trip differs.
    const key = Buffer.from(name, 'utf8');
    if (key.toString('utf8') !== name) throw new GoModError('invalid-zip', `file name ${JSON.stringify(name)} is not valid UTF-8`);
    // %x in Go is lower case: any other spelling would hash differently.
    if (!sha256Hex.test(sha256hex)) throw new TypeError(`h1: ${JSON.stringify(sha256hex)} is not a lower-case hex SHA-256`);
    return { key, line: `${sha256hex}  ${name}\n` };
  });
  // sort.Strings compares bytes; JavaScript's default sort compares UTF-16
  // code units, which orders some non-ASCII names differently.
  lines.sort((a, b) => Buffer.compare(a.key, b.key));
  const h = createHash('sha256');
  for (const { line } of lines) h.update(line, 'utf8');
  return `h1:${h.digest('base64')}`;
}

/** The go.sum `/go.mod` hash: h1 over one file named "go.mod" holding these bytes. */
export function hashGoMod(mod: Buffer | string): string {
  const sha = createHash('sha256').update(typeof mod === 'string' ? Buffer.from(mod, 'utf8') : mod).digest('hex');
  return h1FromEntries([{ name: 'go.mod', sha256hex: sha }]);
}

/** Collects entries one by one (e.g. while streaming a zip) and hashes them at the end. */
export class H1Builder {
  private readonly entries: H1Entry[] = [];

  add(name: string, sha256hex: string): this {
    this.entries.push({ name, sha256hex });
    return this;
  }

  digest(): string {
    return h1FromEntries(this.entries);
  }
}
