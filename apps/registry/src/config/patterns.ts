/**
 * GOPRIVATE-syntax path patterns: comma-separated globs, each matching a path
 * prefix element by element (golang.org/x/mod/module.MatchPrefixPatterns).
 */
export function parsePatterns(value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const p = raw.trim().replace(/\/+$/, '');
    if (p === '') continue;
    if (/\s/.test(p)) throw new Error(`pattern "${p}" contains white space`);
    out.push(p);
  }
  return out;
}

/** Reports whether any pattern matches a prefix of path (as GOPRIVATE does). */
export function matchesAnyPattern(patterns: readonly string[], path: string): boolean {
  return patterns.some((p) => matchPrefixPattern(p, path));
}

export function matchPrefixPattern(pattern: string, path: string): boolean {
  const patElems = pattern.split('/');
  const pathElems = path.split('/');
  if (pathElems.length < patElems.length) return false;
  return patElems.every((pe, i) => globMatch(pe, pathElems[i]));
}

/** path.Match for one element: `*`, `?`, and `[...]` classes; never crosses `/`. */
function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1).replace(/\\/g, '\\\\');
      re += `[${cls}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]);
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$').test(name);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
