// SSO end to end: a real OpenID Connect provider (oidc-provider, run by
// test/support/oidc.ts), ModGate as a real process, the browser code flow
// clicked through the provider's own pages, and the device flow driven by
// the real `modgate login` CLI, which writes the token into a .netrc.
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { freeLoopbackPort } from '../../apps/registry/src/database/embedded-postgres';
import { createBackends, startModgate, type Modgate, type SharedBackends } from '../support/modgate';
import { approveDevice, browserSignIn, completeInteraction, pageText, parseForms, startOidcProvider, TestBrowser, type OidcProvider } from '../support/oidc';
import { REPO_ROOT } from '../support/registry-process';

const CLI_MAIN = join(REPO_ROOT, 'dist', 'apps', 'cli', 'src', 'main.js');
/** Owned by ModGate (MODGATE_PRIVATE); team payments may read it. */
const PAYMENTS_MODULE = 'corp.example.com/payments/ledger';

let provider: OidcProvider;
let backends: SharedBackends;
let modgate: Modgate;
let url: string;
let ds: DataSource;
let tmp: string;
/** Every credential and authorization code the tests saw: none may show up in ModGate's log. */
const secrets: Array<[what: string, value: string]> = [];

async function teamIds(): Promise<Record<string, string>> {
  const rows: Array<{ id: string; name: string }> = await ds.query('SELECT id, name FROM teams');
  return Object.fromEntries(rows.map((r) => [r.name, r.id]));
}

async function memberships(login: string): Promise<string[]> {
  const rows: Array<{ team: string; role: string; source: string }> = await ds.query(
    `SELECT t.name AS team, m.role, m.source FROM team_members m JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id
     WHERE u.login = $1 ORDER BY t.name`,
    [login],
  );
  return rows.map((r) => `${r.team}:${r.role}:${r.source}`);
}

async function postJson(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

/** Runs the built CLI; resolves once its stdout shows the user code. */
function startCli(args: string[], env: Record<string, string>): { child: ChildProcess; out: () => string; code: Promise<number | null>; prompt: Promise<{ uri: string; userCode: string }> } {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const prompt = new Promise<{ uri: string; userCode: string }>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /\(or open (\S+) and enter the code (\S+)\)/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve({ uri: m[1], userCode: m[2] });
      }
    }, 50);
    void code.then((c) => {
      clearInterval(timer);
      reject(new Error(`modgate login exited (${c}) before showing a code:\n${out}`));
    });
  });
  return { child, out: () => out, code, prompt };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'modgate-oidc-'));
  // The redirect URI is registered at the provider before ModGate starts, so
  // ModGate's port is chosen first and its public URL is fixed.
  const port = await freeLoopbackPort();
  url = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({ redirectUri: `${url}/auth/callback` });
  backends = await createBackends('oidc');
  ds = await backends.dataSource();
  await ds.query(`INSERT INTO teams (name) VALUES ('payments'), ('web'), ('ops')`);
  await ds.query(`
    INSERT INTO oidc_group_mappings (group_name, team_id, role)
    SELECT g, t.id, r FROM (VALUES ('payments', 'payments', 'publisher'), ('web', 'web', 'reader')) AS v(g, team, r) JOIN teams t ON t.name = v.team`);
  await ds.query(`INSERT INTO access_rules (pattern, team_id, permission) SELECT 'corp.example.com/payments', id, 'read' FROM teams WHERE name = 'payments'`);
  modgate = await startModgate(backends, {
    PORT: String(port),
    MODGATE_PUBLIC_URL: url,
    MODGATE_OIDC_ISSUER: provider.issuer,
    MODGATE_OIDC_CLIENT_ID: provider.clientId,
    MODGATE_OIDC_CLIENT_SECRET: provider.clientSecret,
    MODGATE_OIDC_GROUPS_CLAIM: 'groups',
    MODGATE_OIDC_SCOPES: 'openid profile email groups',
    MODGATE_PRIVATE: 'corp.example.com',
  });
});

afterAll(async () => {
  await modgate?.stop();
  await provider?.stop();
  await backends?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('browser sign-in (authorization code + PKCE)', () => {
  it('signs alice in, creates her user and maps her groups to teams', async () => {
    const { page, browser } = await browserSignIn(url, 'alice');
    expect(page.url.startsWith(`${url}/auth/callback?`)).toBe(true);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(pageText(page.body)).toContain('Signed in as alice');

    // What ModGate sent to the provider: S256 PKCE, state and nonce.
    const authorize = new URL(browser.visited.find((u) => u.startsWith(`${provider.issuer}/auth?`))!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${url}/auth/callback`);

    // The session JWT is in an HttpOnly cookie, never in the page.
    const setCookies = page.headers.getSetCookie();
    const session = setCookies.find((c) => c.startsWith('modgate_session='))!;
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; SameSite=Lax/);
    expect(session).not.toMatch(/; Secure/); // plain http here; https sets Secure
    const jwt = browser.cookie(url, 'modgate_session')!;
    secrets.push(['session JWT', jwt], ['authorization code', new URL(page.url).searchParams.get('code')!]);
    expect(jwt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(page.body).not.toContain(jwt);

    const [user] = await ds.query(`SELECT login, oidc_issuer, oidc_subject, email, display_name FROM users WHERE oidc_subject = 'alice'`);
    expect(user).toEqual({ login: 'alice', oidc_issuer: provider.issuer, oidc_subject: 'alice', email: 'alice@corp.example', display_name: 'Alice Example' });
    // "platform" has no mapping: no team.
    expect(await memberships('alice')).toEqual(['payments:publisher:oidc']);

    // The cookie is the browser's API session.
    const apiSession = await fetch(`${url}/api/v1/auth/session`, { headers: { cookie: `modgate_session=${jwt}` } });
    expect(apiSession.status).toBe(200);
    expect(await apiSession.json()).toMatchObject({ login: 'alice', role: 'user', kind: 'user', via: 'cookie', teams: [{ name: 'payments', role: 'publisher' }] });
  });

  it('refuses a callback replayed, or opened in a browser that did not start the sign-in', async () => {
    const { page } = await browserSignIn(url, 'bob');
    expect(page.status).toBe(200);
    const replay = await fetch(page.url, { headers: { cookie: `modgate_oidc_state=${new URL(page.url).searchParams.get('state')}` } });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toMatch(/unknown, expired or from another browser; start again at \/auth\/login/);

    // Login CSRF: a callback URL made in the attacker's browser, opened in the victim's.
    const attacker = new TestBrowser();
    attacker.holdRedirectsTo = `${url}/auth/callback`;
    const held = await completeInteraction(attacker, await attacker.get(`${url}/auth/login`), { login: 'mallory' });
    const callbackUrl = new URL(held.headers.get('location')!, held.url).toString();
    expect(callbackUrl.startsWith(`${url}/auth/callback?code=`)).toBe(true);
    const victim = await fetch(callbackUrl, { redirect: 'manual' });
    expect(victim.status).toBe(400);
    expect(victim.headers.getSetCookie().some((c) => c.startsWith('modgate_session='))).toBe(false);
    // It was the missing cookie: the browser that started it can still finish.
    attacker.holdRedirectsTo = null;
    expect(pageText((await attacker.get(callbackUrl)).body)).toContain('Signed in as mallory');
  });

  it('passes on a refusal by the provider with a page that says what to do', async () => {
    const r = await fetch(`${url}/auth/callback?error=access_denied&state=whatever`);
    expect(r.status).toBe(403);
    expect(await r.text()).toMatch(/did not sign you in \(access_denied\); start again at \/auth\/login/);
  });
});

describe('modgate login (device flow through the real CLI)', () => {
  it('writes the token into .netrc, keeps the other entries, and the token works', async () => {
    const netrc = join(tmp, 'netrc');
    const before = '# personal\nmachine github.com\n  login me\n  password ghp_keepme\n\nmachine 127.0.0.1 login stale password mg_old # old token\n';
    writeFileSync(netrc, before);
    chmodSync(netrc, 0o644);
    const home = mkdtempSync(join(tmp, 'home-'));
    const cli = startCli(['login', '--registry', url, '--netrc', netrc, '--token-name', 'e2e laptop'], { HOME: home });
    const { uri, userCode } = await cli.prompt;
    expect(uri).toBe(`${provider.issuer}/device`);
    const done = await approveDevice(uri, userCode, 'alice');
    expect(pageText(done.body)).toMatch(/Sign-in Success/);
    expect(await cli.code).toBe(0);

    const out = cli.out();
    expect(out).toContain('Signed in as alice');
    expect(out).toContain(`go env -w GOPROXY=${url}`);
    expect(out).toContain('go env -w GONOSUMDB=corp.example.com');

    const text = readFileSync(netrc, 'utf8');
    const port = new URL(url).port;
    const token = /machine 127\.0\.0\.1 login alice password (mg_\S+) # old token\n/.exec(text)?.[1];
    expect(token).toBeDefined();
    secrets.push(['token written by the CLI', token!]);
    expect(text).toBe(`# personal\nmachine github.com\n  login me\n  password ghp_keepme\n\nmachine 127.0.0.1 login alice password ${token} # old token\nmachine 127.0.0.1:${port} login alice password ${token}\n`);
    expect(lstatSync(netrc).mode & 0o777).toBe(0o600);
    expect(out).not.toContain(token!);

    const [row] = await ds.query(
      `SELECT t.name, t.scopes, t.expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.login = 'alice'`,
    );
    expect(row.name).toBe('e2e laptop');
    expect([...row.scopes].sort()).toEqual(['publish', 'read']);
    const days = (new Date(row.expires_at).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThanOrEqual(90);

    await expectTokenWorks('alice', token!);
  });
});

describe('device sign-in API', () => {
  it('answers 202 pending until approval, then the token once, then 404', async () => {
    const start = await postJson('/api/v1/auth/device', {});
    expect(start.status).toBe(200);
    expect(Object.keys(start.json).sort()).toEqual(['expiresIn', 'handle', 'interval', 'userCode', 'verificationUri', 'verificationUriComplete']);
    const handle = start.json.handle as string;
    expect(await postJson('/api/v1/auth/device/poll', { handle })).toEqual({ status: 202, json: { status: 'pending', interval: 2 } });

    // This time through verification_uri_complete (the code already filled in).
    await approveDevice(start.json.verificationUriComplete as string, start.json.userCode as string, 'bob');
    let res = await postJson('/api/v1/auth/device/poll', { handle });
    for (let i = 0; res.status === 202 && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 500));
      res = await postJson('/api/v1/auth/device/poll', { handle });
    }
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'complete', login: 'bob', tokenName: expect.stringMatching(/^modgate login \d{4}-\d\d-\d\d$/) });
    expect(res.json.token).toMatch(/^mg_/);
    secrets.push(['token from the device API', res.json.token as string], ['device handle', handle]);
    expect(await memberships('bob')).toEqual(['web:reader:oidc']);
    // bob's token is good, but his team may not read payments' modules.
    const denied = await listPayments('bob', res.json.token as string);
    expect(denied.status).toBe(403);

    const again = await postJson('/api/v1/auth/device/poll', { handle });
    expect(again.status).toBe(404);
    expect(again.json.message).toMatch(/run "modgate login" again/);
  });

  it('reports a sign-in refused at the provider as 403', async () => {
    const start = await postJson('/api/v1/auth/device', {});
    const browser = new TestBrowser();
    const entry = await browser.get(start.json.verificationUri as string);
    const codeForm = parseForms(entry.body).find((f) => f.id === 'op.deviceInputForm')!;
    const confirm = await browser.submit(entry, codeForm, { user_code: start.json.userCode as string });
    const confirmForm = parseForms(confirm.body).find((f) => f.id === 'op.deviceConfirmForm')!;
    await browser.submit(confirm, confirmForm, { abort: 'yes' });
    let res = await postJson('/api/v1/auth/device/poll', { handle: start.json.handle });
    for (let i = 0; res.status === 202 && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 500));
      res = await postJson('/api/v1/auth/device/poll', { handle: start.json.handle });
    }
    expect(res).toEqual({ status: 403, json: { code: 'forbidden', message: 'the sign-in was refused at the identity provider; run "modgate login" again' } });
  });

  it('rejects unknown handles and bad bodies', async () => {
    expect((await postJson('/api/v1/auth/device/poll', { handle: 'x'.repeat(32) })).status).toBe(404);
    expect((await postJson('/api/v1/auth/device/poll', { handle: 7 })).status).toBe(400);
  });
});

describe('group changes at the next sign-in', () => {
  it('remove OIDC memberships, add new ones and keep manual ones', async () => {
    const teams = await teamIds();
    const [{ id: aliceId }] = await ds.query(`SELECT id FROM users WHERE login = 'alice'`);
    await ds.query(`INSERT INTO team_members (team_id, user_id, role, source) VALUES ($1, $2, 'maintainer', 'manual')`, [teams.ops, aliceId]);
    expect(await memberships('alice')).toEqual(['ops:maintainer:manual', 'payments:publisher:oidc']);

    await provider.setAccount('alice', { preferred_username: 'alice', email: 'alice@corp.example', name: 'Alice Example', groups: ['web'] });
    const { page } = await browserSignIn(url, 'alice');
    expect(pageText(page.body)).toContain('Signed in as alice');
    expect(await memberships('alice')).toEqual(['ops:maintainer:manual', 'web:reader:oidc']);
  });
});

describe('logs', () => {
  it('hold no token, session, device handle, authorization code or client secret', () => {
    const log = modgate.output();
    expect(secrets.length).toBe(5);
    const all: Array<[string, string]> = [...secrets, ['client secret', provider.clientSecret]];
    expect(all.filter(([, value]) => log.includes(value)).map(([what]) => what)).toEqual([]);
  });
});

describe('an identity provider that is down at first', () => {
  it('answers 503 and discovers it on a later sign-in', async () => {
    const idpPort = await freeLoopbackPort();
    const late = await startModgate(backends, {
      MODGATE_OIDC_ISSUER: `http://127.0.0.1:${idpPort}`,
      MODGATE_OIDC_CLIENT_ID: 'modgate',
      MODGATE_OIDC_CLIENT_SECRET: 'modgate-test-secret',
    });
    let idp: OidcProvider | null = null;
    try {
      const down = await fetch(`${late.url}/auth/login`, { redirect: 'manual' });
      expect(down.status).toBe(503);
      expect(await down.text()).toBe(`the identity provider http://127.0.0.1:${idpPort} cannot be reached; try again in a minute\n`);

      idp = await startOidcProvider({ redirectUri: `${late.url}/auth/callback`, port: idpPort });
      let up = await fetch(`${late.url}/auth/login`, { redirect: 'manual' });
      for (let i = 0; up.status === 503 && i < 40; i++) {
        await new Promise((r) => setTimeout(r, 250));
        up = await fetch(`${late.url}/auth/login`, { redirect: 'manual' });
      }
      expect(up.status).toBe(302);
      expect(up.headers.get('location')!.startsWith(`${idp.issuer}/auth?`)).toBe(true);
    } finally {
      await late.stop();
      await idp?.stop();
    }
  });
});

describe('without SSO configured', () => {
  it('the SSO routes answer 404 "SSO is not configured"', async () => {
    const plain = await startModgate(backends, {});
    try {
      const login = await fetch(`${plain.url}/auth/login`, { redirect: 'manual' });
      expect(login.status).toBe(404);
      expect(await login.text()).toBe('SSO is not configured\n');
      const device = await fetch(`${plain.url}/api/v1/auth/device`, { method: 'POST' });
      expect(device.status).toBe(404);
      expect(await device.json()).toEqual({ code: 'not-found', message: 'SSO is not configured' });
    } finally {
      await plain.stop();
    }
  });
});

/** GET a private module's version list as the go command does with a .netrc entry (HTTP Basic). */
async function listPayments(login?: string, token?: string): Promise<Response> {
  const headers: Record<string, string> = login ? { authorization: `Basic ${Buffer.from(`${login}:${token}`).toString('base64')}` } : {};
  return fetch(`${url}/${PAYMENTS_MODULE}/@v/list`, { headers });
}

/** The .netrc token authenticates alice on a GOPROXY route her OIDC team may read. */
async function expectTokenWorks(login: string, token: string): Promise<void> {
  const anonymous = await listPayments();
  expect(anonymous.status).toBe(401);
  const wrong = await listPayments(login, 'mg_notarealtoken_0000000000000000000000');
  expect(wrong.status).toBe(401);
  const withToken = await listPayments(login, token);
  expect({ status: withToken.status, body: await withToken.text() }).toEqual({ status: 404, body: expect.any(String) });
}
