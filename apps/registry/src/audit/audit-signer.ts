import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { keyIdOf } from '@modgate/auditlog';
import type { DataSource } from 'typeorm';

/**
 * The Ed25519 key that signs export and archive manifests, so a file handed
 * to an external auditor can be checked offline with the public key alone.
 * Configured (MODGATE_AUDIT_SIGNING_KEY, a PEM file) or generated at the
 * first start and kept in the database (one key for every instance).
 */
export class AuditSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicPem: string,
    readonly keyId: string,
  ) {}

  static fromPem(pem: string): AuditSigner {
    const priv = createPrivateKey(pem);
    if (priv.asymmetricKeyType !== 'ed25519') throw new Error('MODGATE_AUDIT_SIGNING_KEY must be an Ed25519 private key (openssl genpkey -algorithm ed25519)');
    const publicPem = createPublicKey(priv).export({ type: 'spki', format: 'pem' }).toString();
    return new AuditSigner(priv, publicPem, keyIdOf(publicPem));
  }

  static async fromDatabase(ds: DataSource): Promise<AuditSigner> {
    const existing = await ds.query(`SELECT private_pem FROM audit_signing_keys ORDER BY created_at LIMIT 1`);
    if (existing.length) return AuditSigner.fromPem(existing[0].private_pem);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const privPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    // Two instances starting at once: the first insert wins, both use it.
    await ds.query(`INSERT INTO audit_signing_keys (id, private_pem, public_pem) VALUES ('audit', $1, $2) ON CONFLICT (id) DO NOTHING`, [privPem, pubPem]);
    const [row] = await ds.query(`SELECT private_pem FROM audit_signing_keys WHERE id = 'audit'`);
    return AuditSigner.fromPem(row.private_pem);
  }

  /** Base64 Ed25519 signature of the bytes. */
  sign(data: string | Buffer): string {
    return sign(null, Buffer.from(data), this.privateKey).toString('base64');
  }
}

