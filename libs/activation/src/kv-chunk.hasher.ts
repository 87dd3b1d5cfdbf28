// LMCache-style chunk keys: tokens are cut into fixed-size chunks and chunk i is keyed by
// a hash chained over every token before it (and the model fingerprint), so equal keys
// imply equal KV and a prefix match is a walk over the keys. The last, partial chunk is
// keyed the same way over its own tokens. A partition (engram: the tenant) is mixed into
// the seed, so two tenants never share a chunk: neither a hit nor a tier's timing can tell
// one tenant what another cached.
import { createHash } from 'node:crypto';

export const DEFAULT_CHUNK_TOKENS = 256;

export interface ChunkKey {
  index: number;
  start: number;
  end: number;
  /** Hex sha256, chained. */
  hash: string;
}

export function chainSeed(fingerprint: string, chunkTokens: number, partition = ''): string {
  const scope = partition === '' ? '' : `\0partition:${partition}`;
  return createHash('sha256').update(`engram-kv-v1\0${fingerprint}\0${chunkTokens}${scope}`).digest('hex');
}

export function chainHash(previous: string, tokens: readonly number[]): string {
  const buf = Buffer.alloc(tokens.length * 4);
  tokens.forEach((t, i) => buf.writeUInt32LE(t, i * 4));
  return createHash('sha256').update(previous, 'hex').update(buf).digest('hex');
}

/** Keys of every chunk of `tokens`, the last one possibly partial. */
export function chunkKeys(fingerprint: string, tokens: readonly number[], chunkTokens = DEFAULT_CHUNK_TOKENS, partition = ''): ChunkKey[] {
  const keys: ChunkKey[] = [];
  let prev = chainSeed(fingerprint, chunkTokens, partition);
  for (let start = 0, index = 0; start < tokens.length; start += chunkTokens, index++) {
    const end = Math.min(start + chunkTokens, tokens.length);
    prev = chainHash(prev, tokens.slice(start, end));
    keys.push({ index, start, end, hash: prev });
  }
  return keys;
}
