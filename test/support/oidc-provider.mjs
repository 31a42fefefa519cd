// A real OpenID Connect provider (panva/oidc-provider) for the SSO tests.
// oidc-provider is ESM-only and jest cannot load it, so test/support/oidc.ts
// runs this file as a child process:
//
//   node test/support/oidc-provider.mjs '{"redirectUri":"http://127.0.0.1:8080/auth/callback", ...}'
//
// It listens on 127.0.0.1 (a free port, or "port" from the options) and prints one JSON line {"issuer":...}
// once it accepts connections. Its built-in development login form accepts any
// login with any password; known accounts (alice, bob) carry a `groups` claim.
// PUT /__test/accounts/<id> (JSON claims) changes an account's claims so a
// test can move a user between groups; it exists only in this test server.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const opts = JSON.parse(process.argv[2] ?? '{}');
const clientId = opts.clientId ?? 'modgate';
const clientSecret = opts.clientSecret ?? 'modgate-test-secret';
const redirectUris = opts.redirectUris ?? (opts.redirectUri ? [opts.redirectUri] : []);
if (redirectUris.length === 0) {
  process.stderr.write('oidc-provider.mjs: pass {"redirectUri": "..."} as the first argument\n');
  process.exit(2);
}

/** Account id (= what the login form gets = sub) → claims beyond sub. */
const accounts = new Map([
  ['alice', { preferred_username: 'alice', name: 'Alice Example', email: 'alice@corp.example', email_verified: true, groups: ['payments', 'platform'] }],
  ['bob', { preferred_username: 'bob', name: 'Bob Example', email: 'bob@corp.example', email_verified: true, groups: ['web'] }],
  ...Object.entries(opts.accounts ?? {}),
]);

const server = createServer();
await new Promise((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// A fresh signing key per run: tests never depend on key material.
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    },
  ],
  // PKCE for every client, including confidential ones (the default only
  // requires it for public clients): ModGate must always send it.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  async findAccount(_ctx, id) {
    // Any login works (as in the dev login form); unknown ones have no groups.
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, groups: [], ...accounts.get(id) };
      },
    };
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  jwks: { keys: [{ ...signingKey, kid: 'test-1', use: 'sig', alg: 'RS256' }] },
});
provider.on('server_error', (_ctx, err) => process.stderr.write(`oidc-provider server_error: ${err.stack ?? err}\n`));

const handler = provider.callback();
server.on('request', (req, res) => {
  const m = /^\/__test\/accounts\/([^/?]+)$/.exec(req.url ?? '');
  if (m && req.method === 'PUT') {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      accounts.set(decodeURIComponent(m[1]), JSON.parse(body));
      res.writeHead(204).end();
    });
    return;
  }
  handler(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
