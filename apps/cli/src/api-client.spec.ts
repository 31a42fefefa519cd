import { normaliseRegistryUrl, RegistryApiError, RegistryClient } from './api-client';
import { nextSteps } from './commands/login.command';

describe('normaliseRegistryUrl', () => {
  it.each([
    ['https://modgate.corp.example/', 'https://modgate.corp.example'],
    ['https://modgate.corp.example:8443', 'https://modgate.corp.example:8443'],
    ['https://corp.example/modgate//', 'https://corp.example/modgate'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
  ])('%s', (raw, want) => {
    expect(normaliseRegistryUrl(raw)).toBe(want);
  });

  it.each([
    ['modgate.corp.example', /not a URL/],
    ['ftp://modgate.corp.example', /not an http/],
    ['https://alice:mg_x@modgate.corp.example', /leave credentials out/],
    ['https://modgate.corp.example/?x=1', /no query/],
  ])('refuses %s', (raw, message) => {
    expect(() => normaliseRegistryUrl(raw)).toThrow(message);
  });
});

describe('RegistryClient', () => {
  const answer = (status: number, body: string) => (async () => new Response(body, { status })) as unknown as typeof fetch;

  it('passes the registry’s one-line message on', async () => {
    const c = new RegistryClient('https://r.example', answer(404, '{"code":"not-found","message":"SSO is not configured"}'));
    await expect(c.startDeviceLogin()).rejects.toEqual(new RegistryApiError(404, 'not-found', 'SSO is not configured'));
  });

  it('says so when the URL is not a ModGate', async () => {
    const c = new RegistryClient('https://r.example', answer(404, '<html>nope</html>'));
    await expect(c.startDeviceLogin()).rejects.toThrow('is https://r.example a ModGate registry?');
  });

  it('reports a network failure with its code', async () => {
    const failing = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as unknown as typeof fetch;
    await expect(new RegistryClient('https://r.example', failing).pollDeviceLogin('h')).rejects.toMatchObject({ code: 'network', message: 'cannot reach https://r.example: ECONNREFUSED' });
  });

  it('returns 202 pending answers as data', async () => {
    const c = new RegistryClient('https://r.example', answer(202, '{"status":"pending","interval":2}'));
    await expect(c.pollDeviceLogin('h', 'laptop')).resolves.toEqual({ status: 'pending', interval: 2 });
  });
});

describe('nextSteps', () => {
  it('names GOPROXY, and GONOSUMDB/GONOPROXY when the registry owns paths', () => {
    expect(nextSteps('https://r.example', ['corp.example.com', 'git.corp/*'])).toEqual([
      'Point the go command at ModGate:',
      '  go env -w GOPROXY=https://r.example',
      '  go env -w GONOSUMDB=corp.example.com,git.corp/*',
      '  go env -w GONOPROXY=none',
    ]);
    expect(nextSteps('http://r.example', [])).toContain('Note: the go command sends .netrc credentials only over https; http://r.example is plain http.');
  });
});
