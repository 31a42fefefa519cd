/**
 * Where `modgate publish` takes a module from: a directory (zipped as is,
 * like zip.CreateFromDir) or, with --git-tag, the commit at HEAD of its git
 * repository (exported with `git archive`, as zip.CreateFromVCS does, so
 * uncommitted and ignored files stay out), with the tag's version and the
 * commit time.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkModuleVersion, compare, isCanonicalVersion, parseGoMod, splitPathVersion } from '@modgate/gomod';

const run = promisify(execFile);

/** The module path declared by dir/go.mod. */
export async function modulePathOf(dir: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(join(dir, 'go.mod'));
  } catch {
    throw new Error(`no go.mod in ${dir}: run modgate publish in the module's root directory (or pass it)`);
  }
  const { module } = parseGoMod(data);
  if (!module) throw new Error(`${join(dir, 'go.mod')} has no module line`);
  return module;
}

export interface GitRelease {
  readonly version: string;
  readonly tag: string;
  /** Commit time of HEAD. */
  readonly time: Date;
  /** A directory holding the committed tree of the module (remove it afterwards). */
  readonly dir: string;
  cleanup(): Promise<void>;
}

/**
 * The version tagged at HEAD for the module in dir. Tags of a module in a
 * subdirectory carry its path (`sub/v1.2.3`); a major-version subdirectory
 * (`v2/` of module `…/v2`) may also use the plain tag, as the go command allows.
 */
export async function gitRelease(dir: string, modulePath: string): Promise<GitRelease> {
  const git = async (...args: string[]): Promise<string> => {
    try {
      return (await run('git', ['-C', dir, ...args], { maxBuffer: 16 << 20 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; code?: string };
      if (e.code === 'ENOENT') throw new Error('--git-tag needs git on PATH');
      throw new Error(`git ${args.join(' ')}: ${(e.stderr ?? String(err)).trim().split('\n')[0]}`);
    }
  };
  const prefix = (await git('rev-parse', '--show-prefix')).trim(); // "" or "sub/dir/"
  const prefixes = [prefix];
  const { pathMajor } = splitPathVersion(modulePath);
  if (pathMajor.startsWith('/') && prefix.endsWith(`${pathMajor.slice(1)}/`)) prefixes.push(prefix.slice(0, -(pathMajor.length)));
  const tags = (await git('tag', '--points-at', 'HEAD')).split('\n').map((t) => t.trim()).filter(Boolean);
  const candidates = tags
    .flatMap((tag) => prefixes.filter((p) => tag.startsWith(p)).map((p) => ({ tag, version: tag.slice(p.length) })))
    // A tag of another major version (v2.0.0 on the commit of a v1 module) is not this module's.
    .filter((c) => isCanonicalVersion(c.version) && fitsModule(modulePath, c.version));
  if (candidates.length === 0) {
    const want = `${prefix}vX.Y.Z`;
    throw new Error(`no version tag at HEAD${tags.length ? ` (it has ${tags.join(', ')})` : ''}: tag it with "git tag ${want}" or pass --version`);
  }
  const best = candidates.sort((a, b) => compare(b.version, a.version))[0];
  const time = new Date((await git('show', '-s', '--format=%cI', 'HEAD')).trim());
  const out = await mkdtemp(join(tmpdir(), 'modgate-publish-'));
  try {
    // The committed tree only; `tar` unpacks what git archive writes.
    await run('sh', ['-c', 'git -C "$1" archive --format=tar HEAD -- . | tar -x -C "$2"', 'sh', dir, out], { maxBuffer: 16 << 20 });
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    throw new Error(`exporting HEAD with git archive failed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`);
  }
  // Run in a subdirectory, git archive writes paths relative to it.
  return { version: best.version, tag: best.tag, time, dir: out, cleanup: () => rm(out, { recursive: true, force: true }) };
}

function fitsModule(path: string, version: string): boolean {
  try {
    checkModuleVersion(path, version);
    return true;
  } catch {
    return false;
  }
}
