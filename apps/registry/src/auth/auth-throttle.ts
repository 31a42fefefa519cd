import { GoproxyError } from '../common/goproxy-error';

export interface ThrottleOptions {
  /** Failures (per address or per login) before requests are refused. */
  maxFailures: number;
  lockoutSeconds: number;
  /** Failures answered at full speed before each further one is delayed. */
  slowAfter?: number;
  maxDelayMs?: number;
  /** Bound on tracked addresses and logins each: memory stays flat under a flood. */
  maxEntries?: number;
  /** Go 1.24+ repeats a 4xx once: the same failure again this soon is not counted. */
  repeatWindowMs?: number;
  now?: () => number;
}

interface Counter {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
  lastFingerprint: string;
}

/**
 * Slows and then refuses guessing, per client address and per login, in
 * memory (each instance on its own; enough to make guessing hopeless). A
 * correct login clears that login's count but never the address's: one
 * valid token must not buy an address more guesses at others' tokens.
 */
export class AuthThrottle {
  private readonly byIp = new Map<string, Counter>();
  private readonly byLogin = new Map<string, Counter>();
  private readonly o: Required<ThrottleOptions>;

  constructor(options: ThrottleOptions) {
    this.o = { slowAfter: 3, maxDelayMs: 2000, maxEntries: 10_000, repeatWindowMs: 1000, now: Date.now, ...options };
  }

  /** Throws the 429 when the address or the login is locked out. Call before checking credentials. */
  check(ip: string, login: string | null): void {
    const now = this.o.now();
    const ipWait = this.lockedFor(this.byIp, ip, now);
    if (ipWait > 0) throw tooMany(`too many failed logins from ${ip}; try again in ${ipWait} s`, ipWait);
    const loginWait = login ? this.lockedFor(this.byLogin, login, now) : 0;
    if (loginWait > 0) throw tooMany(`too many failed logins for ${login}; try again in ${loginWait} s`, loginWait);
  }

  /**
   * Counts a failure; returns how long to hold the 401 back. `fingerprint`
   * identifies the attempt (a hash of the credentials) so an immediate
   * identical repeat counts once.
   */
  failed(ip: string, login: string | null, fingerprint: string): number {
    const now = this.o.now();
    const a = this.count(this.byIp, ip, fingerprint, now);
    const b = login ? this.count(this.byLogin, login, fingerprint, now) : 0;
    const n = Math.max(a, b);
    return n > this.o.slowAfter ? Math.min(this.o.maxDelayMs, 250 * 2 ** (n - this.o.slowAfter - 1)) : 0;
  }

  succeeded(login: string | null): void {
    if (login) this.byLogin.delete(login);
  }

  /** For tests and metrics. */
  size(): { ips: number; logins: number } {
    return { ips: this.byIp.size, logins: this.byLogin.size };
  }

  private lockedFor(map: Map<string, Counter>, key: string, now: number): number {
    const c = map.get(key);
    return c && c.lockedUntil > now ? Math.ceil((c.lockedUntil - now) / 1000) : 0;
  }

  private count(map: Map<string, Counter>, key: string, fingerprint: string, now: number): number {
    const windowMs = this.o.lockoutSeconds * 1000;
    let c = map.get(key);
    // A lockout served, or a quiet stretch as long as one, starts the count afresh.
    if (c && ((c.lockedUntil > 0 && c.lockedUntil <= now) || now - c.lastFailureAt > windowMs)) c = undefined;
    if (c && c.lastFingerprint === fingerprint && now - c.lastFailureAt < this.o.repeatWindowMs) return c.failures;
    c = c ?? { failures: 0, lastFailureAt: 0, lockedUntil: 0, lastFingerprint: '' };
    c.failures++;
    c.lastFailureAt = now;
    c.lastFingerprint = fingerprint;
    if (c.failures >= this.o.maxFailures) c.lockedUntil = now + windowMs;
    map.delete(key); // re-insert: Map order is then least recently failed first
    map.set(key, c);
    this.bound(map, now);
    return c.failures;
  }

  /** Evicts the stalest entries, sparing current lockouts where possible. */
  private bound(map: Map<string, Counter>, now: number): void {
    if (map.size <= this.o.maxEntries) return;
    let scanned = 0;
    for (const [k, c] of map) {
      if (c.lockedUntil <= now || scanned >= 100) {
        map.delete(k);
        if (map.size <= this.o.maxEntries) return;
      }
      scanned++;
    }
  }
}

function tooMany(message: string, retryAfter: number): GoproxyError {
  return new GoproxyError('too-many-requests', message, { 'retry-after': String(retryAfter) });
}
