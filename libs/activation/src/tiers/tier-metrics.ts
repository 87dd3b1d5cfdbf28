export type TierName = 'ram' | 'disk' | 'object';

export interface TierMetrics {
  hits: number;
  misses: number;
  puts: number;
  evictions: number;
  /** Bytes held now. */
  bytes: number;
  items: number;
}

export const emptyMetrics = (): TierMetrics => ({ hits: 0, misses: 0, puts: 0, evictions: 0, bytes: 0, items: 0 });

/** A byte-addressed lower tier (disk, object store). */
export interface BlobTier {
  readonly name: TierName;
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  has(key: string): boolean | Promise<boolean>;
  delete(key: string): Promise<void>;
  metrics(): TierMetrics;
}
