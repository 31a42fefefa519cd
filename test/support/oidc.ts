// The SSO test kit: runs the real OpenID Connect provider
// (test/support/oidc-provider.mjs, a child process because oidc-provider is
// ESM-only) and plays the user's browser against it: a cookie jar, redirects
// followed by hand, and the provider's login, consent and device-code forms
// filled in from their HTML, as a person clicking through would.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const PROVIDER_SCRIPT = join(__dirname, 'oidc-provider.mjs');

export interface OidcProviderOptions {
  /** Where the provider may send the browser back (ModGate's /auth/callback). */
  readonly redirectUri: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Extra accounts: id (= login = sub) → claims. alice and bob always exist. */
  readonly accounts?: Record<string, Record<string, unknown>>;
  /** Listen on this port (default: any free one). */
  readonly port?: number;
}

export interface OidcProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Replaces an account's claims (e.g. to move a user to other groups). */
  setAccount(id: string, claims: Record<string, unknown>): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export async function startOidcProvider(opts: OidcProviderOptions): Promise<OidcProvider> {
  const clientId = opts.clientId ?? 'modgate';
  const clientSecret = opts.clientSecret ?? 'modgate-test-secret';
  const args = JSON.stringify({ redirectUri: opts.redirectUri, clientId, clientSecret, accounts: opts.accounts ?? {}, port: opts.port });
  const child: ChildProcess = spawn(process.execPath, [PROVIDER_SCRIPT, args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`OIDC provider did not start:\n${out}`)), 20_000);
    const poll = setInterval(() => {
      const line = /^\{"issuer":.*\}$/m.exec(out);
      if (!line) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve((JSON.parse(line[0]) as { issuer: string }).issuer);
    }, 25);
    void exited.then(() => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`OIDC provider exited early:\n${out}`));
    });
  });
  return {
    issuer,
    clientId,
    clientSecret,
    async setAccount(id, claims) {
      const r = await fetch(`${issuer}/__test/accounts/${encodeURIComponent(id)}`, { method: 'PUT', body: JSON.stringify(claims) });
      if (r.status !== 204) throw new Error(`setAccount ${id}: ${r.status}`);
    },
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export interface Form {
  readonly id: string | null;
  readonly action: string;
  readonly method: string;
  /** Hidden and pre-filled inputs (buttons are not included). */
  readonly fields: Record<string, string>;
  /** Names of every input, hidden or not. */
  readonly inputs: string[];
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  secure: boolean;
  expires: number | null;
}

/**
 * A browser as far as OIDC needs one: cookies per host name (as browsers do,
 * ports share cookies), Path and Secure honoured, redirects followed one by
 * one so every Set-Cookie along the way is kept.
 */
export class TestBrowser {
  private readonly jar = new Map<string, StoredCookie[]>();
  /** Every URL visited, in order (to check where the flow went). */
  readonly visited: string[] = [];
  /**
   * A redirect to a URL starting with this is not followed: the 3xx answer
   * is returned (its Location is where the browser would go). Lets a test
   * take a callback URL from one browser and open it in another.
   */
  holdRedirectsTo: string | null = null;

  cookie(url: string, name: string): string | undefined {
    return this.cookiesFor(new URL(url)).find((c) => c.name === name)?.value;
  }

  get(url: string): Promise<Page> {
    return this.navigate(url, 'GET');
  }

  submit(page: Page, form: Form, extra: Record<string, string> = {}): Promise<Page> {
    const target = new URL(form.action || page.url, page.url).toString();
    const body = new URLSearchParams({ ...form.fields, ...extra }).toString();
    return form.method === 'get' ? this.navigate(`${target.split('?')[0]}?${body}`, 'GET') : this.navigate(target, 'POST', body);
  }

  private async navigate(url: string, method: string, body?: string): Promise<Page> {
    for (let hops = 0; hops < 20; hops++) {
      this.visited.push(url);
      const u = new URL(url);
      const headers: Record<string, string> = {};
      const cookies = this.cookiesFor(u);
      if (cookies.length > 0) headers.cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method, headers, body, redirect: 'manual' });
      this.store(u, res.headers.getSetCookie());
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        const next = new URL(location, url).toString();
        if (this.holdRedirectsTo && next.startsWith(this.holdRedirectsTo)) return { url, status: res.status, headers: res.headers, body: '' };
        url = next;
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      return { url, status: res.status, headers: res.headers, body: await res.text() };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  private cookiesFor(u: URL): StoredCookie[] {
    const now = Date.now();
    return (this.jar.get(u.hostname) ?? []).filter(
      (c) => (c.expires === null || c.expires > now) && (!c.secure || u.protocol === 'https:') && pathMatches(u.pathname, c.path),
    );
  }

  private store(u: URL, setCookies: string[]): void {
    const list = this.jar.get(u.hostname) ?? [];
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const c: StoredCookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), path: defaultPath(u.pathname), secure: false, expires: null };
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) c.path = v;
        else if (key === 'secure') c.secure = true;
        else if (key === 'max-age') c.expires = Date.now() + Number(v) * 1000;
        else if (key === 'expires' && c.expires === null) c.expires = Date.parse(a.slice(a.indexOf('=') + 1));
      }
      const i = list.findIndex((o) => o.name === c.name && o.path === c.path);
      if (i >= 0) list.splice(i, 1);
      if (c.expires === null || c.expires > Date.now()) list.push(c);
    }
    this.jar.set(u.hostname, list);
  }
}

function defaultPath(pathname: string): string {
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

function pathMatches(reqPath: string, cookiePath: string): boolean {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

/** Every <form> of a page with its hidden/pre-filled inputs (entities decoded). */
export function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = parseAttributes(m[1]);
    const fields: Record<string, string> = {};
    const inputs: string[] = [];
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(i[1]);
      if (!a.name) continue;
      inputs.push(a.name);
      if (a.value !== undefined) fields[a.name] = a.value;
    }
    forms.push({ id: attrs.id ?? null, action: attrs.action ?? '', method: (attrs.method ?? 'get').toLowerCase(), fields, inputs });
  }
  return forms;
}

function parseAttributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const k = e.toLowerCase();
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith('#')) return String.fromCodePoint(Number(k.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[k];
  });
}

/** The visible text of a page, for assertions and error messages. */
export function pageText(html: string): string {
  return decodeEntities(html.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}

export interface InteractionOptions {
  /** Login typed into the provider's form (the dev form takes any password). */
  readonly login: string;
  /** For the device flow: the code shown by the CLI. */
  readonly userCode?: string;
  /** Where to stop: the first page (after redirects) whose URL starts with this. */
  readonly until?: string;
}

/**
 * Clicks through whatever the provider shows: the device-code entry and
 * confirmation forms, the login form, the consent form; stops at a page
 * outside the provider (`until`) or at the device flow's success page.
 */
export async function completeInteraction(browser: TestBrowser, first: Page, opts: InteractionOptions): Promise<Page> {
  let page = first;
  for (let step = 0; step < 12; step++) {
    if (opts.until && page.url.startsWith(opts.until)) return page;
    if (page.status >= 300 && page.status < 400) return page; // a redirect held back (holdRedirectsTo)
    if (page.status >= 400) throw new Error(`provider answered ${page.status} at ${page.url}: ${pageText(page.body).slice(0, 300)}`);
    const forms = parseForms(page.body);
    const text = pageText(page.body);
    if (/Sign-in Success/i.test(text) && forms.length === 0) return page;
    const form = forms.find((f) => f.method === 'post');
    if (!form) throw new Error(`no form to submit at ${page.url}: ${text.slice(0, 300)}`);
    if (form.inputs.includes('login') && form.fields.prompt === 'login') {
      page = await browser.submit(page, form, { login: opts.login, password: 'any-password' });
    } else if (form.id === 'op.deviceInputForm') {
      if (!opts.userCode) throw new Error('the provider asks for a user code, but none was given');
      page = await browser.submit(page, form, { user_code: opts.userCode });
    } else {
      // Consent, device confirmation (confirm=yes is a hidden field) and the
      // auto-submitting form_post pages: submit as a browser would.
      page = await browser.submit(page, form);
    }
  }
  throw new Error(`interaction did not finish; last page ${page.url}: ${pageText(page.body).slice(0, 300)}`);
}

/** The browser code flow: start at ModGate's /auth/login, sign in at the provider, land on ModGate's callback page. */
export async function browserSignIn(modgateUrl: string, login: string, browser = new TestBrowser()): Promise<{ page: Page; browser: TestBrowser }> {
  const first = await browser.get(`${modgateUrl}/auth/login`);
  const page = await completeInteraction(browser, first, { login, until: `${modgateUrl}/` });
  return { page, browser };
}

/** The device flow as the user does it: open the verification URI, type the code, sign in, confirm. */
export async function approveDevice(verificationUri: string, userCode: string, login: string, browser = new TestBrowser()): Promise<Page> {
  const first = await browser.get(verificationUri);
  return completeInteraction(browser, first, { login, userCode });
}
