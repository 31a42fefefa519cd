import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseUpstreams, UpstreamList } from './upstreams';
import { parsePatterns } from './patterns';

/**
 * Configuration is read from the environment exactly once, here. Every bad
 * variable is reported in one error (name and rule, never a secret's value);
 * the result is frozen and provided to Nest under the ENV token.
 */
export const ENV = Symbol('ENV');

export type NetworkMode = 'strict' | 'offline' | 'fallback';

export interface Env {
  readonly port: number;
  readonly host: string;
  /** HTTP worker processes sharing the port (node:cluster); 1 = no cluster. */
  readonly workers: number;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly embeddedPgPort: number | null;
  readonly dbPoolSize: number;
  readonly storage: string;
  readonly s3: {
    readonly endpoint?: string;
    readonly region?: string;
    readonly forcePathStyle?: boolean;
    readonly accessKeyId?: string;
    readonly secretAccessKey?: string;
  };
  readonly upstreams: UpstreamList;
  readonly sumdbs: ReadonlyMap<string, string>;
  readonly privatePatterns: readonly string[];
  readonly networkMode: NetworkMode;
  readonly upstreamTimeoutMs: number;
  readonly upstreamRetries: number;
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly publicUrl: string | null;
  /** Fastify trustProxy: whose X-Forwarded-For to believe for client addresses (throttling, token last-use). */
  readonly trustProxy: boolean | number | string;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  readonly anonymousRead: boolean;
  readonly oidc: {
    readonly issuer?: string;
    readonly clientId?: string;
    readonly clientSecret?: string;
    readonly groupsClaim?: string;
    /** `group=team:role,…` mappings applied at every login (in addition to those kept through the API). */
    readonly groupMap: string;
    readonly scopes: string;
  };
  readonly auth: {
    /** HS256 secret for API session JWTs; absent = keys generated and kept in the database. */
    readonly jwtSecret?: string;
    readonly jwtTtlSeconds: number;
    /** A token to register for the first admin instead of generating one. */
    readonly bootstrapAdminToken?: string;
    /** How long a verified token or principal may be reused without asking the database. */
    readonly cacheSeconds: number;
    /** Failed authentications per address or login before requests are refused. */
    readonly maxFailures: number;
    readonly lockoutSeconds: number;
  };
  /** How long "not found" answers for versions and modules are remembered (0: never). */
  readonly negativeCacheSeconds: number;
  /** Crash leftovers younger than this are never swept (work in progress). */
  readonly sweepMinAgeSeconds: number;
  readonly limits: {
    /** Cache fills one client address may run at once; more wait (up to fillQueuePerClient). */
    readonly fillsPerClient: number;
    readonly fillQueuePerClient: number;
    /** Cache fills running at once in this process; more wait (up to fillQueue), then 503. */
    readonly maxFills: number;
    readonly fillQueue: number;
    /** Request line plus headers, at most. */
    readonly maxHeaderBytes: number;
  };
  readonly audit: {
    /** Write the audit log (MODGATE_AUDIT=false turns it off, e.g. to measure its cost). */
    readonly enabled: boolean;
    /** Rows older than this many days are archived to blob storage and removed; null keeps everything. */
    readonly retentionDays: number | null;
    /** PEM file of the Ed25519 key that signs export manifests; absent = generated and kept in the database. */
    readonly signingKeyFile?: string;
    /** How long a download event may wait for its batch. */
    readonly flushMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`));
const url = z.string().url('expected a URL');

const schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  MODGATE_WORKERS: z
    .string()
    .regex(/^(auto|[1-9]\d?)$/, 'expected auto or a number of processes (1-99)')
    .default('1')
    .transform((v) => (v === 'auto' ? Math.max(1, availableParallelism()) : Number(v))),
  MODGATE_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected postgres://user@host:port/database')
    .optional(),
  MODGATE_EMBEDDED_PG_PORT: int(1, 65535).optional(),
  MODGATE_DB_POOL_SIZE: int(1, 200).default(10),
  MODGATE_STORAGE: z
    .string()
    .regex(/^(fs:.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, 'expected fs:<dir> or s3://<bucket>[/<prefix>]')
    .optional(),
  S3_ENDPOINT: url.optional(),
  S3_REGION: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.optional(),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  MODGATE_UPSTREAMS: z.string().default('https://proxy.golang.org'),
  MODGATE_SUMDBS: z.string().default('sum.golang.org=https://sum.golang.org'),
  MODGATE_PRIVATE: z.string().default(''),
  MODGATE_NETWORK_MODE: z.enum(['strict', 'offline', 'fallback'], { message: 'expected strict, offline or fallback' }).default('strict'),
  MODGATE_UPSTREAM_TIMEOUT_MS: int(100, 3_600_000).default(30000),
  MODGATE_UPSTREAM_RETRIES: int(0, 10).default(2),
  MODGATE_TLS_CERT: z.string().min(1).optional(),
  MODGATE_TLS_KEY: z.string().min(1).optional(),
  MODGATE_PUBLIC_URL: url.optional(),
  MODGATE_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2}|[0-9a-fA-F.:/,\s]+)$/, 'expected true, false, a hop count or comma-separated addresses/CIDRs')
    .default('false')
    .transform((v) => (v === 'true' ? true : v === 'false' ? false : /^\d{1,2}$/.test(v) ? Number(v) : v)),
  MODGATE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MODGATE_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10000),
  MODGATE_ANONYMOUS_READ: bool.default(false),
  MODGATE_OIDC_ISSUER: url.optional(),
  MODGATE_OIDC_CLIENT_ID: z.string().min(1).optional(),
  MODGATE_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  MODGATE_OIDC_GROUPS_CLAIM: z.string().min(1).optional(),
  MODGATE_OIDC_GROUP_MAP: z.string().default(''),
  MODGATE_OIDC_SCOPES: z.string().min(1).default('openid profile email'),
  MODGATE_JWT_SECRET: z.string().min(32, 'expected at least 32 characters').optional(),
  MODGATE_JWT_TTL_SECONDS: int(60, 86400).default(900),
  MODGATE_BOOTSTRAP_ADMIN_TOKEN: z.string().regex(/^mg_[A-Za-z0-9_]{20,200}$/, 'expected a token starting with mg_').optional(),
  MODGATE_AUTH_CACHE_SECONDS: int(0, 30).default(2),
  MODGATE_AUTH_MAX_FAILURES: int(1, 1000).default(10),
  MODGATE_AUTH_LOCKOUT_SECONDS: int(1, 86400).default(300),
  MODGATE_NEGATIVE_CACHE_SECONDS: int(0, 86400).default(60),
  MODGATE_SWEEP_MIN_AGE_SECONDS: int(1, 7 * 86400).default(3600),
  MODGATE_FILLS_PER_CLIENT: int(1, 1000).default(8),
  MODGATE_FILL_QUEUE_PER_CLIENT: int(0, 100_000).default(64),
  MODGATE_MAX_FILLS: int(1, 1000).default(16),
  MODGATE_FILL_QUEUE: int(0, 100_000).default(512),
  MODGATE_MAX_HEADER_BYTES: int(1024, 1 << 20).default(16384),
  MODGATE_AUDIT: bool.default(true),
  MODGATE_AUDIT_RETENTION_DAYS: int(1, 36500).optional(),
  MODGATE_AUDIT_SIGNING_KEY: z.string().min(1).optional(),
  MODGATE_AUDIT_FLUSH_MS: int(10, 60_000).default(200),
});

/** Parses and validates the environment; throws one ConfigError listing every problem. */
export function loadEnv(source: Record<string, string | undefined> = process.env, cwd = process.cwd()): Env {
  // Empty strings mean "unset", as in a shell `VAR= npm start`.
  const raw = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const dataDir = isAbsolute(e.MODGATE_DATA_DIR) ? e.MODGATE_DATA_DIR : resolve(cwd, e.MODGATE_DATA_DIR);

  const upstreams = collect(problems, 'MODGATE_UPSTREAMS', () => parseUpstreams(e.MODGATE_UPSTREAMS));
  const sumdbs = collect(problems, 'MODGATE_SUMDBS', () => parseSumdbs(e.MODGATE_SUMDBS));
  const privatePatterns = collect(problems, 'MODGATE_PRIVATE', () => parsePatterns(e.MODGATE_PRIVATE));
  if ((e.MODGATE_TLS_CERT === undefined) !== (e.MODGATE_TLS_KEY === undefined)) {
    problems.push('MODGATE_TLS_CERT, MODGATE_TLS_KEY: set both or neither');
  }
  let storage = e.MODGATE_STORAGE ?? `fs:${resolve(dataDir, 'blobs')}`;
  if (storage.startsWith('fs:') && !isAbsolute(storage.slice(3))) storage = `fs:${resolve(cwd, storage.slice(3))}`;
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze<Env>({
    port: e.PORT,
    host: e.HOST,
    workers: e.MODGATE_WORKERS,
    dataDir,
    databaseUrl: e.DATABASE_URL ?? null,
    embeddedPgPort: e.MODGATE_EMBEDDED_PG_PORT ?? null,
    dbPoolSize: e.MODGATE_DB_POOL_SIZE,
    storage,
    s3: Object.freeze({
      endpoint: e.S3_ENDPOINT,
      region: e.S3_REGION,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      accessKeyId: e.AWS_ACCESS_KEY_ID,
      secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
    }),
    upstreams: upstreams!,
    sumdbs: sumdbs!,
    privatePatterns: Object.freeze(privatePatterns!),
    networkMode: e.MODGATE_NETWORK_MODE,
    upstreamTimeoutMs: e.MODGATE_UPSTREAM_TIMEOUT_MS,
    upstreamRetries: e.MODGATE_UPSTREAM_RETRIES,
    tls: e.MODGATE_TLS_CERT && e.MODGATE_TLS_KEY ? Object.freeze({ cert: e.MODGATE_TLS_CERT, key: e.MODGATE_TLS_KEY }) : null,
    publicUrl: e.MODGATE_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
    trustProxy: e.MODGATE_TRUST_PROXY,
    logLevel: e.MODGATE_LOG_LEVEL,
    shutdownTimeoutMs: e.MODGATE_SHUTDOWN_TIMEOUT_MS,
    anonymousRead: e.MODGATE_ANONYMOUS_READ,
    oidc: Object.freeze({
      issuer: e.MODGATE_OIDC_ISSUER,
      clientId: e.MODGATE_OIDC_CLIENT_ID,
      clientSecret: e.MODGATE_OIDC_CLIENT_SECRET,
      groupsClaim: e.MODGATE_OIDC_GROUPS_CLAIM,
      groupMap: e.MODGATE_OIDC_GROUP_MAP,
      scopes: e.MODGATE_OIDC_SCOPES,
    }),
    auth: Object.freeze({
      jwtSecret: e.MODGATE_JWT_SECRET,
      jwtTtlSeconds: e.MODGATE_JWT_TTL_SECONDS,
      bootstrapAdminToken: e.MODGATE_BOOTSTRAP_ADMIN_TOKEN,
      cacheSeconds: e.MODGATE_AUTH_CACHE_SECONDS,
      maxFailures: e.MODGATE_AUTH_MAX_FAILURES,
      lockoutSeconds: e.MODGATE_AUTH_LOCKOUT_SECONDS,
    }),
    negativeCacheSeconds: e.MODGATE_NEGATIVE_CACHE_SECONDS,
    sweepMinAgeSeconds: e.MODGATE_SWEEP_MIN_AGE_SECONDS,
    limits: Object.freeze({
      fillsPerClient: e.MODGATE_FILLS_PER_CLIENT,
      fillQueuePerClient: e.MODGATE_FILL_QUEUE_PER_CLIENT,
      maxFills: e.MODGATE_MAX_FILLS,
      fillQueue: e.MODGATE_FILL_QUEUE,
      maxHeaderBytes: e.MODGATE_MAX_HEADER_BYTES,
    }),
    audit: Object.freeze({
      enabled: e.MODGATE_AUDIT,
      retentionDays: e.MODGATE_AUDIT_RETENTION_DAYS ?? null,
      signingKeyFile: e.MODGATE_AUDIT_SIGNING_KEY,
      flushMs: e.MODGATE_AUDIT_FLUSH_MS,
    }),
  });
}

function collect<T>(problems: string[], name: string, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    problems.push(`${name}: ${(err as Error).message}`);
    return undefined;
  }
}

/** `name=url,name=url` → map (`off`: relay none); names are sumdb host names such as sum.golang.org. */
function parseSumdbs(value: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (value.trim() === 'off') return out;
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`expected name=url, got "${part}"`);
    const name = part.slice(0, eq);
    const target = part.slice(eq + 1).replace(/\/+$/, '');
    if (!/^[a-z0-9][a-z0-9.-]*$/i.test(name)) throw new Error(`bad checksum database name "${name}"`);
    if (!/^https?:\/\/[^/\s]+/.test(target)) throw new Error(`expected an http(s) URL for ${name}`);
    out.set(name, target);
  }
  return out;
}
