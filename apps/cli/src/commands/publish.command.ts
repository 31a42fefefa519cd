/**
 * `modgate publish [dir]`: builds the module zip exactly as the go command
 * would (zip.CreateFromDir's file set, so the h1: printed here is the one
 * go.sum will hold), shows what it will upload, streams it to the registry
 * and prints the `go get` line to use.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkModuleVersion, createModuleZipFromDir, escapePath, escapeVersion, GoModError, type FileProblem } from '@modgate/gomod';
import { RegistryApiError } from '../api-client';
import { registryFrom, tokenFor } from '../credentials';
import { formatBytes, ProgressBar } from '../progress';
import { uploadFile } from '../upload';
import { gitRelease, modulePathOf } from '../module-source';

export interface PublishOptions {
  readonly version?: string;
  readonly gitTag?: boolean;
  readonly registry?: string;
  readonly time?: string;
  readonly allowPseudo?: boolean;
  readonly dryRun?: boolean;
  readonly netrc?: string;
}

export interface PublishIo {
  readonly out: (line: string) => void;
  readonly env: Record<string, string | undefined>;
  readonly progress: (total: number) => ProgressBar;
}

const defaultIo: PublishIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  env: process.env,
  progress: (total) => new ProgressBar(total),
};

export function registerPublishCommand(program: Command, io: PublishIo = defaultIo): void {
  program
    .command('publish')
    .description('publish the Go module in dir (default: the current directory) to the registry')
    .argument('[dir]', 'the module root (where its go.mod is)', '.')
    .option('--version <version>', 'the version to publish, e.g. v1.2.3')
    .option('--git-tag', 'publish the commit at HEAD under its version tag, with the commit time')
    .option('--registry <url>', 'the ModGate URL, e.g. https://modgate.corp.example (default: $MODGATE_REGISTRY)')
    .option('--time <rfc3339>', 'the version time shown in .info (default: the commit time with --git-tag, else the upload time)')
    .option('--allow-pseudo', 'allow publishing a pseudo-version')
    .option('--dry-run', 'build the zip and show what would be uploaded, without uploading')
    .option('--netrc <path>', 'the .netrc to take the token from (default: $NETRC, else ~/.netrc)')
    .action((dir: string, opts: PublishOptions) => runPublish(dir, opts, io));
}

export async function runPublish(dirArg: string, opts: PublishOptions, io: PublishIo = defaultIo): Promise<void> {
  if (!opts.version === !opts.gitTag) throw new Error('say which version: pass --version vX.Y.Z, or --git-tag to use the tag at HEAD');
  const dir = resolve(dirArg);
  const path = await modulePathOf(dir);
  const release = opts.gitTag ? await gitRelease(dir, path) : null;
  const tmp = await mkdtemp(join(tmpdir(), 'modgate-zip-'));
  try {
    const version = release?.version ?? opts.version!;
    try {
      checkModuleVersion(path, version);
    } catch (err) {
      if (err instanceof GoModError) throw new Error(`${err.message}; the version must be canonical (vX.Y.Z) and match the module path's major version`);
      throw err;
    }
    const time = opts.time ?? release?.time.toISOString().replace('.000Z', 'Z');
    const registry = opts.dryRun ? null : registryFrom(opts.registry, io.env);
    const token = registry ? await tokenFor(registry, io.env, opts.netrc, 'publish') : null;

    // 1. The zip, as the go command would make it.
    const zipFile = join(tmp, 'module.zip');
    const made = await createModuleZipFromDir(release?.dir ?? dir, path, version, zipFile).catch((err: unknown) => {
      if (err instanceof GoModError) throw new Error(`cannot make a module zip of ${dir}: ${err.message}`);
      throw err;
    });
    const zipSize = (await stat(zipFile)).size;
    io.out(`${path}@${version}${release ? ` (tag ${release.tag}, committed ${time})` : ''}`);
    io.out(`  ${made.files} files, ${formatBytes(made.uncompressedSize)} (zip ${formatBytes(zipSize)})`);
    io.out(`  ${made.h1}`);
    for (const line of omittedSummary(made.omitted)) io.out(`  ${line}`);
    if (!registry || !token) {
      io.out('Dry run: nothing uploaded.');
      return;
    }

    // 2. The upload.
    const query = new URLSearchParams();
    if (time) query.set('time', time);
    if (opts.allowPseudo) query.set('allowPseudo', 'true');
    const url = `${registry}/api/v1/modules/${escapePath(path)}/@v/${escapeVersion(version)}${query.size ? `?${query}` : ''}`;
    io.out(`Uploading to ${registry} ...`);
    const bar = io.progress(zipSize);
    let answer;
    try {
      answer = await uploadFile({ url, file: zipFile, size: zipSize, token, contentType: 'application/zip', onProgress: (n) => bar.update(n) });
    } catch (err) {
      bar.finish();
      throw explain(err, registry);
    }
    bar.finish();
    const stored = answer.json as { zipHash?: string; created?: boolean };
    if (stored.zipHash !== made.h1) throw new Error(`the registry stored ${stored.zipHash} but the zip made here is ${made.h1}; report this to the registry's admins`);
    io.out(stored.created === false ? `${path}@${version} was already published with exactly this content.` : `Published ${path}@${version}.`);
    io.out('');
    io.out('Use it with:');
    io.out(`  go get ${path}@${version}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await release?.cleanup();
  }
}

function omittedSummary(omitted: FileProblem[]): string[] {
  if (omitted.length === 0) return [];
  const shown = omitted.slice(0, 5).map((o) => `${o.path} (${o.reason})`);
  return [`left out, as the go command does: ${shown.join('; ')}${omitted.length > 5 ? `; and ${omitted.length - 5} more` : ''}`];
}

/** The registry's message already says what is wrong; add what to do where it helps. */
function explain(err: unknown, registry: string): Error {
  if (!(err instanceof RegistryApiError)) return err as Error;
  if (err.status === 401) return new Error(`${err.message} (run "modgate login --registry ${registry}" for a new token, or check MODGATE_TOKEN)`);
  if (err.status === 403) return new Error(`${err.message} (ask a maintainer of the owning team for the publisher role)`);
  return new Error(err.message);
}
