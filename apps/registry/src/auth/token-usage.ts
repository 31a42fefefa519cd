import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { AppLogger } from '../logging/logger';
import type { TokensRepository } from '../identity/tokens.repository';

/**
 * last_used_at / last_used_ip without a write per request: uses are kept in
 * memory (one slot per token, the latest wins) and written in one statement
 * every few seconds and at shutdown. Losing a few seconds of "last used" in
 * a crash is acceptable; slowing every download is not.
 */
export class TokenUsage implements OnModuleInit, OnModuleDestroy {
  private pending = new Map<string, { at: Date; ip: string }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly tokens: TokensRepository,
    private readonly log: AppLogger,
    private readonly intervalMs = 5000,
  ) {}

  record(tokenId: string, ip: string): void {
    this.pending.set(tokenId, { at: new Date(), ip: ip.slice(0, 100) });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Writes what has accumulated; flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = [...this.pending].map(([id, u]) => ({ id, ...u }));
      this.pending = new Map();
      try {
        await this.tokens.recordUsage(batch);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, tokens: batch.length }, 'token last-use not recorded');
      }
    });
    return this.flushing;
  }
}
