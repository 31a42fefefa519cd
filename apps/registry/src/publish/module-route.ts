import { checkPath, GoModError, unescapePath, unescapeVersion } from '@modgate/gomod';
import { GoproxyError } from '../common/goproxy-error';

/** `/api/v1/modules/<module>` or `/api/v1/modules/<module>/@v/<version>`, decoded. */
export type ModuleRoute = { path: string; version: null } | { path: string; version: string };

export const MODULES_PREFIX = '/api/v1/modules/';

/**
 * Decodes the module (and version) of an /api/v1/modules/… URL. Both the
 * go command's case-encoding (`github.com/!azure/x`, `v1.0.0-!r!c1`) and
 * plain text (`github.com/Azure/x`) are accepted: a `!` means encoded.
 */
export function parseModuleRoute(rawUrl: string): ModuleRoute {
  const q = rawUrl.indexOf('?');
  let rest: string;
  try {
    rest = decodeURIComponent((q >= 0 ? rawUrl.slice(0, q) : rawUrl).slice(MODULES_PREFIX.length));
  } catch {
    throw new GoproxyError('bad-request', 'malformed percent-encoding in the module path');
  }
  const at = rest.indexOf('/@v/');
  const modulePart = at >= 0 ? rest.slice(0, at) : rest.replace(/\/+$/, '');
  const path = decode(modulePart, decodePath);
  if (at < 0) return { path, version: null };
  const versionPart = rest.slice(at + 4);
  if (versionPart === '' || versionPart.includes('/')) throw new GoproxyError('bad-request', `"${versionPart}" is not a version; use /api/v1/modules/<module>/@v/<version>`);
  return { path, version: decode(versionPart, (v) => (v.includes('!') ? unescapeVersion(v) : v)) };
}

function decodePath(p: string): string {
  if (p.includes('!')) return unescapePath(p);
  checkPath(p);
  return p;
}

function decode(text: string, fn: (t: string) => string): string {
  try {
    return fn(text);
  } catch (err) {
    if (err instanceof GoModError) throw new GoproxyError('bad-request', err.message);
    throw err;
  }
}
