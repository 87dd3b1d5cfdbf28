// Writing knowledge into the bank: with the anchor frozen, the blocks of the chosen nodes
// are trained with AdamW on next-token loss over the texts of their clusters. A step takes
// a mini-batch from one leaf, runs the anchor with that leaf's whole path attached (the
// concatenation along R the graph sees), and updates only the trainable blocks on the path.
import { gaussian, mulberry32, type LlamaConfig, type MemoryBlock } from '@engram/inference';
import { AdamW } from './adamw';
import { forwardBackward, type Memory64, type Params64 } from './llama-backprop';
import { firstTargetMask, type MemoryGradientEngine } from './memory-gradient.engine';

/** See BlockTrainingOptions.factsFirstTarget. */
export const DEFAULT_FACTS_FIRST_TARGET = 2;

/** The frozen anchor the blocks are trained against. */
export interface AnchorModel {
  config: LlamaConfig;
  params: Params64;
  fingerprint: string;
  tokenize(text: string): number[];
  /** Splits a memory text into training sequences (e.g. sentences); default: the whole text. */
  segment?(text: string): string[];
  /** Tokens that end a text (sampled replay stops there). */
  eosTokenIds?: readonly number[];
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
  /** Per replay sequence, the anchor's own next-token distributions: replay then pulls toward "no change" (KL) rather than toward the next tokens. */
  replayTargets?: Float64Array[];
  /**
   * Per replay sequence, the leaf its text routes to (null: none). A step then replays only
   * sequences of other level-1 clusters: text routed through the step's own blocks is what
   * those blocks are written to change.
   */
  replayLeaves?: ReadonlyArray<number | null>;
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
  /**
   * Index of the first token of a fact sequence that its loss scores (default 2). The
   * prediction made from the first token alone (the BOS) sees no content: all a block can
   * learn there is which texts its cluster holds — a shift of the model's prior that every
   * text then pays for (locality). 1 scores every next token.
   */
  factsFirstTarget?: number;
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

/** One training run's state: the leaf schedule, the optimizers, the losses. */
class BlockTrainingLoop {
  private readonly rnd: () => number;
  private readonly batch: number;
  private readonly optimizers = new Map<string, { opt: AdamW; block: TrainableBlock }>();
  private readonly leaves: Array<[number, number[][]]>;
  private order: number[] = [];
  private readonly losses: number[] = [];
  private readonly trainable: Map<string, TrainableBlock>;
  /** Level-1 node → replay sequences a step on that subtree may draw (with replayLeaves). */
  private readonly replayPools = new Map<number, number[]>();

  constructor(
    private readonly anchor: AnchorModel,
    trainable: Map<string, TrainableBlock>,
    private readonly frozen: (level: number, node: number) => TrainableBlock,
    private readonly data: LeafBatchSource,
    private readonly options: BlockTrainingOptions,
  ) {
    this.rnd = mulberry32(options.seed ?? 1);
    this.batch = options.batch ?? 8;
    for (const [k, b] of trainable) this.optimizers.set(k, { opt: new AdamW([b.gate, b.up, b.down], { lr: options.lr ?? 1e-2, weightDecay: options.weightDecay ?? 0 }), block: b });
    this.leaves = [...data.leaves.entries()].filter(([, seqs]) => seqs.length > 0);
    this.trainable = trainable;
  }

  get empty(): boolean {
    return this.leaves.length === 0 || this.trainable.size === 0;
  }

  /** The sequences of the next step (facts of one leaf, then replay) and the memory they run with. */
  prepare(): {
    blocks: TrainableBlock[];
    memory: Memory64;
    grad: Memory64;
    facts: number[][];
    factsFirstTarget: number;
    replay: number[][];
    replaySoft: Array<Float64Array | undefined>;
    replayScale: number;
  } {
    const { hiddenSize: d, numLayers: L } = this.anchor.config;
    if (this.order.length === 0) {
      this.order = this.leaves.map((_, i) => i);
      for (let i = this.order.length - 1; i > 0; i--) {
        const j = Math.floor(this.rnd() * (i + 1));
        [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
      }
    }
    const [leaf, seqs] = this.leaves[this.order.pop()!];
    const path = this.data.pathOf(leaf);
    const blocks = path.map((node, i) => this.trainable.get(`${i + 1}:${node}`) ?? this.frozen(i + 1, node));
    const memory = concatMemory64(blocks, d, L);
    const grad: Memory64 = { rank: memory.rank, gate: new Float64Array(memory.gate.length), up: new Float64Array(memory.up.length), down: new Float64Array(memory.down.length) };
    const facts = seqs.length <= this.batch ? seqs : Array.from({ length: this.batch }, () => seqs[Math.floor(this.rnd() * seqs.length)]);
    const pool = this.data.replay ?? [];
    const allowed = this.replayPool(path[0]);
    const available = allowed ? allowed.length : pool.length;
    const replayN = available ? (this.options.replayPerStep ?? Math.max(1, Math.floor(this.batch / 2))) : 0;
    const picks = Array.from({ length: replayN }, () => {
      const i = Math.floor(this.rnd() * available);
      return allowed ? allowed[i] : i;
    });
    const replay = picks.map((i) => pool[i]);
    const replaySoft = picks.map((i) => this.data.replayTargets?.[i]);
    const factsFirstTarget = this.options.factsFirstTarget ?? DEFAULT_FACTS_FIRST_TARGET;
    return { blocks, memory, grad, facts, factsFirstTarget, replay, replaySoft, replayScale: replayN ? (this.options.replayWeight ?? 1) / replayN : 0 };
  }

  /** Indices of the replay sequences routed outside level-1 node `top` (null: every sequence may be drawn). */
  private replayPool(top: number): number[] | null {
    const leaves = this.data.replayLeaves;
    if (!leaves) return null;
    let pool = this.replayPools.get(top);
    if (!pool) {
      pool = [];
      for (let i = 0; i < leaves.length; i++) {
        const leaf = leaves[i];
        if (leaf === null || this.data.pathOf(leaf)[0] !== top) pool.push(i);
      }
      this.replayPools.set(top, pool);
    }
    return pool;
  }

  /** AdamW on the trainable blocks of the step's path. */
  apply(step: number, prepared: { blocks: TrainableBlock[]; grad: Memory64 }, loss: number): void {
    const { hiddenSize: d, numLayers: L } = this.anchor.config;
    this.losses.push(loss);
    let r0 = 0;
    for (const b of prepared.blocks) {
      const entry = this.optimizers.get(`${b.level}:${b.node}`);
      if (entry && entry.block === b) {
        const g = { gate: new Float64Array(b.gate.length), up: new Float64Array(b.up.length), down: new Float64Array(b.down.length) };
        sliceGrad(prepared.grad, r0, b.rank, d, L, g);
        // Linear decay to 10% keeps late steps from undoing what other leaves wrote.
        const lr = (this.options.lr ?? 1e-2) * (1 - (0.9 * step) / this.options.steps);
        entry.opt.step([g.gate, g.up, g.down], lr);
      }
      r0 += b.rank;
    }
    this.options.onProgress?.(step + 1, this.options.steps, loss);
  }

  result(): BlockTrainingResult {
    if (this.losses.length === 0) return { steps: 0, finalLoss: NaN, firstLoss: NaN };
    const tail = this.losses.slice(-Math.max(1, Math.floor(this.losses.length / 10)));
    return { steps: this.losses.length, finalLoss: tail.reduce((a, b) => a + b, 0) / tail.length, firstLoss: this.losses[0] };
  }
}

/**
 * Trains `trainable` (keyed "level:node") in place with the TypeScript backward pass.
 * `frozen` supplies the other blocks of a path (they shape the forward pass but are not
 * updated).
 */
export function trainBlocks(
  anchor: AnchorModel,
  trainable: Map<string, TrainableBlock>,
  frozen: (level: number, node: number) => TrainableBlock,
  data: LeafBatchSource,
  options: BlockTrainingOptions,
): BlockTrainingResult {
  const loop = new BlockTrainingLoop(anchor, trainable, frozen, data, options);
  if (loop.empty) return loop.result();
  for (let step = 0; step < options.steps; step++) {
    const p = loop.prepare();
    let loss = 0;
    for (const ids of p.facts) {
      loss += forwardBackward(anchor.config, anchor.params, ids, p.memory, { memoryGrad: p.grad, scale: 1 / p.facts.length, lossMask: firstTargetMask(ids.length, p.factsFirstTarget) }).loss / p.facts.length;
    }
    p.replay.forEach((ids, i) => forwardBackward(anchor.config, anchor.params, ids, p.memory, { memoryGrad: p.grad, scale: p.replayScale, softTargets: p.replaySoft[i] }));
    loop.apply(step, p, loss);
  }
  return loop.result();
}

/** The same training with gradients from an engine (e.g. the ONNX gradient graph on ONNX Runtime). */
export async function trainBlocksWith(
  engine: MemoryGradientEngine,
  anchor: AnchorModel,
  trainable: Map<string, TrainableBlock>,
  frozen: (level: number, node: number) => TrainableBlock,
  data: LeafBatchSource,
  options: BlockTrainingOptions,
): Promise<BlockTrainingResult> {
  const loop = new BlockTrainingLoop(anchor, trainable, frozen, data, options);
  if (loop.empty) return loop.result();
  for (let step = 0; step < options.steps; step++) {
    const p = loop.prepare();
    let loss = 0;
    for (const ids of p.facts) loss += (await engine.accumulate(ids, p.memory, p.grad, 1 / p.facts.length, undefined, p.factsFirstTarget)) / p.facts.length;
    for (let i = 0; i < p.replay.length; i++) await engine.accumulate(p.replay[i], p.memory, p.grad, p.replayScale, p.replaySoft[i]);
    loop.apply(step, p, loss);
  }
  return loop.result();
}
