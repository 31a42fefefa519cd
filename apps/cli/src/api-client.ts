/**
 * The registry's REST API as the CLI uses it. Errors come back as
 * RegistryApiError carrying the server's one-line message, which already says
 * what to do; nothing here ever prints or logs a token.
 */

export interface DeviceLoginStart {
  /** Opaque id of this sign-in at the registry (not the IdP's device code). */
  readonly handle: string;
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete: string | null;
  /** Seconds between polls. */
  readonly interval: number;
  /** Seconds until the code expires. */
  readonly expiresIn: number;
}

export type DeviceLoginPoll =
  | { readonly status: 'pending'; readonly interval: number }
  | {
      readonly status: 'complete';
      readonly login: string;
      readonly token: string;
      readonly tokenName: string;
      readonly expiresAt: string | null;
      /** GOPRIVATE-style patterns the registry owns (for GONOSUMDB). */
      readonly privatePatterns: string[];
    };

export class RegistryApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryApiError';
  }
}

export class RegistryClient {
  readonly baseUrl: string;

  constructor(
    registryUrl: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.baseUrl = normaliseRegistryUrl(registryUrl);
  }

  startDeviceLogin(): Promise<DeviceLoginStart> {
    return this.post<DeviceLoginStart>('/api/v1/auth/device', {});
  }

  /** 202 while the user has not finished signing in, 200 once (the handle is then used up). */
  pollDeviceLogin(handle: string, tokenName?: string): Promise<DeviceLoginPoll> {
    return this.post<DeviceLoginPoll>('/api/v1/auth/device/poll', tokenName ? { handle, tokenName } : { handle });
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryApiError(0, 'network', `cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RegistryApiError(res.status, 'bad-answer', `${url} answered ${res.status} without JSON; is ${this.baseUrl} a ModGate registry?`);
    }
    if (res.status >= 400) {
      const e = json as { code?: string; message?: string };
      throw new RegistryApiError(res.status, e.code ?? 'error', e.message ?? `${url} answered ${res.status}`);
    }
    return json as T;
  }
}

/** `https://host[:port][/prefix]` without a trailing slash; anything else is refused. */
export function normaliseRegistryUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not a URL; pass the registry as https://host[:port]`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`"${raw}" is not an http(s) URL`);
  if (u.username || u.password) throw new Error('leave credentials out of the registry URL; modgate login gets a token for you');
  if (u.search || u.hash) throw new Error('the registry URL takes no query or fragment');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}
