import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API tokens look like `mg_<publicId>_<secret>`. The public id (12 base32
 * characters) names the token in lists, logs and messages and finds its row;
 * only sha256(secret) is stored, so a database dump holds no usable token.
 * The secret has 43 base62 characters (≈256 bits), so a plain hash is enough:
 * there is nothing to brute-force that a slow hash would protect.
 */
export interface ParsedToken {
  publicId: string;
  secret: string;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const PUBLIC_ID = /^[a-z2-7]{12}$/;
const TOKEN = /^mg_([A-Za-z0-9]{4,64})_([A-Za-z0-9_]{16,200})$/;
export const SECRET_LENGTH = 43;

export function newToken(): { token: string; publicId: string; secretHash: Buffer } {
  const publicId = randomChars(BASE32, 12);
  const secret = randomChars(BASE62, SECRET_LENGTH);
  return { token: `mg_${publicId}_${secret}`, publicId, secretHash: hashSecret(secret) };
}

/**
 * Splits a presented token at the first "_" after "mg_". A registered token
 * (MODGATE_BOOTSTRAP_ADMIN_TOKEN, made by an operator or a test) may have a
 * public id of other length or case and a shorter secret, so parsing is wider
 * than generation.
 */
export function parseToken(value: string): ParsedToken | null {
  const m = TOKEN.exec(value);
  return m ? { publicId: m[1], secret: m[2] } : null;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time: how much of a guessed secret matched must not show in the timing. */
export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const h = hashSecret(secret);
  return h.length === storedHash.length && timingSafeEqual(h, storedHash);
}

/** The non-secret part shown to people: `mg_<publicId>`. */
export function tokenPrefix(publicId: string): string {
  return `mg_${publicId}`;
}

export function isGeneratedPublicId(id: string): boolean {
  return PUBLIC_ID.test(id);
}

/** Uniform characters from crypto.randomBytes: bytes past the last full alphabet multiple are dropped (no modulo bias). */
function randomChars(alphabet: string, n: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < limit) out += alphabet[b % alphabet.length];
      if (out.length === n) break;
    }
  }
  return out;
}
