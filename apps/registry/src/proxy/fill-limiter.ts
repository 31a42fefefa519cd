import { GoproxyError } from '../common/goproxy-error';

export interface FillLimits {
  /** Fills one client address may run at once. */
  readonly perClient: number;
  /** Fills of one address that may wait for a slot; beyond that: 429. */
  readonly queuePerClient: number;
  /** Fills running at once in the process. */
  readonly max: number;
  /** Fills that may wait for a process slot; beyond that: 503. */
  readonly queue: number;
  /** How long a fill may wait for a slot before it is answered 503. */
  readonly waitMs?: number;
}

/** A counting semaphore with a bounded wait queue. */
class Gate {
  active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly maxQueue: number,
  ) {}

  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }

  /** null when the queue is full. */
  enter(): Promise<void> | null {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueue) return null;
    return new Promise((resolve) => this.waiting.push(() => (this.active++, resolve())));
  }

  leave(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

/**
 * Bounds uncached fills: one client address cannot start thousands of
 * upstream fetches (its extra requests wait in a short queue, then get 429),
 * and the process runs a fixed number at once (others wait, then get 503).
 * Requests that join a fill already running never take a slot.
 */
export class FillLimiter {
  private readonly global: Gate;
  private readonly clients = new Map<string, Gate>();

  constructor(private readonly limits: FillLimits) {
    this.global = new Gate(limits.max, limits.queue);
  }

  async run<T>(client: string, fn: () => Promise<T>): Promise<T> {
    let mine = this.clients.get(client);
    if (!mine) this.clients.set(client, (mine = new Gate(this.limits.perClient, this.limits.queuePerClient)));
    const gate = mine;
    try {
      await this.wait(gate.enter(), gate, new GoproxyError('too-many-requests', `too many uncached modules requested at once from ${client}; retry shortly`, { 'retry-after': '2' }));
      try {
        await this.wait(this.global.enter(), this.global, new GoproxyError('unavailable', 'the registry is busy fetching modules from upstream; retry shortly', { 'retry-after': '5' }));
        try {
          return await fn();
        } finally {
          this.global.leave();
        }
      } finally {
        gate.leave();
      }
    } finally {
      if (gate.idle) this.clients.delete(client);
    }
  }

  get running(): number {
    return this.global.active;
  }

  private async wait(entered: Promise<void> | null, gate: Gate, full: GoproxyError): Promise<void> {
    if (entered === null) throw full;
    const ms = this.limits.waitMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<void>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(full);
      }, ms);
    });
    try {
      await Promise.race([entered, timeout]);
    } catch (err) {
      // The slot may still be granted later: hand it straight back.
      void entered.then(() => timedOut && gate.leave());
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
