import { createHash, randomBytes } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/**
 * Maps the ids of one archive to fresh ids without a table: a name-based UUID (hashed like
 * v5, shaped like v4) of the old id under a namespace drawn per import. The same old id
 * maps to the same new id within an import, so references to memories that come later in
 * the archive resolve, and two imports of one archive never collide.
 */
export class IdMap {
  private readonly namespace = randomBytes(16);

  map(old: string): string {
    const hash = createHash('sha1').update(this.namespace).update(old, 'utf8').digest();
    hash[6] = (hash[6] & 0x0f) | 0x40; // shaped as v4: validators of memory ids accept it
    hash[8] = (hash[8] & 0x3f) | 0x80;
    const hex = hash.subarray(0, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
