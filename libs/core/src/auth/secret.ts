import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a high-entropy secret (API keys, the admin token); never of a password. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function secretMatches(secret: string, expectedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(expectedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** API keys look like `egm_<prefix>_<secret>`; the prefix finds the row, the whole key is hashed. */
export function newApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(6).toString('hex');
  return { key: `egm_${prefix}_${randomToken(24)}`, prefix };
}

export function prefixOfApiKey(key: string): string | null {
  const match = /^egm_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/.exec(key);
  return match ? match[1] : null;
}
