/**
 * Which registry and which token a command uses: --registry or
 * MODGATE_REGISTRY; MODGATE_TOKEN, else the ~/.netrc entry the go command
 * would use for that registry (what `modgate login` writes).
 */
import { readFile } from 'node:fs/promises';
import { normaliseRegistryUrl } from './api-client';
import { defaultNetrcPath, lookupNetrc, netrcMachines } from './netrc';

export function registryFrom(flag: string | undefined, env: Record<string, string | undefined>): string {
  const raw = flag ?? env.MODGATE_REGISTRY;
  if (!raw) throw new Error('which registry? pass --registry https://modgate.example.com or set MODGATE_REGISTRY');
  return normaliseRegistryUrl(raw);
}

export async function tokenFor(registry: string, env: Record<string, string | undefined>, netrcPath: string | undefined, scope: string): Promise<string> {
  if (env.MODGATE_TOKEN) return env.MODGATE_TOKEN;
  const text = await readFile(netrcPath ?? defaultNetrcPath(env), 'utf8').catch(() => '');
  // Go 1.24+'s host:port entry first, then the plain host.
  for (const machine of netrcMachines(registry).reverse()) {
    const hit = lookupNetrc(text, machine);
    if (hit) return hit.password;
  }
  throw new Error(`no token for ${new URL(registry).host}: run "modgate login --registry ${registry}", or set MODGATE_TOKEN to a token with the ${scope} scope`);
}
