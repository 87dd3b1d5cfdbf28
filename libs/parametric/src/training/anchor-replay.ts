// Replay text for writes that have no generic corpus (the server's bank jobs): sequences
// sampled from the frozen anchor itself, from the BOS, at temperature 1. Scored against the
// anchor's own distributions (replay target 'anchor'), they pull a block toward "leave the
// model's typical text as it was" — an unbiased sample of the KL from the anchor over the
// anchor's own text distribution — with no dataset to download.
import { mulberry32 } from '@engram/inference';
import type { AnchorModel } from './block-trainer';
import { forwardBackward } from './llama-backprop';

export interface AnchorSamplingOptions {
  /** Sequences to sample. */
  count: number;
  /** Tokens per sequence at most, the start included (clipped to the model's positions). */
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

export const DEFAULT_SAMPLE_TOKENS = 32;

/** Start of every sample: the BOS when the tokenizer adds one; otherwise a short neutral prompt. */
export function samplingStart(anchor: AnchorModel): number[] {
  const bos = anchor.tokenize('');
  return bos.length ? bos : anchor.tokenize('The');
}

/**
 * Samples `count` sequences from the anchor (no memory attached). A sequence ends at an EOS
 * of the anchor (kept) or at `maxTokens`. Deterministic for a seed.
 */
export function sampleAnchorSequences(anchor: AnchorModel, options: AnchorSamplingOptions): number[][] {
  const { vocabSize: V, maxPositionEmbeddings } = anchor.config;
  const maxTokens = Math.max(2, Math.min(options.maxTokens ?? DEFAULT_SAMPLE_TOKENS, maxPositionEmbeddings));
  const temperature = options.temperature ?? 1;
  const eos = new Set(anchor.eosTokenIds ?? []);
  const rnd = mulberry32(options.seed ?? 1);
  const start = samplingStart(anchor).slice(0, maxTokens - 1);
  const out: number[][] = [];
  const probs = new Float64Array(V);
  for (let n = 0; n < options.count; n++) {
    const ids = [...start];
    while (ids.length < maxTokens) {
      // No KV cache in the TypeScript pass: each token reruns the prefix (O(T²), fine at these lengths).
      const logits = forwardBackward(anchor.config, anchor.params, ids, undefined, { keepLogits: true, forwardOnly: true }).logits!;
      const o = (ids.length - 1) * V;
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, logits[o + j]);
      let sum = 0;
      for (let j = 0; j < V; j++) sum += probs[j] = temperature > 0 ? Math.exp((logits[o + j] - max) / temperature) : logits[o + j] === max ? 1 : 0;
      let u = rnd() * sum;
      let next = V - 1;
      for (let j = 0; j < V; j++) {
        u -= probs[j];
        if (u <= 0) {
          next = j;
          break;
        }
      }
      ids.push(next);
      if (eos.has(next)) break;
    }
    out.push(ids);
  }
  return out;
}
