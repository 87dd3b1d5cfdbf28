// Verification of a write before it is committed (consolidation, ADR 0403): recall of the
// written texts with their routed path's blocks attached (teacher-forced greedy next-token
// accuracy, the anchor alone for comparison) and perplexity of held-out text with a path's
// blocks against the anchor alone. A write whose figures the caller rejects is not
// committed, so the bank keeps serving its previous generation.
import type { AnchorModel, TrainableBlock } from './block-trainer';
import { concatMemory64 } from './block-trainer';
import { forwardBackward, type Memory64 } from './llama-backprop';

export interface WriteVerification {
  /** Sequences of the written texts scored (tokens from `firstTarget` on). */
  facts: number;
  /** Share of their scored tokens the model predicts greedily with the routed path attached. */
  recall: number;
  /** Same without memory (the anchor alone). */
  anchorRecall: number;
  /** Held-out sequences and distinct written paths their perplexity was measured with. */
  heldOut: number;
  paths: number;
  perplexityAnchor: number;
  /** The worst (highest) perplexity over the written paths. */
  perplexityWithMemory: number;
  /** perplexityWithMemory / perplexityAnchor − 1. */
  perplexityIncrease: number;
}

export interface VerifyOptions {
  /** Held-out token sequences (e.g. anchor samples the write did not replay). */
  heldOut: readonly number[][];
  /** The figures → null to commit, or why the write is rejected (nothing committed). */
  accept(verification: WriteVerification): string | null;
  /** Texts whose recall is measured (default: every text the write trained on); ids as in the corpus. */
  memoryIds?: readonly string[];
  /** At most this many sequences and paths are scored (default 64 and 8): a bound on the CPU cost. */
  maxFacts?: number;
  maxPaths?: number;
}

export interface VerificationInput {
  anchor: AnchorModel;
  /** Token sequences per leaf of the texts to check, and the path of a leaf. */
  facts: ReadonlyArray<{ leaf: number; ids: readonly number[] }>;
  pathOf(leaf: number): number[];
  /** The block a path runs with at a level: the freshly trained one, else the bank's. */
  blockAt(level: number, node: number): TrainableBlock;
  heldOut: readonly number[][];
  firstTarget: number;
  maxFacts: number;
  maxPaths: number;
}

export function verifyWrite(input: VerificationInput): WriteVerification {
  const { anchor, pathOf, blockAt, firstTarget } = input;
  const { hiddenSize: hidden, numLayers: layers, vocabSize: V } = anchor.config;
  const memories = new Map<number, Memory64>();
  const memoryOf = (leaf: number): Memory64 => {
    let m = memories.get(leaf);
    if (!m) {
      m = concatMemory64(pathOf(leaf).map((node, i) => blockAt(i + 1, node)), hidden, layers);
      memories.set(leaf, m);
    }
    return m;
  };
  const accuracy = (ids: readonly number[], memory: Memory64 | undefined): { hit: number; n: number } => {
    const logits = forwardBackward(anchor.config, anchor.params, ids, memory, { keepLogits: true, forwardOnly: true }).logits!;
    let hit = 0;
    let n = 0;
    for (let s = Math.max(0, firstTarget - 1); s + 1 < ids.length; s++) {
      const o = s * V;
      let best = 0;
      for (let j = 1; j < V; j++) if (logits[o + j] > logits[o + best]) best = j;
      if (best === ids[s + 1]) hit++;
      n++;
    }
    return { hit, n };
  };
  const facts = evenly(input.facts, input.maxFacts);
  let hit = 0;
  let anchorHit = 0;
  let scored = 0;
  for (const f of facts) {
    const withMemory = accuracy(f.ids, memoryOf(f.leaf));
    hit += withMemory.hit;
    scored += withMemory.n;
    anchorHit += accuracy(f.ids, undefined).hit;
  }
  const nll = (memory: Memory64 | undefined): number => {
    let sum = 0;
    let n = 0;
    for (const ids of input.heldOut) {
      if (ids.length < 2) continue;
      const r = forwardBackward(anchor.config, anchor.params, ids, memory, { forwardOnly: true });
      sum += r.loss * r.count;
      n += r.count;
    }
    return n ? Math.exp(sum / n) : 1;
  };
  const leaves = evenly([...new Set(input.facts.map((f) => f.leaf))], input.maxPaths);
  const perplexityAnchor = nll(undefined);
  let perplexityWithMemory = leaves.length ? -Infinity : perplexityAnchor;
  for (const leaf of leaves) perplexityWithMemory = Math.max(perplexityWithMemory, nll(memoryOf(leaf)));
  return {
    facts: facts.length,
    recall: scored ? hit / scored : 0,
    anchorRecall: scored ? anchorHit / scored : 0,
    heldOut: input.heldOut.length,
    paths: leaves.length,
    perplexityAnchor,
    perplexityWithMemory,
    perplexityIncrease: perplexityWithMemory / perplexityAnchor - 1,
  };
}

/** At most `max` items, spread over the list (deterministic). */
function evenly<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)]);
}
