// Public API of @engram/activation: KV caches of memory text, tiered and content-addressed.
export { ActivationError, ActivationErrorCode } from './activation.error';
export { chunkKeys, chainHash, chainSeed, DEFAULT_CHUNK_TOKENS, type ChunkKey } from './kv-chunk.hasher';
export { encodeKvBlob, decodeKvBlob, type KvBlobHeader } from './kv-blob.codec';
export { KvCacheStore, textHash, type KvCacheEntry, type KvCacheSource, type KvCacheStoreOptions, type PrefixHit } from './kv-cache.store';
export { ActivationMemory, type PrefillModel, type BuildKvCacheRequest, type BuildKvCacheResult, type PromptPrefix } from './activation-memory';
export { RamTier } from './tiers/ram.tier';
export { DiskTier } from './tiers/disk.tier';
export { ObjectStoreTier, InMemoryObjectStore, type ObjectStoreClient } from './tiers/object-store.tier';
export { type TierName, type TierMetrics, type BlobTier } from './tiers/tier-metrics';
export { placeCaches, type CachePlacement } from './cache-placement';
export { memoryPrefixTokens, chatPromptTokens, type PromptTokenizer } from './memory-prompt';
export { S3ObjectStoreClient, signS3Request, type S3Config } from './tiers/s3-object-store.client';
