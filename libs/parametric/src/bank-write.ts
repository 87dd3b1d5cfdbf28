// Writing a bank (ADRs 0301, 0303, 0304, 0403): which blocks a write trains and on which
// texts (every non-deleted text of their clusters, so earlier knowledge is rehearsed), the
// training on the TypeScript or the ONNX gradient engine, verification before the commit,
// and the commit with its provenance. ParametricBank's write methods delegate here.
import { BlockFlag } from './bank/bank-layout';
import type { CommitFaults } from './bank/bank-file';
import { Provenance } from './bank/provenance';
import type { ParametricBank, BankText } from './parametric-bank';
import {
  AnchorModel,
  DEFAULT_FACTS_FIRST_TARGET,
  freshBlock,
  toBlock64,
  toMemoryBlock,
  trainBlocks,
  trainBlocksWith,
  type BlockTrainingOptions,
  type BlockTrainingResult,
  type LeafBatchSource,
  type TrainableBlock,
} from './training/block-trainer';
import { nextTokenDistributions } from './training/llama-backprop';
import { OnnxMemoryGradient, type GradientEngineKind } from './training/memory-gradient.engine';
import { ParametricError, ParametricErrorCode } from './parametric.error';
import { verifyWrite, type VerifyOptions, type WriteVerification } from './training/write-verification';

/**
 * Passes over a write's texts by default. 40, not 20: with replay on (ADR 0304), 40 epochs
 * recall more (56% vs 45% routed exact match, three seeds) and keep locality as well or
 * better (+0.29% vs +0.52% held-out perplexity), for twice the write time.
 */
export const DEFAULT_WRITE_EPOCHS = 40;

export interface WriteOptions {
  steps?: number;
  /** Passes over the training sequences when `steps` is not given (default DEFAULT_WRITE_EPOCHS). */
  epochs?: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  faults?: CommitFaults;
  /** General texts replayed with the memory attached so blocks keep unrelated text intact. */
  replay?: readonly string[];
  /** Replay already tokenized (e.g. sampled from the anchor, `replayFor`); drawn together with `replay`. */
  replaySequences?: readonly number[][];
  /** Leaf of each `replaySequences` entry (null: none): a step replays only text routed outside its level-1 cluster. */
  replayLeaves?: ReadonlyArray<number | null>;
  replayPerStep?: number;
  replayWeight?: number;
  /**
   * What replayed text is trained toward: 'tokens' (next-token loss) or 'anchor' (the
   * anchor's own distributions without memory — a KL pull toward "no change"). Default 'tokens'.
   */
  replayTarget?: 'tokens' | 'anchor';
  /**
   * First token of a memory's sequences that the write's loss scores (default 2: the
   * prediction from the first token alone — the BOS — is left out, so a block does not
   * shift the model's prior over how any text begins). 1 scores every token.
   */
  factsFirstTarget?: number;
  /** Where memory gradients come from (default 'typescript'; 'onnx' = the ORT gradient graph). */
  gradient?: GradientEngineKind;
  onProgress?: (step: number, steps: number, loss: number) => void;
  /**
   * Verify the trained blocks before the commit (recall of the written texts, held-out
   * perplexity against the anchor): a rejected write commits nothing (`rejected` says why).
   */
  verify?: VerifyOptions;
}

export interface WriteReport extends BlockTrainingResult {
  gradient: GradientEngineKind;
  blocks: Array<{ level: number; node: number }>;
  texts: number;
  generation: number;
  /** With `verify`: the figures the write was judged on. */
  verification?: WriteVerification;
  /** With `verify`: why the write was rejected (nothing committed; `blocks` empty, `generation` the previous one). */
  rejected?: string;
}

interface TrainingPlan {
  trainable: Map<string, TrainableBlock>;
  frozen: (level: number, node: number) => TrainableBlock;
  idsPerNode: Map<string, string[]>;
  count: number;
  data: LeafBatchSource;
  training: BlockTrainingOptions;
}

/** The nodes (`level:node`) on the paths of these memories; a memory outside the tree is an error. */
export function pathNodes(bank: ParametricBank, memoryIds: readonly string[]): Set<string> {
  const nodes = new Set<string>();
  for (const id of memoryIds) {
    const path = bank.tree.pathOf(id);
    if (!path) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `memory ${id} is not assigned to the tree (assign it first)`);
    path.forEach((node, i) => nodes.add(`${i + 1}:${node}`));
  }
  return nodes;
}

/** The nodes of the stale blocks. */
export function staleNodes(bank: ParametricBank): Set<string> {
  return new Set(bank.provenance.staleBlocks().map((b) => Provenance.key(b.level, b.node)));
}

/** Plans and trains on the TypeScript engine, then commits (no verification): write() and rewriteStale(). */
export function trainSync(bank: ParametricBank, anchor: AnchorModel, nodes: Set<string>, corpus: readonly BankText[], options: WriteOptions, reinitialise: boolean): WriteReport {
  const p = planTraining(bank, anchor, nodes, corpus, options, reinitialise);
  return finish(bank, p, trainBlocks(anchor, p.trainable, p.frozen, p.data, p.training), 'typescript', options);
}

export async function trainAsync(bank: ParametricBank, anchor: AnchorModel, nodes: Set<string>, corpus: readonly BankText[], options: WriteOptions, reinitialise: boolean | ReadonlySet<string>): Promise<WriteReport> {
  const plan = planTraining(bank, anchor, nodes, corpus, options, reinitialise);
  if (options.gradient !== 'onnx' || plan.trainable.size === 0) {
    return finishVerified(bank, anchor, corpus, plan, trainBlocks(anchor, plan.trainable, plan.frozen, plan.data, plan.training), 'typescript', options);
  }
  let maxSeq = 1;
  for (const seqs of plan.data.leaves.values()) for (const x of seqs) maxSeq = Math.max(maxSeq, x.length);
  for (const x of plan.data.replay ?? []) maxSeq = Math.max(maxSeq, x.length);
  const engine = await OnnxMemoryGradient.create(anchor, { maxSeq, rank: bank.file.header.ranks.reduce((a, b) => a + b, 0) });
  try {
    return finishVerified(bank, anchor, corpus, plan, await trainBlocksWith(engine, anchor, plan.trainable, plan.frozen, plan.data, plan.training), 'onnx', options);
  } finally {
    await engine.dispose();
  }
}

function planTraining(bank: ParametricBank, anchor: AnchorModel, nodes: Set<string>, corpus: readonly BankText[], options: WriteOptions, reinitialise: boolean | ReadonlySet<string>): TrainingPlan {
  const h = bank.file.header;
  if (anchor.fingerprint !== h.modelFingerprint) {
    throw new ParametricError(ParametricErrorCode.ModelMismatch, `bank was built for model ${h.modelFingerprint.slice(0, 16)}…, the anchor is ${anchor.fingerprint.slice(0, 16)}…`);
  }
  if (anchor.config.hiddenSize !== h.hidden || anchor.config.numLayers !== h.layers) {
    throw new ParametricError(ParametricErrorCode.ModelMismatch, `anchor shape (d ${anchor.config.hiddenSize}, L ${anchor.config.numLayers}) differs from the bank's (d ${h.hidden}, L ${h.layers})`);
  }
  const seed = options.seed ?? 1;
  const trainable = new Map<string, TrainableBlock>();
  for (const k of nodes) {
    const [level, node] = k.split(':').map(Number);
    const rank = bank.file.level(level).rank;
    if (rank === 0) continue;
    const current = bank.file.readBlock(level, node);
    if (current.flags & BlockFlag.Locked) continue;
    const block =
      (typeof reinitialise === 'boolean' ? reinitialise : reinitialise.has(k)) || !(current.flags & BlockFlag.Present)
        ? freshBlock(level, node, rank, h.hidden, h.layers, seed * 1000003 + level * 65537 + node)
        : toBlock64(current.block, level, node);
    trainable.set(k, block);
  }
  // Texts: the non-deleted corpus texts under any trainable node.
  const leaves = new Map<number, number[][]>();
  const idsPerNode = new Map<string, string[]>();
  const leafOfTrainable = [...trainable.values()];
  let count = 0;
  let sequences = 0;
  for (const t of corpus) {
    if (bank.provenance.deleted.has(t.id)) continue;
    const leaf = bank.tree.leaves.get(t.id);
    if (leaf === undefined) continue;
    const owners = leafOfTrainable.filter((b) => bank.tree.contains(b.level, b.node, leaf));
    if (owners.length === 0) continue;
    const seqs = leaves.get(leaf) ?? [];
    for (const part of anchor.segment ? anchor.segment(t.text) : [t.text]) {
      seqs.push(anchor.tokenize(part));
      sequences++;
    }
    leaves.set(leaf, seqs);
    count++;
    for (const o of owners) {
      const k = Provenance.key(o.level, o.node);
      idsPerNode.set(k, [...(idsPerNode.get(k) ?? []), t.id]);
    }
  }
  const frozenCache = new Map<string, TrainableBlock>();
  const frozen = (level: number, node: number): TrainableBlock => {
    const k = `${level}:${node}`;
    let b = frozenCache.get(k);
    if (!b) {
      b = toBlock64(bank.store.block(level, node), level, node);
      frozenCache.set(k, b);
    }
    return b;
  };
  const steps = options.steps ?? Math.max(1, Math.ceil((sequences * (options.epochs ?? DEFAULT_WRITE_EPOCHS)) / (options.batch ?? 8)));
  const replay = [...(options.replaySequences ?? []), ...(options.replay ?? []).map((t) => anchor.tokenize(t))];
  const replayTargets = options.replayTarget === 'anchor' ? replay.map((ids) => nextTokenDistributions(anchor.config, anchor.params, ids)) : undefined;
  const replayLeaves = options.replayLeaves ? replay.map((_, i) => options.replayLeaves?.[i] ?? null) : undefined;
  return {
    trainable,
    frozen,
    idsPerNode,
    count,
    data: { leaves, pathOf: (leaf) => bank.tree.pathOfLeaf(leaf), replay, replayTargets, replayLeaves },
    training: {
      steps,
      replayPerStep: options.replayPerStep,
      replayWeight: options.replayWeight,
      factsFirstTarget: options.factsFirstTarget,
      batch: options.batch,
      lr: options.lr,
      weightDecay: options.weightDecay,
      seed,
      onProgress: options.onProgress,
    },
  };
}

/** finish() after `options.verify` accepted the trained blocks; a rejected write commits nothing. */
function finishVerified(bank: ParametricBank, anchor: AnchorModel, corpus: readonly BankText[], plan: TrainingPlan, result: BlockTrainingResult, gradient: GradientEngineKind, options: WriteOptions): WriteReport {
  const verify = options.verify;
  if (!verify || plan.trainable.size === 0) return finish(bank, plan, result, gradient, options);
  const wanted = verify.memoryIds ? new Set(verify.memoryIds) : null;
  const trained = new Set([...plan.idsPerNode.values()].flat());
  const facts: Array<{ leaf: number; ids: number[] }> = [];
  for (const t of corpus) {
    if (!trained.has(t.id) || (wanted && !wanted.has(t.id))) continue;
    const leaf = bank.tree.leaves.get(t.id);
    if (leaf === undefined) continue;
    for (const part of anchor.segment ? anchor.segment(t.text) : [t.text]) facts.push({ leaf, ids: anchor.tokenize(part) });
  }
  const verification = verifyWrite({
    anchor,
    facts,
    pathOf: (leaf) => bank.tree.pathOfLeaf(leaf),
    blockAt: (level, node) => plan.trainable.get(Provenance.key(level, node)) ?? plan.frozen(level, node),
    heldOut: verify.heldOut,
    firstTarget: options.factsFirstTarget ?? DEFAULT_FACTS_FIRST_TARGET,
    maxFacts: verify.maxFacts ?? 64,
    maxPaths: verify.maxPaths ?? 8,
  });
  const rejected = verify.accept(verification);
  if (rejected === null) return { ...finish(bank, plan, result, gradient, options), verification };
  return { ...result, blocks: [], texts: plan.count, generation: bank.file.generation, gradient, verification, rejected };
}

function finish(bank: ParametricBank, plan: TrainingPlan, result: BlockTrainingResult, gradient: GradientEngineKind, options: WriteOptions): WriteReport {
  const { trainable, idsPerNode, count } = plan;
  const updates = [...trainable.values()].map((b) => ({ level: b.level, node: b.node, block: toMemoryBlock(b) }));
  const generation = updates.length ? bank.file.commit(updates, options.faults) : bank.file.generation;
  const now = new Date().toISOString();
  for (const b of trainable.values()) {
    bank.provenance.set({
      level: b.level,
      node: b.node,
      memoryIds: idsPerNode.get(Provenance.key(b.level, b.node)) ?? [],
      stale: false,
      generation,
      steps: result.steps,
      finalLoss: Number.isFinite(result.finalLoss) ? result.finalLoss : null,
      writtenAt: now,
    });
  }
  bank.afterCommit(generation, updates);
  return { ...result, blocks: updates.map(({ level, node }) => ({ level, node })), texts: count, generation, gradient };
}
