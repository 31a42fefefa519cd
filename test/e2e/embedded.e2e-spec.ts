// The embedded default as a user meets it: `npm start` with no DATABASE_URL
// in an empty data dir starts its own PostgreSQL and filesystem store,
// becomes ready, stops cleanly on SIGTERM and starts again on the same data.
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { startRegistryProcess, waitFor200, type RegistryProcess } from '../support/registry-process';
import { tempDir } from '../support/zips';

const dataDir = tempDir('embedded');
const running: RegistryProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

function embeddedClient(): Client {
  const { password } = JSON.parse(readFileSync(join(dataDir, 'pg-credentials.json'), 'utf8'));
  const port = Number(/"port":(\d+)[^}]*embedded PostgreSQL listening/.exec(lastOutput)?.[1]);
  return new Client({ host: '127.0.0.1', port, user: 'modgate', password, database: 'modgate' });
}
let lastOutput = '';

it('npm start runs on the embedded database, stops cleanly and reuses its data', async () => {
  const env = { MODGATE_DATA_DIR: dataDir, MODGATE_LOG_LEVEL: 'info', MODGATE_UPSTREAMS: 'off' };

  const first = await startRegistryProcess({ env, via: 'npm', timeoutMs: 180000 });
  running.push(first);
  const ready = JSON.parse((await waitFor200(`${first.url}/readyz`)).text);
  expect(ready).toEqual({ status: 'ready', checks: { database: 'ok', storage: 'ok' } });
  expect(first.output()).toContain('go env -w GOPROXY=');
  expect(existsSync(join(dataDir, 'pg', 'data', 'PG_VERSION'))).toBe(true);
  lastOutput = first.output();
  // The embedded database listens only on loopback.
  const settings = embeddedClient();
  await settings.connect();
  expect((await settings.query('SHOW listen_addresses')).rows[0].listen_addresses).toBe('127.0.0.1');
  await settings.query(`INSERT INTO modules (path) VALUES ('example.com/kept-across-restarts')`);
  await settings.end();

  const stopped = await first.stop('SIGTERM');
  expect(stopped).toEqual({ code: 0, signal: null });
  expect(first.output()).toContain('"msg":"stopped"');

  const second = await startRegistryProcess({ env, via: 'npm', timeoutMs: 180000 });
  running.push(second);
  await waitFor200(`${second.url}/readyz`);
  expect(second.output()).not.toContain('initialising embedded PostgreSQL');
  lastOutput = second.output();
  const again = embeddedClient();
  await again.connect();
  expect((await again.query(`SELECT path FROM modules`)).rows).toEqual([{ path: 'example.com/kept-across-restarts' }]);
  await again.end();
  expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null });
});
