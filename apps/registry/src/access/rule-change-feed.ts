import { PgListener } from '../database/pg-listener';
import type { AppLogger } from '../logging/logger';
import { ACCESS_CHANNEL } from './access-rule.repository';

/**
 * LISTEN on ACCESS_CHANNEL (see PgListener): `reload` runs on every
 * notification and on every LISTEN put in place, the first included, since
 * notifications sent while no LISTEN was in place are lost. The reconnect
 * backoff is capped at maxRetryMs.
 */
export function ruleChangeFeed(url: string, reload: () => void, log: AppLogger, maxRetryMs = 5000): PgListener {
  return new PgListener(
    {
      connection: { connectionString: url, application_name: 'modgate-access', keepAlive: true },
      channel: ACCESS_CHANNEL,
      maxRetryMs,
      retryMessage: 'access rules: cannot listen for changes; retrying',
    },
    {
      message: () => reload(),
      listening: () => reload(),
      lost: (err) => log.warn({ err: err?.message }, 'access rules: change listener disconnected; reconnecting'),
    },
    log,
  );
}
