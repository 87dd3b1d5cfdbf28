// Writing knowledge into the bank: with the anchor frozen, the blocks of the chosen nodes
// are trained with AdamW on next-token loss over the texts of their clusters. A step takes
// a mini-batch from one leaf, runs the anchor with that leaf's whole path attached (the
// concatenation along R the graph sees), and updates only the trainable blocks on the path.
import { gaussian, mulberry32, type LlamaConfig, type MemoryBlock } from '@engram/inference';
import { AdamW } from './adamw';
import { forwardBackward, type Memory64, type Params64 } from './llama-backprop';

/** The frozen anchor the blocks are trained against. */
export interface AnchorModel {
  config: LlamaConfig;
  params: Params64;
  fingerprint: string;
  tokenize(text: string): number[];
  /** Splits a memory text into training sequences (e.g. sentences); default: the whole text. */
  segment?(text: string): string[];
}

export interface TrainableBlock {
  level: number;
  node: number;
  rank: number;
  gate: Float64Array;
  up: Float64Array;
  down: Float64Array;
}

export interface LeafBatchSource {
  /** Leaf node index → token sequences of the texts under it. */
  leaves: Map<number, number[][]>;
  /** Path (level 1..p node indices) of a leaf. */
  pathOf(leaf: number): number[];
  /**
   * General text replayed with the same memory attached (next-token loss): keeps a block
   * from degrading text it does not hold facts about (locality).
   */
  replay?: number[][];
}

export interface BlockTrainingOptions {
  steps: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  /** Replay sequences per step (default: half the batch when replay data is given). */
  replayPerStep?: number;
  /** Weight of the replay loss relative to the facts' loss (default 1). */
  replayWeight?: number;
  onProgress?: (step: number, steps: number, loss: number) => void;
}

export interface BlockTrainingResult {
  steps: number;
  /** Mean loss over the last tenth of the steps. */
  finalLoss: number;
  firstLoss: number;
}

export function toBlock64(b: MemoryBlock, level: number, node: number): TrainableBlock {
  return { level, node, rank: b.rank, gate: Float64Array.from(b.gate), up: Float64Array.from(b.up), down: Float64Array.from(b.down) };
}

export function toMemoryBlock(b: TrainableBlock): MemoryBlock {
  return { rank: b.rank, gate: Float32Array.from(b.gate), up: Float32Array.from(b.up), down: Float32Array.from(b.down) };
}

/** A fresh block: small random gate/up, zero down (so it starts with no effect). */
export function freshBlock(level: number, node: number, rank: number, hidden: number, layers: number, seed: number): TrainableBlock {
  const normal = gaussian(mulberry32(seed));
  const n = layers * rank * hidden;
  const std = 1 / Math.sqrt(hidden);
  return {
    level,
    node,
    rank,
    gate: Float64Array.from({ length: n }, () => std * normal()),
    up: Float64Array.from({ length: n }, () => std * normal()),
    down: new Float64Array(n),
  };
}

/** Concatenates f64 blocks along R (per layer: gate/up rows stack, down columns append). */
export function concatMemory64(blocks: readonly TrainableBlock[], hidden: number, layers: number): Memory64 {
  const R = blocks.reduce((a, b) => a + b.rank, 0);
  const gate = new Float64Array(layers * R * hidden);
  const up = new Float64Array(layers * R * hidden);
  const down = new Float64Array(layers * hidden * R);
  let r0 = 0;
  for (const b of blocks) {
    const r = b.rank;
    for (let l = 0; l < layers; l++) {
      gate.set(b.gate.subarray(l * r * hidden, (l + 1) * r * hidden), (l * R + r0) * hidden);
      up.set(b.up.subarray(l * r * hidden, (l + 1) * r * hidden), (l * R + r0) * hidden);
      for (let i = 0; i < hidden; i++) down.set(b.down.subarray((l * hidden + i) * r, (l * hidden + i + 1) * r), (l * hidden + i) * R + r0);
    }
    r0 += r;
  }
  return { rank: R, gate, up, down };
}

/** Adds the slice of a concatenated gradient that belongs to block j (offset r0) into g. */
function sliceGrad(m: Memory64, r0: number, r: number, hidden: number, layers: number, g: { gate: Float64Array; up: Float64Array; down: Float64Array }): void {
  const R = m.rank;
  for (let l = 0; l < layers; l++) {
    g.gate.set(m.gate.subarray((l * R + r0) * hidden, (l * R + r0 + r) * hidden), l * r * hidden);
    g.up.set(m.up.subarray((l * R + r0) * hidden, (l * R + r0 + r) * hidden), l * r * hidden);
    for (let i = 0; i < hidden; i++) g.down.set(m.down.subarray((l * hidden + i) * R + r0, (l * hidden + i) * R + r0 + r), (l * hidden + i) * r);
  }
}

/**
 * Trains `trainable` (keyed "level:node") in place. `frozen` supplies the other blocks of a
 * path (they shape the forward pass but are not updated).
 */
export function trainBlocks(
  anchor: AnchorModel,
  trainable: Map<string, TrainableBlock>,
  frozen: (level: number, node: number) => TrainableBlock,
  data: LeafBatchSource,
  options: BlockTrainingOptions,
): BlockTrainingResult {
  const { hiddenSize: d, numLayers: L } = anchor.config;
  const rnd = mulberry32(options.seed ?? 1);
  const batch = options.batch ?? 8;
  const optimizers = new Map<string, { opt: AdamW; block: TrainableBlock }>();
  for (const [k, b] of trainable) optimizers.set(k, { opt: new AdamW([b.gate, b.up, b.down], { lr: options.lr ?? 1e-2, weightDecay: options.weightDecay ?? 0 }), block: b });
  const leaves = [...data.leaves.entries()].filter(([, seqs]) => seqs.length > 0);
  if (leaves.length === 0 || trainable.size === 0) return { steps: 0, finalLoss: NaN, firstLoss: NaN };
  let order: number[] = [];
  const losses: number[] = [];
  for (let step = 0; step < options.steps; step++) {
    if (order.length === 0) {
      order = leaves.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const [leaf, seqs] = leaves[order.pop()!];
    const path = data.pathOf(leaf);
    const blocks = path.map((node, i) => trainable.get(`${i + 1}:${node}`) ?? frozen(i + 1, node));
    const memory = concatMemory64(blocks, d, L);
    const grad: Memory64 = { rank: memory.rank, gate: new Float64Array(memory.gate.length), up: new Float64Array(memory.up.length), down: new Float64Array(memory.down.length) };
    const picks = seqs.length <= batch ? seqs : Array.from({ length: batch }, () => seqs[Math.floor(rnd() * seqs.length)]);
    let loss = 0;
    for (const ids of picks) loss += forwardBackward(anchor.config, anchor.params, ids, memory, { memoryGrad: grad, scale: 1 / picks.length }).loss / picks.length;
    losses.push(loss);
    const replay = data.replay ?? [];
    const replayN = replay.length ? (options.replayPerStep ?? Math.max(1, Math.floor(batch / 2))) : 0;
    for (let i = 0; i < replayN; i++) {
      const ids = replay[Math.floor(rnd() * replay.length)];
      forwardBackward(anchor.config, anchor.params, ids, memory, { memoryGrad: grad, scale: (options.replayWeight ?? 1) / replayN });
    }
    let r0 = 0;
    for (const b of blocks) {
      const entry = optimizers.get(`${b.level}:${b.node}`);
      if (entry && entry.block === b) {
        const g = { gate: new Float64Array(b.gate.length), up: new Float64Array(b.up.length), down: new Float64Array(b.down.length) };
        sliceGrad(grad, r0, b.rank, d, L, g);
        // Linear decay to 10% keeps late steps from undoing what other leaves wrote.
        const lr = (options.lr ?? 1e-2) * (1 - (0.9 * step) / options.steps);
        entry.opt.step([g.gate, g.up, g.down], lr);
      }
      r0 += b.rank;
    }
    options.onProgress?.(step + 1, options.steps, loss);
  }
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return { steps: options.steps, finalLoss: tail.reduce((a, b) => a + b, 0) / tail.length, firstLoss: losses[0] };
}
