/**
 * MODGATE_UPSTREAMS in GOPROXY syntax: entries separated by `,` (fall through
 * to the next entry only on 404/410) or `|` (fall through on any error), or
 * `off`. `direct` is refused: ModGate has no VCS access, and silently skipping
 * it would change what the list means.
 */
export interface Upstream {
  readonly url: string;
  /** True when the separator after this entry was `|`. */
  readonly fallThroughOnError: boolean;
}
export type UpstreamList = readonly Upstream[];

export function parseUpstreams(value: string): UpstreamList {
  const trimmed = value.trim();
  if (trimmed === 'off' || trimmed === '') return Object.freeze([]);
  const out: Upstream[] = [];
  let rest = trimmed;
  while (rest.length > 0) {
    const m = /[,|]/.exec(rest);
    const entry = (m ? rest.slice(0, m.index) : rest).trim();
    const sep = m ? m[0] : '';
    rest = m ? rest.slice(m.index + 1) : '';
    if (entry === '') continue;
    if (entry === 'off') break; // like the go command: everything after "off" is unreachable
    if (entry === 'direct') throw new Error('"direct" is not supported: ModGate fetches only from proxies');
    let u: URL;
    try {
      u = new URL(entry);
    } catch {
      throw new Error(`"${redact(entry)}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${redact(entry)}" must be http or https`);
    out.push(Object.freeze({ url: entry.replace(/\/+$/, ''), fallThroughOnError: sep === '|' }));
  }
  return Object.freeze(out);
}

/** Never echo credentials embedded in a URL. */
export function redact(u: string): string {
  return u.replace(/\/\/[^/@]*@/, '//***@');
}
