// Module zips made in tests with yazl: valid ones shaped like the go
// command's, and deliberately broken ones. Hashes are never hard-coded; the
// tests ask gotool (the real golang.org/x/mod) for them.
import { createWriteStream } from 'node:fs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { ZipFile } from 'yazl';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `modgate-${label}-`));
}

/** Writes a zip whose entries are exactly `files` (names used as given). */
export async function writeZip(file: string, files: Record<string, string | Buffer>): Promise<string> {
  const zip = new ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name, { mtime: new Date(0) });
  zip.end();
  const out = createWriteStream(file);
  zip.outputStream.pipe(out);
  await finished(out);
  return file;
}

/**
 * Like writeZip, then replaces `from` with `to` (same length) in the stored
 * names: yazl refuses names such as `..`, which hostile zips contain.
 */
export async function writeZipPatched(file: string, files: Record<string, string | Buffer>, from: string, to: string): Promise<string> {
  if (Buffer.byteLength(from) !== Buffer.byteLength(to)) throw new Error('patch must keep the length');
  await writeZip(file, files);
  const data = readFileSync(file);
  const a = Buffer.from(from);
  for (let i = data.indexOf(a); i >= 0; i = data.indexOf(a, i + a.length)) Buffer.from(to).copy(data, i);
  writeFileSync(file, data);
  return file;
}

/** A small valid module: go.mod plus one Go file, under the module@version/ prefix. */
export function moduleFiles(path: string, version: string, extra: Record<string, string> = {}): Record<string, string> {
  const pkg = path.split('/').pop()!.replace(/[^a-z]/gi, '') || 'm';
  const files: Record<string, string> = {
    'go.mod': `module ${path}\n\ngo 1.19\n`,
    [`${pkg}.go`]: `package ${pkg}\n\n// Version is the module version.\nconst Version = "${version}"\n`,
    ...extra,
  };
  return Object.fromEntries(Object.entries(files).map(([n, c]) => [`${path}@${version}/${n}`, c]));
}
