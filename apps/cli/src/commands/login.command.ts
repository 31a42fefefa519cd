/**
 * `modgate login`: signs in through the registry's SSO device flow (the user
 * approves in a browser, possibly on another machine), receives a personal
 * access token and stores it in .netrc, where the go command looks for it.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { type DeviceLoginPoll, RegistryApiError, RegistryClient } from '../api-client';
import { defaultNetrcPath, netrcMachines, saveNetrcCredentials } from '../netrc';

export interface LoginOptions {
  readonly registry?: string;
  readonly tokenName?: string;
  readonly netrc?: string;
}

/** What the command needs from the outside world (tests pass their own). */
export interface LoginIo {
  readonly out: (line: string) => void;
  readonly env: Record<string, string | undefined>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

const defaultIo: LoginIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  env: process.env,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => Date.now(),
};

export function registerLoginCommand(program: Command, io: LoginIo = defaultIo): void {
  program
    .command('login')
    .description('sign in with your company account and store a registry token in .netrc for the go command')
    .option('--registry <url>', 'the ModGate URL, e.g. https://modgate.corp.example (default: $MODGATE_REGISTRY)')
    .option('--token-name <name>', 'name of the token to create (default: "modgate login <hostname> <date>")')
    .option('--netrc <path>', 'the .netrc file to update (default: $NETRC, else ~/.netrc)')
    .action((opts: LoginOptions) => runLogin(opts, io));
}

export async function runLogin(opts: LoginOptions, io: LoginIo = defaultIo): Promise<void> {
  const registry = opts.registry ?? io.env.MODGATE_REGISTRY;
  if (!registry) throw new Error('which registry? pass --registry https://modgate.example.com or set MODGATE_REGISTRY');
  const client = new RegistryClient(registry);
  const netrcPath = opts.netrc ?? defaultNetrcPath(io.env);
  const tokenName = opts.tokenName ?? `modgate login ${hostname()} ${new Date(io.now()).toISOString().slice(0, 10)}`;

  const start = await client.startDeviceLogin();
  io.out(`To sign in to ${client.baseUrl}, open this page in a browser:`);
  io.out('');
  io.out(`  ${start.verificationUriComplete ?? start.verificationUri}`);
  io.out('');
  io.out(`and check that it shows the code ${start.userCode}`);
  if (start.verificationUriComplete) io.out(`(or open ${start.verificationUri} and enter the code ${start.userCode})`);
  io.out('');
  io.out('Waiting for you to sign in...');

  const done = await pollUntilDone(client, start.handle, tokenName, start.interval, io.now() + start.expiresIn * 1000, io);
  const machines = netrcMachines(client.baseUrl);
  const written = await saveNetrcCredentials(netrcPath, machines, done.login, done.token);
  io.out(`Signed in as ${done.login}. Token "${done.tokenName}"${done.expiresAt ? ` (valid until ${done.expiresAt.slice(0, 10)})` : ''} saved in ${written} for ${machines.join(' and ')}.`);
  io.out('');
  for (const line of nextSteps(client.baseUrl, done.privatePatterns)) io.out(line);
}

type Complete = Extract<DeviceLoginPoll, { status: 'complete' }>;

async function pollUntilDone(client: RegistryClient, handle: string, tokenName: string, interval: number, deadline: number, io: LoginIo): Promise<Complete> {
  let wait = Math.max(1, interval) * 1000;
  let networkErrors = 0;
  while (io.now() < deadline) {
    await io.sleep(wait);
    let res: DeviceLoginPoll;
    try {
      res = await client.pollDeviceLogin(handle, tokenName);
      networkErrors = 0;
    } catch (err) {
      // A dropped connection or a restarting load balancer should not cost
      // the user their sign-in; anything the registry actually said does.
      if (err instanceof RegistryApiError && err.code === 'network' && ++networkErrors < 4) continue;
      throw err;
    }
    if (res.status === 'complete') return res;
    wait = Math.max(1, res.interval) * 1000;
  }
  throw new Error('the sign-in code expired before it was approved; run "modgate login" again');
}

/** The settings the go command needs next (see docs: GOPROXY, GONOSUMDB). */
export function nextSteps(registryUrl: string, privatePatterns: readonly string[]): string[] {
  const lines = ['Point the go command at ModGate:', `  go env -w GOPROXY=${registryUrl}`];
  if (privatePatterns.length > 0) {
    // Private modules are not in the public checksum database; GONOPROXY=none
    // keeps them going through ModGate rather than straight to VCS.
    lines.push(`  go env -w GONOSUMDB=${privatePatterns.join(',')}`, '  go env -w GONOPROXY=none');
  }
  if (registryUrl.startsWith('http:')) {
    lines.push('', `Note: the go command sends .netrc credentials only over https; ${registryUrl} is plain http.`);
  }
  return lines;
}
