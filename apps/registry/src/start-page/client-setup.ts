import type { Env } from '../config/env';

/** The exact client settings a Go user needs for this registry. */
export function clientSetupLines(env: Env, url: string): string[] {
  const lines = [`go env -w GOPROXY=${url}`];
  if (env.privatePatterns.length > 0) {
    // Private paths must not be looked up in the public checksum database,
    // and GOPRIVATE alone would send them around the proxy to VCS.
    lines.push(`go env -w GONOSUMDB=${env.privatePatterns.join(',')}`);
    lines.push('go env -w GONOPROXY=none');
  }
  return lines;
}

/**
 * Over plain http the go command never sends credentials (.netrc or URL), so
 * a registry that requires them is unusable from Go until it serves https.
 */
export function plainHttpWarning(env: Env, url: string): string[] {
  if (!url.startsWith('http:')) return [];
  return [
    'Note: the go command sends credentials only over https. Serve TLS (MODGATE_TLS_CERT, MODGATE_TLS_KEY) or put',
    `ModGate behind an https proxy (MODGATE_PUBLIC_URL)${env.anonymousRead ? '' : '; until then only MODGATE_ANONYMOUS_READ=true lets go read public modules here'}.`,
  ];
}

export function registryUrl(env: Env, boundPort: number): string {
  if (env.publicUrl) return env.publicUrl;
  const host = env.host === '0.0.0.0' || env.host === '::' ? 'localhost' : env.host;
  return `${env.tls ? 'https' : 'http'}://${host}:${boundPort}`;
}
