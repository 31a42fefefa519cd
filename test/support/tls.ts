// A throwaway certificate authority and a server certificate signed by it,
// made with the openssl CLI. The go command sends .netrc credentials only
// over https, so auth tests need a registry whose certificate the go command
// trusts: pass caFile as SSL_CERT_FILE (see go-env.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCA {
  dir: string;
  /** CA certificate (PEM): what clients trust. */
  caFile: string;
  /** Server certificate (PEM) for the given hosts. */
  certFile: string;
  /** Server private key (PEM, unencrypted). */
  keyFile: string;
  cleanup(): void;
}

export function makeTestCA(hosts: string[] = ['127.0.0.1', 'localhost']): TestCA {
  const dir = mkdtempSync(join(tmpdir(), 'modgate-tls-'));
  const f = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  // P-256 keys: quick to generate, accepted by Go's crypto/tls and Node.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  // Go's verifier requires basicConstraints CA:TRUE on the issuer.
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2',
    '-subj', '/CN=ModGate Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-new', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', `/CN=${hosts[0]}`);

  // Hostname checks use subjectAltName only (Go ignores the CN), so every
  // host goes there, IPs as IP: entries.
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(f('server.ext'), [
    `subjectAltName=${san}`,
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'));
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext'));

  return {
    dir,
    caFile: f('ca.pem'),
    certFile: f('server.pem'),
    keyFile: f('server.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
