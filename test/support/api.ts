// The admin REST API from tests: JSON in and out with a Bearer token,
// over http or https (trusting the test CA).
import { httpCall } from './http';

export interface ApiClient {
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: T }>;
  /** Like call, but throws unless the answer is 2xx; returns the JSON. */
  ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
}

export function apiClient(baseUrl: () => string, token: string, caFile?: () => string): ApiClient {
  const call = async <T>(method: string, path: string, body?: unknown, as = token): Promise<{ status: number; json: T }> => {
    const r = await httpCall(`${baseUrl()}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${as}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      caFile: caFile?.(),
    });
    return { status: r.status, json: (r.text ? JSON.parse(r.text) : {}) as T };
  };
  return {
    call,
    async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
      const r = await call<T>(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    },
  };
}
