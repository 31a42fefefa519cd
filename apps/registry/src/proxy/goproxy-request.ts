import { GoModError, unescapePath, unescapeVersion } from '@modgate/gomod';
import { GoproxyError } from '../common/goproxy-error';

/**
 * A GOPROXY request, decoded once from the URL: nothing downstream sees the
 * escaped text. `version` is the decoded query for info/mod/zip; it may be a
 * revision (master, a commit) for `.info`, which the service tells apart.
 */
export type GoproxyRequest =
  | { kind: 'list'; path: string }
  | { kind: 'latest'; path: string }
  | { kind: 'info' | 'mod' | 'zip'; path: string; version: string; escapedVersion: string };

const FILE_RE = /^(.*)\.(info|mod|zip)$/;

/** Parses `/<escaped module>/@v/<escaped version>.<ext>`, `/@v/list` or `/@latest`. */
export function parseGoproxyUrl(rawUrl: string): GoproxyRequest {
  const q = rawUrl.indexOf('?');
  const raw = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  let url: string;
  try {
    url = decodeURIComponent(raw);
  } catch {
    throw new GoproxyError('not-found', 'not found: malformed percent-encoding in the request path');
  }
  const at = url.lastIndexOf('/@');
  if (at <= 0) throw new GoproxyError('not-found', `not found: ${url} is not a GOPROXY path (want <module>/@v/list, @v/<version>.info|.mod|.zip or @latest)`);
  const escapedPath = url.slice(1, at);
  const rest = url.slice(at + 1);
  const path = decode(() => unescapePath(escapedPath));
  if (rest === '@latest') return { kind: 'latest', path };
  if (rest === '@v/list') return { kind: 'list', path };
  const m = rest.startsWith('@v/') ? FILE_RE.exec(rest.slice(3)) : null;
  if (!m || m[1].includes('/')) throw new GoproxyError('not-found', `not found: ${url} is not a GOPROXY path`);
  const escapedVersion = m[1];
  const version = decode(() => unescapeVersion(escapedVersion));
  if (version === '' || version.includes('..') || version.includes('/')) {
    throw new GoproxyError('not-found', `not found: invalid version "${escapedVersion}"`);
  }
  return { kind: m[2] as 'info' | 'mod' | 'zip', path, version, escapedVersion };
}

function decode(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GoModError) throw new GoproxyError('not-found', `not found: ${err.message}`);
    throw err;
  }
}

/**
 * Parsed URLs of recent requests: builds ask for the same few thousand
 * paths over and over, and decoding plus validating a module path costs
 * more than answering a cached .info. Bounded; errors are not kept.
 */
export class ParsedUrls {
  private readonly entries = new Map<string, GoproxyRequest>();

  constructor(private readonly capacity = 50_000) {}

  parse(rawUrl: string): GoproxyRequest {
    const hit = this.entries.get(rawUrl);
    if (hit) return hit;
    const parsed = parseGoproxyUrl(rawUrl);
    if (this.entries.size >= this.capacity) this.entries.clear();
    this.entries.set(rawUrl, parsed);
    return parsed;
  }
}
