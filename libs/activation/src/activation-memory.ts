// Activation memory: builds KV caches of memory text with a model and hands generation
// the longest cached prefix of a prompt, so only the rest is prefilled.
import { BlendSegment, KvState, LanguageModel, sliceKv } from '@engram/inference';
import { ActivationError, ActivationErrorCode } from './activation.error';
import { placeCaches } from './cache-placement';
import { memoryPrefixTokens, PromptTokenizer } from './memory-prompt';
import type { TierName } from './tiers/tier-metrics';
import { KvCacheEntry, KvCacheSource, KvCacheStore, PrefixHit, textHash } from './kv-cache.store';

/** What activation memory needs of a model (LanguageModel satisfies it). */
export type PrefillModel = Pick<LanguageModel, 'fingerprint' | 'prefill' | 'maxContext'> & {
  tokenizer: PromptTokenizer;
};

export interface BuildKvCacheRequest {
  /** Memory text (tokenized without special tokens) or ready token ids. */
  text?: string;
  tokens?: readonly number[];
  /**
   * How `text` is tokenized: 'system' (default) renders it as the leading system message
   * of the chat template, matching chatPromptTokens(…, memoryText); 'raw' encodes it as is.
   */
  format?: 'system' | 'raw';
  /** Provenance: the plaintext memories the text came from. */
  sources?: readonly { memoryId: string; text: string }[] | readonly KvCacheSource[];
  owner?: string | null;
  /** Chunk-key partition (a tenant id): prefix reuse happens only within it. */
  partition?: string;
  pin?: boolean;
}

export interface BuildKvCacheResult {
  entry: KvCacheEntry;
  /** Tokens whose KV was already cached (prefix reuse) vs newly prefilled. */
  reusedTokens: number;
  prefilledTokens: number;
}

export interface PromptPrefix {
  prefix?: KvState;
  cachedTokens: number;
  tiers: PrefixHit['tiers'];
}

function toSource(s: { memoryId: string; text: string } | KvCacheSource): KvCacheSource {
  return 'textHash' in s ? s : { memoryId: s.memoryId, textHash: textHash(s.text) };
}

export class ActivationMemory {
  constructor(readonly store: KvCacheStore) {}

  async build(model: PrefillModel, request: BuildKvCacheRequest): Promise<BuildKvCacheResult> {
    const tokens = request.tokens
      ? [...request.tokens]
      : request.text === undefined || request.text === ''
        ? []
        : request.format === 'raw'
          ? model.tokenizer.encode(request.text)
          : memoryPrefixTokens(model.tokenizer, request.text);
    if (tokens.length === 0) throw new ActivationError(ActivationErrorCode.InvalidRequest, 'a KV cache needs non-empty text or tokens');
    if (tokens.length > model.maxContext) {
      throw new ActivationError(ActivationErrorCode.InvalidRequest, `memory text of ${tokens.length} tokens exceeds the model's context length of ${model.maxContext}`);
    }
    const partition = request.partition ?? '';
    const hit = await this.store.lookup(model.fingerprint, tokens, partition);
    let kv = hit.kv;
    if (hit.tokens < tokens.length) {
      const rest = await model.prefill(tokens.slice(hit.tokens), { past: hit.kv });
      kv = rest.present;
    }
    const chunkHashes = await this.store.putChunks(model.fingerprint, tokens, kv!, partition);
    const bytes = kv!.layers.reduce((a, l) => a + l.key.byteLength + l.value.byteLength, 0);
    const entry = await this.store.saveEntry({
      fingerprint: model.fingerprint,
      owner: request.owner ?? null,
      ...(partition ? { partition } : {}),
      tokens,
      chunkHashes,
      sources: (request.sources ?? []).map(toSource),
      bytes,
      pinned: request.pin,
    });
    if (request.pin && !entry.pinned) this.store.pin(entry.id);
    return { entry, reusedTokens: hit.tokens, prefilledTokens: tokens.length - hit.tokens };
  }

  /** Longest cached prefix of a prompt for this model (LMCache-style lookup). */
  async prefixFor(model: PrefillModel, promptTokens: readonly number[], partition = ''): Promise<PromptPrefix> {
    const hit = await this.store.lookup(model.fingerprint, promptTokens, partition);
    return { prefix: hit.kv, cachedTokens: hit.tokens, tiers: hit.tiers };
  }

  /**
   * Prompt tokens and cached prefix for named caches placed before `promptTokens`.
   * Caches of another model are refused. Only the first cache's KV can be reused as is
   * (a later cache was computed without the earlier text before it); the store's chained
   * keys find exactly what is reusable and the rest is prefilled.
   */
  async withCaches(model: PrefillModel, cacheIds: readonly string[], promptTokens: readonly number[]): Promise<{ tokens: number[]; partition: string } & PromptPrefix> {
    const tokens: number[] = [];
    let partition: string | undefined;
    for (const id of cacheIds) {
      const entry = this.store.getEntry(id);
      if (!entry) throw new ActivationError(ActivationErrorCode.CacheNotFound, `KV cache ${id} not found`);
      if (entry.fingerprint !== model.fingerprint) {
        throw new ActivationError(
          ActivationErrorCode.FingerprintMismatch,
          `KV cache ${id} was built by model ${entry.fingerprint.slice(0, 12)}, not by ${model.fingerprint.slice(0, 12)}; rebuild it for this model`,
        );
      }
      if (partition !== undefined && (entry.partition ?? '') !== partition) {
        throw new ActivationError(ActivationErrorCode.InvalidRequest, `KV cache ${id} belongs to another partition than the caches before it`);
      }
      partition = entry.partition ?? '';
      tokens.push(...entry.tokens);
    }
    tokens.push(...promptTokens);
    return { tokens, partition: partition ?? '', ...(await this.prefixFor(model, tokens, partition ?? '')) };
  }

  /**
   * Several named caches of one prompt as blend segments (kv-blend): each cache found in
   * the prompt, in order, with its KV (chunks evicted from every tier are recomputed).
   * Caches whose manifest is gone, or whose tokens the prompt does not hold, are left out
   * (their text is prefilled). Caches of another model are refused. `tiers`: the tier of
   * each reused chunk; `missedChunks`: chunks recomputed or prefilled.
   */
  async segmentsFor(
    model: PrefillModel,
    promptTokens: readonly number[],
    cacheIds: readonly string[],
  ): Promise<{ segments: BlendSegment[]; placed: string[]; tiers: TierName[]; missedChunks: number }> {
    const entries: KvCacheEntry[] = [];
    for (const id of cacheIds) {
      const entry = this.store.getEntry(id);
      if (!entry) continue;
      if (entry.fingerprint !== model.fingerprint) {
        throw new ActivationError(ActivationErrorCode.FingerprintMismatch, `KV cache ${id} was built by model ${entry.fingerprint.slice(0, 12)}, not by ${model.fingerprint.slice(0, 12)}; rebuild it for this model`);
      }
      entries.push(entry);
    }
    const placements = placeCaches(promptTokens, entries.map((e) => e.tokens));
    const segments: BlendSegment[] = [];
    const tiers: TierName[] = [];
    let missedChunks = entries.filter((_, i) => !placements.some((p) => p.index === i)).reduce((a, e) => a + e.chunkHashes.length, 0);
    for (const p of placements) {
      const entry = entries[p.index];
      const tier = await this.store.tierOf(entry.id);
      if (tier === 'missing') missedChunks += entry.chunkHashes.length;
      else tiers.push(...entry.chunkHashes.map(() => tier));
      const kv = await this.load(model, entry.id);
      segments.push({ start: p.start, builtAt: p.builtAt, kv: sliceKv(kv, p.builtAt, p.builtAt + p.length) });
    }
    return { segments, placed: placements.map((p) => entries[p.index].id), tiers, missedChunks };
  }

  /** The whole KV of one cache (recomputing chunks that were evicted from every tier). */
  async load(model: PrefillModel, cacheId: string): Promise<KvState> {
    const { tokens, partition, prefix, cachedTokens } = await this.withCaches(model, [cacheId], []);
    if (cachedTokens === tokens.length && prefix) return prefix;
    const rest = await model.prefill(tokens.slice(cachedTokens), { past: prefix });
    await this.store.putChunks(model.fingerprint, tokens, rest.present, partition);
    return rest.present;
  }
}
