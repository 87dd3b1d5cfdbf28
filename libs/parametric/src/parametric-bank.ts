// A parametric memory bank on disk: a directory holding the bank file (blocks), the tree
// (centroids + leaf of every text) and the provenance sidecar. build → route → fetch for
// inference; write / deleteMemories / rewriteStale / zero / lock for knowledge.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, type MemoryBlock } from '@engram/inference';
import { BankFile, type CommitFaults } from './bank/bank-file';
import { concatBlocks } from './bank/block.codec';
import { BankDtype, BlockFlag, blockParameters } from './bank/bank-layout';
import { BlockStore, type BlockStoreOptions } from './bank/block-store';
import { Provenance, type BlockRecord } from './bank/provenance';
import { ParametricError, ParametricErrorCode } from './parametric.error';
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
import { ClusterTree, type TextEmbedder } from './tree/cluster-tree';
import { nextTokenDistributions } from './training/llama-backprop';
import { OnnxMemoryGradient, type GradientEngineKind } from './training/memory-gradient.engine';
import { anchorReplaySequences, checkReplaySettings, type ReplaySettings } from './write-replay';
import { verifyWrite, type VerifyOptions, type WriteVerification } from './training/write-verification';

export interface BankText {
  id: string;
  text: string;
}

export interface BuildBankOptions {
  dir: string;
  modelFingerprint: string;
  hidden: number;
  layers: number;
  embedder: TextEmbedder;
  texts: readonly BankText[];
  levels?: number;
  branching?: number;
  /** Block rank per level (default: 16 at every level). */
  ranks?: number[];
  dtype?: BankDtype;
  seed?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface OpenBankOptions extends BlockStoreOptions {
  modelFingerprint?: string;
  embedderFingerprint?: string;
}

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

/** A block committed after some generation (`changedSince`); `known: false` = no sidecar record of that commit, provenance assumed. */
export type ChangedBlock = BlockRecord & { locked: boolean; known: boolean };

export const BANK_FILE = 'bank.bin';
export const TREE_FILE = 'tree.json';
export const PROVENANCE_FILE = 'provenance.json';

export class ParametricBank {
  readonly store: BlockStore;
  private loadedProvenance: Provenance | null;

  private constructor(
    readonly dir: string,
    readonly file: BankFile,
    readonly tree: ClusterTree,
    provenance: Provenance | null,
    storeOptions: BlockStoreOptions,
  ) {
    this.store = new BlockStore(file, storeOptions);
    this.loadedProvenance = provenance;
  }

  /**
   * The provenance sidecar, read on first use: routing and fetching never need it, so a
   * damaged sidecar fails the writes and recoveries that read it, not a chat with the bank.
   */
  get provenance(): Provenance {
    this.loadedProvenance ??= Provenance.load(join(this.dir, PROVENANCE_FILE));
    return this.loadedProvenance;
  }

  static async build(options: BuildBankOptions): Promise<ParametricBank> {
    const levels = options.levels ?? 4;
    const branching = options.branching ?? 16;
    const ranks = options.ranks ?? new Array<number>(levels).fill(16);
    mkdirSync(options.dir, { recursive: true });
    const progress = options.onProgress ?? (() => undefined);
    const embeddings: Float32Array[] = [];
    const chunk = 256;
    for (let i = 0; i < options.texts.length; i += chunk) {
      embeddings.push(...(await options.embedder.embed(options.texts.slice(i, i + chunk).map((t) => t.text))));
      progress('embed', Math.min(i + chunk, options.texts.length), options.texts.length);
    }
    const tree = ClusterTree.build(
      options.texts.map((t) => t.id),
      embeddings,
      options.embedder.fingerprint,
      { levels, branching, seed: options.seed },
    );
    progress('cluster', options.texts.length, options.texts.length);
    const file = BankFile.create(join(options.dir, BANK_FILE), {
      modelFingerprint: options.modelFingerprint,
      embedderFingerprint: options.embedder.fingerprint,
      dtype: options.dtype ?? 'f32',
      levels,
      branching,
      ranks,
      hidden: options.hidden,
      layers: options.layers,
      config: { seed: options.seed ?? 1 },
    });
    tree.save(join(options.dir, TREE_FILE));
    const provenance = new Provenance();
    provenance.generation = file.generation;
    provenance.save(join(options.dir, PROVENANCE_FILE));
    return new ParametricBank(options.dir, file, tree, provenance, {});
  }

  static open(dir: string, options: OpenBankOptions = {}): ParametricBank {
    const bankPath = join(dir, BANK_FILE);
    if (!existsSync(bankPath)) throw new ParametricError(ParametricErrorCode.BankNotFound, `no bank in ${dir}`);
    const file = BankFile.open(bankPath, options);
    try {
      const tree = ClusterTree.load(join(dir, TREE_FILE), file.header.embedderFingerprint);
      if (tree.levels !== file.header.levels || tree.branching !== file.header.branching) {
        throw new ParametricError(ParametricErrorCode.BankCorrupt, `tree (${tree.levels}×${tree.branching}) does not match bank file (${file.header.levels}×${file.header.branching})`);
      }
      return new ParametricBank(dir, file, tree, null, options);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  close(): void {
    this.file.close();
  }

  /** Embeds the context once and descends the tree. */
  async route(embedder: TextEmbedder, context: string): Promise<number[]> {
    this.checkEmbedder(embedder);
    const [e] = await embedder.embed([context]);
    return this.tree.route(e);
  }

  /**
   * Routes like route(), but abstains (returns null: run the anchor alone) when the context
   * is further from its leaf than `minSimilarity` (cosine) — text the bank holds nothing about.
   */
  async routeOrAbstain(embedder: TextEmbedder, context: string, minSimilarity: number): Promise<{ path: number[]; similarity: number } | null> {
    this.checkEmbedder(embedder);
    const [e] = await embedder.embed([context]);
    const r = this.tree.routeScored(e);
    return r.similarity >= minSimilarity ? r : null;
  }

  /** The blocks of a path, one per level (read-only views of the store's cache): what a forward pass attaches. */
  fetch(path: readonly number[]): readonly MemoryBlock[] {
    return this.store.fetch(path);
  }

  /** The blocks of a path concatenated along R (a copy): the form the TypeScript pass and training take. */
  fetchConcatenated(path: readonly number[]): MemoryBlock {
    const { hidden, layers } = this.file.header;
    return concatBlocks(this.store.fetch(path), hidden, layers);
  }

  /** Assigns texts that are not in the tree yet to the leaf their embedding routes to. */
  async assign(embedder: TextEmbedder, texts: readonly BankText[]): Promise<number> {
    this.checkEmbedder(embedder);
    const fresh = texts.filter((t) => !this.tree.leaves.has(t.id));
    if (fresh.length === 0) return 0;
    const embeddings = await embedder.embed(fresh.map((t) => t.text));
    fresh.forEach((t, i) => this.tree.leaves.set(t.id, this.tree.route(embeddings[i]).at(-1)!));
    this.tree.save(join(this.dir, TREE_FILE));
    return fresh.length;
  }

  /**
   * Writes the given memories: every block on their paths is trained (anchor frozen) on
   * all non-deleted texts of its cluster that `corpus` holds, so earlier knowledge of the
   * same blocks is rehearsed, not overwritten.
   */
  write(anchor: AnchorModel, memoryIds: readonly string[], corpus: readonly BankText[], options: WriteOptions = {}): WriteReport {
    const plan = this.plan(anchor, this.pathNodes(memoryIds), corpus, options, false);
    return this.finish(plan, trainBlocks(anchor, plan.trainable, plan.frozen, plan.data, plan.training), 'typescript', options);
  }

  /** write() with a choice of gradient engine (`gradient: 'onnx'` runs the ONNX gradient graph). */
  async writeAsync(anchor: AnchorModel, memoryIds: readonly string[], corpus: readonly BankText[], options: WriteOptions = {}): Promise<WriteReport> {
    return this.trainAsync(anchor, this.pathNodes(memoryIds), corpus, options, false);
  }

  /**
   * One verified step of consolidation (ADR 0403): the stale blocks are re-initialised and
   * retrained on what their clusters still hold, the paths of `memoryIds` are trained, and
   * all of it is committed as one generation — or, rejected by `options.verify`, not at all.
   */
  async consolidateAsync(anchor: AnchorModel, memoryIds: readonly string[], corpus: readonly BankText[], options: WriteOptions = {}): Promise<WriteReport> {
    const stale = this.staleNodes();
    const nodes = this.pathNodes(memoryIds);
    for (const k of stale) nodes.add(k);
    return this.trainAsync(anchor, nodes, corpus, options, stale);
  }

  private pathNodes(memoryIds: readonly string[]): Set<string> {
    const nodes = new Set<string>();
    for (const id of memoryIds) {
      const path = this.tree.pathOf(id);
      if (!path) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `memory ${id} is not assigned to the tree (assign it first)`);
      path.forEach((node, i) => nodes.add(`${i + 1}:${node}`));
    }
    return nodes;
  }

  /**
   * The replay part of a write's options for a source that needs no generic corpus
   * (`write-replay.ts`): anchor samples (cached in the bank directory) or other memories of
   * the cube (`texts`, routed with `embedder`; deleted ones left out), always scored against
   * the anchor's own distributions.
   */
  async replayFor(
    anchor: AnchorModel,
    settings: ReplaySettings,
    cube: { embedder?: TextEmbedder; texts?: readonly BankText[] } = {},
  ): Promise<{ options: Pick<WriteOptions, 'replaySequences' | 'replayLeaves' | 'replayPerStep' | 'replayWeight' | 'replayTarget'>; sequences: number; cached: boolean }> {
    checkReplaySettings(settings);
    const base = { replayPerStep: settings.perStep, replayWeight: settings.weight, replayTarget: 'anchor' as const };
    if (settings.source === 'none') return { options: {}, sequences: 0, cached: false };
    if (settings.source === 'anchor') {
      const { sequences, cached } = anchorReplaySequences(this.dir, anchor, settings.samples, this.file.header.config.seed === undefined ? 1 : Number(this.file.header.config.seed));
      return { options: { ...base, replaySequences: sequences }, sequences: sequences.length, cached };
    }
    const rnd = mulberry32(settings.samples);
    const pool = (cube.texts ?? []).filter((t) => !this.provenance.deleted.has(t.id));
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const picked = pool.slice(0, settings.samples);
    const unrouted = picked.filter((t) => !this.tree.leaves.has(t.id));
    if (unrouted.length && !cube.embedder) throw new ParametricError(ParametricErrorCode.InvalidConfig, 'replay from memories needs the embedder to route memories that are not in the tree');
    if (unrouted.length) this.checkEmbedder(cube.embedder!);
    const embedded = unrouted.length ? await cube.embedder!.embed(unrouted.map((t) => t.text)) : [];
    const routed = new Map(unrouted.map((t, i) => [t.id, this.tree.route(embedded[i]).at(-1)!]));
    const maxLen = anchor.config.maxPositionEmbeddings;
    const replaySequences: number[][] = [];
    const replayLeaves: number[] = [];
    for (const t of picked) {
      const leaf = this.tree.leaves.get(t.id) ?? routed.get(t.id)!;
      for (const part of anchor.segment ? anchor.segment(t.text) : [t.text]) {
        const ids = anchor.tokenize(part).slice(0, maxLen);
        if (ids.length < 2) continue;
        replaySequences.push(ids);
        replayLeaves.push(leaf);
      }
    }
    return { options: { ...base, replaySequences, replayLeaves }, sequences: replaySequences.length, cached: false };
  }

  /** Marks the blocks holding these memories stale and records them as deleted. */
  deleteMemories(memoryIds: readonly string[]): Array<{ level: number; node: number }> {
    const touched: Array<{ level: number; node: number }> = [];
    for (const id of memoryIds) {
      this.provenance.deleted.add(id);
      for (const b of this.provenance.holding(id)) {
        b.stale = true;
        touched.push({ level: b.level, node: b.node });
      }
    }
    this.provenance.save(join(this.dir, PROVENANCE_FILE));
    return touched;
  }

  /** Re-initialises every stale block and retrains it on its cluster's remaining texts. */
  rewriteStale(anchor: AnchorModel, corpus: readonly BankText[], options: WriteOptions = {}): WriteReport {
    const plan = this.plan(anchor, this.staleNodes(), corpus, options, true);
    return this.finish(plan, trainBlocks(anchor, plan.trainable, plan.frozen, plan.data, plan.training), 'typescript', options);
  }

  async rewriteStaleAsync(anchor: AnchorModel, corpus: readonly BankText[], options: WriteOptions = {}): Promise<WriteReport> {
    return this.trainAsync(anchor, this.staleNodes(), corpus, options, true);
  }

  private staleNodes(): Set<string> {
    return new Set(this.provenance.staleBlocks().map((b) => Provenance.key(b.level, b.node)));
  }

  /** Forgetting without retraining: the block's weights become zero (no effect). */
  zero(level: number, node: number): number {
    const rank = this.file.level(level).rank;
    const { hidden, layers } = this.file.header;
    const n = layers * rank * hidden;
    const generation = this.file.commit([{ level, node, block: { rank, gate: new Float32Array(n), up: new Float32Array(n), down: new Float32Array(n) }, force: true }]);
    const rec = this.provenance.get(level, node);
    if (rec) {
      rec.memoryIds = [];
      rec.stale = false;
      rec.generation = generation;
    }
    this.afterCommit(generation, [{ level, node }]);
    return generation;
  }

  /** A locked block is never trained again (until unlocked). */
  lock(level: number, node: number, locked = true): number {
    const generation = this.file.commit([{ level, node, locked }]);
    const rec = this.provenance.get(level, node);
    if (rec) rec.generation = generation; // the record stays the one of the block's current trailer (changedSince)
    this.afterCommit(generation, [{ level, node }]);
    return generation;
  }

  isLocked(level: number, node: number): boolean {
    return (this.file.readBlock(level, node).flags & BlockFlag.Locked) !== 0;
  }

  /**
   * The blocks committed after `generation`, with their provenance: found by the slot
   * trailers of the tree's nodes (one small read each), so the answer holds even when the
   * sidecar was not saved after the last commit (a crash between the two). A block whose
   * sidecar record is not from its trailer's generation has unknown provenance and is
   * reported conservatively: stale, holding every text of its cluster, so that deleting
   * any of them finds it and a rewrite retrains it (ADR 0305).
   */
  changedSince(generation: number): ChangedBlock[] {
    const changed: ChangedBlock[] = [];
    for (const { level, index: node } of this.tree.nodes()) {
      const trailer = this.file.readTrailer(level, node);
      if (trailer.generation <= generation) continue;
      const locked = (trailer.flags & BlockFlag.Locked) !== 0;
      const record = this.provenance.get(level, node);
      if (record && record.generation === trailer.generation) {
        changed.push({ ...record, memoryIds: [...record.memoryIds], locked, known: true });
        continue;
      }
      // No record, and the sidecar was saved after that commit: a block holding no memory (locked while empty).
      if (!record && this.provenance.generation >= trailer.generation) continue;
      const memoryIds = [...this.tree.leaves].filter(([, leaf]) => this.tree.contains(level, node, leaf)).map(([id]) => id);
      changed.push({ level, node, memoryIds, stale: true, generation: trailer.generation, steps: record?.steps ?? 0, finalLoss: null, writtenAt: new Date().toISOString(), locked, known: false });
    }
    return changed.sort((a, b) => a.level - b.level || a.node - b.node);
  }

  /** Occupancy and sizes per level, for `bank inspect` and the API. */
  inspect(): {
    generation: number;
    levels: Array<{ level: number; rank: number; nodes: number; treeNodes: number; writtenBlocks: number; staleBlocks: number; blockParameters: number }>;
    texts: number;
    deleted: number;
    fileBytes: number;
    parameters: number;
  } {
    const h = this.file.header;
    const records = [...this.provenance.blocks.values()];
    const treeNodes = this.tree.nodes();
    return {
      generation: this.file.generation,
      levels: this.file.layout.levels.map((l) => ({
        level: l.level,
        rank: l.rank,
        nodes: l.nodes,
        treeNodes: treeNodes.filter((n) => n.level === l.level).length,
        writtenBlocks: records.filter((r) => r.level === l.level).length,
        staleBlocks: records.filter((r) => r.level === l.level && r.stale).length,
        blockParameters: blockParameters(l.rank, h.hidden, h.layers),
      })),
      texts: this.tree.leaves.size,
      deleted: this.provenance.deleted.size,
      fileBytes: statSync(this.file.path).size,
      parameters: this.file.layout.levels.reduce((a, l) => a + l.nodes * blockParameters(l.rank, h.hidden, h.layers), 0),
    };
  }

  private checkEmbedder(embedder: TextEmbedder): void {
    if (embedder.fingerprint !== this.file.header.embedderFingerprint) {
      throw new ParametricError(ParametricErrorCode.EmbedderMismatch, `bank routes with embedder ${this.file.header.embedderFingerprint}, got ${embedder.fingerprint}`);
    }
  }

  private async trainAsync(anchor: AnchorModel, nodes: Set<string>, corpus: readonly BankText[], options: WriteOptions, reinitialise: boolean | ReadonlySet<string>): Promise<WriteReport> {
    const plan = this.plan(anchor, nodes, corpus, options, reinitialise);
    if (options.gradient !== 'onnx' || plan.trainable.size === 0) {
      return this.finishVerified(anchor, corpus, plan, trainBlocks(anchor, plan.trainable, plan.frozen, plan.data, plan.training), 'typescript', options);
    }
    let maxSeq = 1;
    for (const seqs of plan.data.leaves.values()) for (const x of seqs) maxSeq = Math.max(maxSeq, x.length);
    for (const x of plan.data.replay ?? []) maxSeq = Math.max(maxSeq, x.length);
    const engine = await OnnxMemoryGradient.create(anchor, { maxSeq, rank: this.file.header.ranks.reduce((a, b) => a + b, 0) });
    try {
      return this.finishVerified(anchor, corpus, plan, await trainBlocksWith(engine, anchor, plan.trainable, plan.frozen, plan.data, plan.training), 'onnx', options);
    } finally {
      await engine.dispose();
    }
  }

  private plan(anchor: AnchorModel, nodes: Set<string>, corpus: readonly BankText[], options: WriteOptions, reinitialise: boolean | ReadonlySet<string>): TrainingPlan {
    const h = this.file.header;
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
      const rank = this.file.level(level).rank;
      if (rank === 0) continue;
      const current = this.file.readBlock(level, node);
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
      if (this.provenance.deleted.has(t.id)) continue;
      const leaf = this.tree.leaves.get(t.id);
      if (leaf === undefined) continue;
      const owners = leafOfTrainable.filter((b) => this.tree.contains(b.level, b.node, leaf));
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
        b = toBlock64(this.store.block(level, node), level, node);
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
      data: { leaves, pathOf: (leaf) => this.tree.pathOfLeaf(leaf), replay, replayTargets, replayLeaves },
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
  private finishVerified(anchor: AnchorModel, corpus: readonly BankText[], plan: TrainingPlan, result: BlockTrainingResult, gradient: GradientEngineKind, options: WriteOptions): WriteReport {
    const verify = options.verify;
    if (!verify || plan.trainable.size === 0) return this.finish(plan, result, gradient, options);
    const wanted = verify.memoryIds ? new Set(verify.memoryIds) : null;
    const trained = new Set([...plan.idsPerNode.values()].flat());
    const facts: Array<{ leaf: number; ids: number[] }> = [];
    for (const t of corpus) {
      if (!trained.has(t.id) || (wanted && !wanted.has(t.id))) continue;
      const leaf = this.tree.leaves.get(t.id);
      if (leaf === undefined) continue;
      for (const part of anchor.segment ? anchor.segment(t.text) : [t.text]) facts.push({ leaf, ids: anchor.tokenize(part) });
    }
    const verification = verifyWrite({
      anchor,
      facts,
      pathOf: (leaf) => this.tree.pathOfLeaf(leaf),
      blockAt: (level, node) => plan.trainable.get(Provenance.key(level, node)) ?? plan.frozen(level, node),
      heldOut: verify.heldOut,
      firstTarget: options.factsFirstTarget ?? DEFAULT_FACTS_FIRST_TARGET,
      maxFacts: verify.maxFacts ?? 64,
      maxPaths: verify.maxPaths ?? 8,
    });
    const rejected = verify.accept(verification);
    if (rejected === null) return { ...this.finish(plan, result, gradient, options), verification };
    return { ...result, blocks: [], texts: plan.count, generation: this.file.generation, gradient, verification, rejected };
  }

  private finish(plan: TrainingPlan, result: BlockTrainingResult, gradient: GradientEngineKind, options: WriteOptions): WriteReport {
    const { trainable, idsPerNode, count } = plan;
    const updates = [...trainable.values()].map((b) => ({ level: b.level, node: b.node, block: toMemoryBlock(b) }));
    const generation = updates.length ? this.file.commit(updates, options.faults) : this.file.generation;
    const now = new Date().toISOString();
    for (const b of trainable.values()) {
      this.provenance.set({
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
    this.afterCommit(generation, updates);
    return { ...result, blocks: updates.map(({ level, node }) => ({ level, node })), texts: count, generation, gradient };
  }

  private afterCommit(generation: number, touched: ReadonlyArray<{ level: number; node: number }>): void {
    this.provenance.generation = generation;
    this.provenance.save(join(this.dir, PROVENANCE_FILE));
    this.store.invalidate(touched);
    if (touched.some((t) => t.level <= this.store.ramLevels)) this.store.loadRamTier();
  }
}
