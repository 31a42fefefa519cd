import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultNetrcPath, lookupNetrc, netrcMachines, parseNetrc, saveNetrcCredentials, upsertNetrcEntry } from './netrc';

const TOKEN = 'mg_abcdefghijklmnopqrstuvwxyz012345';

describe('parseNetrc', () => {
  it.each([
    ['one line', 'machine a.example login u password p\n', [{ machine: 'a.example', login: 'u', password: 'p' }]],
    ['multi-line with comments', '# work\nmachine a.example\n  login u # trailing comment\n  password p\n', [{ machine: 'a.example', login: 'u', password: 'p' }]],
    ['default last', 'machine a login u password p\ndefault login anon password x\n', [
      { machine: 'a', login: 'u', password: 'p' },
      { machine: null, login: 'anon', password: 'x' },
    ]],
    ['macro body is skipped up to the empty line', 'machine a login u password p\nmacdef init\nmachine evil login e password e\n\nmachine b login v password q\n', [
      { machine: 'a', login: 'u', password: 'p' },
      { machine: 'b', login: 'v', password: 'q' },
    ]],
    ['password starting with #', 'machine a login u password #secret\n', [{ machine: 'a', login: 'u', password: '#secret' }]],
    ['CRLF line ends', 'machine a\r\nlogin u\r\npassword p\r\n', [{ machine: 'a', login: 'u', password: 'p' }]],
    ['empty file', '', []],
  ])('%s', (_name, text, want) => {
    expect(parseNetrc(text).map((e) => ({ machine: e.machine, login: e.fields.get('login')?.value, password: e.fields.get('password')?.value }))).toEqual(want);
  });
});

describe('lookupNetrc', () => {
  it('takes the first complete entry and stops at default, as the go command does', () => {
    const text = 'machine h login first password one\nmachine h login second password two\ndefault login d password d\nmachine z login z password z\n';
    expect(lookupNetrc(text, 'h')).toEqual({ login: 'first', password: 'one' });
    expect(lookupNetrc(text, 'z')).toBeNull();
  });
});

describe('upsertNetrcEntry', () => {
  it.each([
    ['creates the first entry in an empty file', '', `machine reg.example login alice password ${TOKEN}\n`],
    ['appends after other entries, adding the missing newline', 'machine github.com login me password ghp_x', `machine github.com login me password ghp_x\nmachine reg.example login alice password ${TOKEN}\n`],
    [
      'replaces only the values of the existing entry, keeping its layout and comments',
      '# my machines\nmachine github.com login me password ghp_x\n\n# the registry\nmachine reg.example\n    login old\n    password mg_old  # rotated yearly\n\nmachine other login o password p\n',
      `# my machines\nmachine github.com login me password ghp_x\n\n# the registry\nmachine reg.example\n    login alice\n    password ${TOKEN}  # rotated yearly\n\nmachine other login o password p\n`,
    ],
    ['inserts before default, which must stay last', 'machine a login u password p\ndefault login anon password x\n', `machine a login u password p\nmachine reg.example login alice password ${TOKEN}\ndefault login anon password x\n`],
    ['closes an unterminated macro before appending', 'machine a login u password p macdef init\necho hi\n', `machine a login u password p macdef init\necho hi\n\nmachine reg.example login alice password ${TOKEN}\n`],
    ['fills in a missing password', 'machine reg.example login alice\n', `machine reg.example login alice password ${TOKEN}\n`],
    ['fills in login and password', 'machine reg.example account x\n', `machine reg.example login alice password ${TOKEN} account x\n`],
    ['updates duplicates too', 'machine reg.example login a password b\nmachine reg.example login c password d\n', `machine reg.example login alice password ${TOKEN}\nmachine reg.example login alice password ${TOKEN}\n`],
    ['does not touch a longer host name', 'machine reg.example.org login a password b\n', `machine reg.example.org login a password b\nmachine reg.example login alice password ${TOKEN}\n`],
  ])('%s', (_name, before, after) => {
    expect(upsertNetrcEntry(before, 'reg.example', 'alice', TOKEN)).toBe(after);
  });

  it('is idempotent', () => {
    const once = upsertNetrcEntry('machine x login y password z\n', 'reg.example', 'alice', TOKEN);
    expect(upsertNetrcEntry(once, 'reg.example', 'alice', TOKEN)).toBe(once);
  });

  it('refuses values the file format cannot hold', () => {
    expect(() => upsertNetrcEntry('', 'reg.example', 'al ice', TOKEN)).toThrow(/login/);
    expect(() => upsertNetrcEntry('', 'reg.example', 'alice', '')).toThrow(/password/);
  });
});

describe('netrcMachines', () => {
  it.each([
    ['https://reg.example', ['reg.example']],
    ['https://reg.example:443/', ['reg.example']],
    ['https://reg.example:8443', ['reg.example', 'reg.example:8443']],
    ['http://127.0.0.1:8080', ['127.0.0.1', '127.0.0.1:8080']],
    ['https://[::1]:8443', ['::1', '[::1]:8443']],
    ['https://REG.Example', ['reg.example']],
  ])('%s', (url, want) => {
    expect(netrcMachines(url)).toEqual(want);
  });
});

describe('defaultNetrcPath', () => {
  it('prefers $NETRC, as the go command does', () => {
    expect(defaultNetrcPath({ NETRC: '/x/netrc' })).toBe('/x/netrc');
    expect(defaultNetrcPath({})).toMatch(/[._]netrc$/);
  });
});

describe('saveNetrcCredentials (file)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'netrc-spec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const mode = (p: string) => lstatSync(p).mode & 0o777;

  it('creates a missing file with mode 0600', async () => {
    const p = join(dir, '.netrc');
    await saveNetrcCredentials(p, ['reg.example', 'reg.example:8443'], 'alice', TOKEN);
    expect(readFileSync(p, 'utf8')).toBe(`machine reg.example login alice password ${TOKEN}\nmachine reg.example:8443 login alice password ${TOKEN}\n`);
    expect(mode(p)).toBe(0o600);
  });

  it('narrows a world-readable file to 0600 and keeps the other entries', async () => {
    const p = join(dir, '.netrc');
    writeFileSync(p, '# keep me\nmachine github.com login me password ghp_x\n');
    chmodSync(p, 0o644);
    await saveNetrcCredentials(p, ['reg.example'], 'alice', TOKEN);
    expect(mode(p)).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toBe(`# keep me\nmachine github.com login me password ghp_x\nmachine reg.example login alice password ${TOKEN}\n`);
    expect(readdirSync(dir)).toEqual(['.netrc']); // no temporary file left behind
  });

  it('follows a symlinked .netrc and leaves the link in place', async () => {
    const real = join(dir, 'dotfiles-netrc');
    writeFileSync(real, 'machine a login u password p\n', { mode: 0o600 });
    const link = join(dir, '.netrc');
    symlinkSync(real, link);
    await saveNetrcCredentials(link, ['reg.example'], 'alice', TOKEN);
    expect(readlinkSync(link)).toBe(real);
    expect(readFileSync(real, 'utf8')).toContain('machine reg.example login alice');
    expect(mode(real)).toBe(0o600);
  });
});
