import { createHash, randomBytes } from 'node:crypto';
import type { OnModuleInit } from '@nestjs/common';
import { GoproxyError } from '../common/goproxy-error';
import type { Env } from '../config/env';
import type { AuthEvents } from '../identity/auth-events';
import type { SigningKeysRepository } from './signing-keys.repository';

interface KnownKey {
  secret: Buffer;
  /** Tokens signed with it are accepted until then (null: current key). */
  acceptUntil: number | null;
}

/** Clock skew between instances for a just-retired key. */
const SKEW_MS = 30_000;

/**
 * The HS256 keys for session JWTs, held in memory. With MODGATE_JWT_SECRET
 * there is one fixed key; otherwise keys live in signing_keys, the first is
 * made on first start, and a rotation makes a new current key while retired
 * ones keep verifying until the tokens they signed have expired. Other
 * instances learn of a rotation by NOTIFY, and an unknown kid triggers one
 * (rate-limited) reload, so a token is never refused only because this
 * instance heard of its key late.
 */
export class SigningKeyStore implements OnModuleInit {
  private current: { kid: string; secret: Buffer } | null = null;
  private keys = new Map<string, KnownKey>();
  private reloading: Promise<void> | null = null;
  private lastReload = 0;

  constructor(
    private readonly repo: SigningKeysRepository,
    private readonly env: Env,
    events: AuthEvents,
  ) {
    events.subscribe((e) => {
      if (e.kind === 'keys' && !this.fixed) void this.reload().catch(() => undefined);
    });
  }

  private get fixed(): boolean {
    return this.env.auth.jwtSecret !== undefined;
  }

  async onModuleInit(): Promise<void> {
    const fixedSecret = this.env.auth.jwtSecret;
    if (fixedSecret !== undefined) {
      // Every instance with the same secret derives the same kid.
      const kid = `env-${createHash('sha256').update(fixedSecret).digest('hex').slice(0, 12)}`;
      this.current = { kid, secret: Buffer.from(fixedSecret, 'utf8') };
      this.keys = new Map([[kid, { secret: this.current.secret, acceptUntil: null }]]);
      return;
    }
    await this.repo.ensureCurrent(newKey());
    await this.reload();
  }

  signingKey(): { kid: string; secret: Buffer } {
    if (!this.current) throw new GoproxyError('unavailable', 'session keys are not loaded yet; try again');
    return this.current;
  }

  /** The secret for a kid, or null when the kid is unknown or its tokens can no longer be valid. */
  async secretFor(kid: string): Promise<Buffer | null> {
    let k = this.keys.get(kid);
    if (!k && !this.fixed) {
      // A reload under way (e.g. on the rotation's NOTIFY) may bring the key;
      // otherwise read again, at most once a second (forged kids are cheap to send).
      if (this.reloading) await this.reloading;
      else if (Date.now() - this.lastReload > 1000) await this.reload();
      k = this.keys.get(kid);
    }
    if (!k || (k.acceptUntil !== null && k.acceptUntil < Date.now())) return null;
    return k.secret;
  }

  async rotate(): Promise<string> {
    if (this.fixed) throw new GoproxyError('conflict', 'the session key comes from MODGATE_JWT_SECRET; change that variable to rotate it');
    const next = newKey();
    await this.repo.rotate(next, this.env.auth.jwtTtlSeconds);
    await this.reload();
    return next.kid;
  }

  /** Concurrent callers share one read of the table. */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        this.lastReload = Date.now();
        const ttlMs = this.env.auth.jwtTtlSeconds * 1000;
        const rows = await this.repo.usable(this.env.auth.jwtTtlSeconds + SKEW_MS / 1000);
        const keys = new Map<string, KnownKey>();
        for (const r of rows) keys.set(r.kid, { secret: r.secret, acceptUntil: r.retiredAt ? r.retiredAt.getTime() + ttlMs + SKEW_MS : null });
        const cur = rows.find((r) => r.retiredAt === null);
        if (cur) this.current = { kid: cur.kid, secret: cur.secret };
        this.keys = keys;
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }
}

function newKey(): { kid: string; secret: Buffer } {
  return { kid: randomBytes(8).toString('hex'), secret: randomBytes(32) };
}
