// A parametric memory bank on disk: a directory holding the bank file (blocks), the tree
// (centroids + leaf of every text) and the provenance sidecar. build → route → fetch for
// inference; write / deleteMemories / rewriteStale / zero / lock for knowledge.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryBlock } from '@engram/inference';
import { BankFile } from './bank/bank-file';
import { BANK_FILE, PROVENANCE_FILE, TREE_FILE } from './bank/bank-paths';
import { concatBlocks } from './bank/block.codec';
import { BankDtype, BlockFlag } from './bank/bank-layout';
import { BlockStore, type BlockStoreOptions } from './bank/block-store';
import { Provenance } from './bank/provenance';
import { deleteMemories, lock, zero } from './bank-forget';
import { changedSince, inspect, type ChangedBlock } from './bank-provenance-view';
import { pathNodes, staleNodes, trainAsync, trainSync, type WriteOptions, type WriteReport } from './bank-write';
import { ParametricError, ParametricErrorCode } from './parametric.error';
import type { AnchorModel } from './training/block-trainer';
import { ClusterTree, placementKey, type TextEmbedder } from './tree/cluster-tree';
import { replayFor, type ReplaySettings } from './write-replay';

export { DEFAULT_WRITE_EPOCHS, type WriteOptions, type WriteReport } from './bank-write';
export type { ChangedBlock } from './bank-provenance-view';

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

export { BANK_FILE, TREE_FILE, PROVENANCE_FILE };

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
    for (const t of options.texts) tree.placedBy.set(t.id, placementKey(t.text));
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
    const r = await this.routeScored(embedder, context);
    return r.similarity >= minSimilarity ? r : null;
  }

  /** Routes like route() and says how close (cosine) the context is to its leaf. */
  async routeScored(embedder: TextEmbedder, context: string): Promise<{ path: number[]; similarity: number }> {
    this.checkEmbedder(embedder);
    const [e] = await embedder.embed([context]);
    return this.tree.routeScored(e);
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

  /**
   * Re-places texts already in the tree whose words are not those they were placed by (an
   * edited memory kept the leaf its old text routed to, among texts like the old one, whose
   * block then learns the old value from its neighbours); returns those that moved, with both
   * paths. A text placed by an older tree (no fingerprint) is re-placed only when the caller
   * knows it changed (`changed`); its current words are recorded either way. Unchanged texts
   * never move (balanced k-means placed them where routing may disagree). The old path's
   * blocks are the caller's to rewrite (an edit marks them stale), the new path's to write
   * with the moved text.
   */
  async reassign(embedder: TextEmbedder, texts: readonly BankText[], changed: ReadonlySet<string> = new Set()): Promise<Array<{ id: string; from: number[]; to: number[] }>> {
    this.checkEmbedder(embedder);
    let recorded = false;
    const edited: BankText[] = [];
    for (const t of texts) {
      if (!this.tree.leaves.has(t.id)) continue;
      const now = placementKey(t.text);
      const placed = this.tree.placedBy.get(t.id);
      if (placed === now) continue;
      if (placed !== undefined || changed.has(t.id)) edited.push(t);
      this.tree.placedBy.set(t.id, now);
      recorded = true;
    }
    const moved: Array<{ id: string; from: number[]; to: number[] }> = [];
    const embeddings = edited.length ? await embedder.embed(edited.map((t) => t.text)) : [];
    edited.forEach((t, i) => {
      const from = this.tree.pathOf(t.id)!;
      const to = this.tree.route(embeddings[i]);
      if (to.at(-1) === from.at(-1)) return;
      this.tree.leaves.set(t.id, to.at(-1)!);
      moved.push({ id: t.id, from, to });
    });
    if (recorded) this.tree.save(join(this.dir, TREE_FILE));
    return moved;
  }

  /** Assigns texts that are not in the tree yet to the leaf their embedding routes to. */
  async assign(embedder: TextEmbedder, texts: readonly BankText[]): Promise<number> {
    this.checkEmbedder(embedder);
    const fresh = texts.filter((t) => !this.tree.leaves.has(t.id));
    if (fresh.length === 0) return 0;
    const embeddings = await embedder.embed(fresh.map((t) => t.text));
    fresh.forEach((t, i) => {
      this.tree.leaves.set(t.id, this.tree.route(embeddings[i]).at(-1)!);
      this.tree.placedBy.set(t.id, placementKey(t.text));
    });
    this.tree.save(join(this.dir, TREE_FILE));
    return fresh.length;
  }

  /**
   * Writes the given memories: every block on their paths is trained (anchor frozen) on
   * all non-deleted texts of its cluster that `corpus` holds, so earlier knowledge of the
   * same blocks is rehearsed, not overwritten.
   */
  write(anchor: AnchorModel, memoryIds: readonly string[], corpus: readonly BankText[], options: WriteOptions = {}): WriteReport {
    return trainSync(this, anchor, pathNodes(this, memoryIds), corpus, options, false);
  }

  /** write() with a choice of gradient engine (`gradient: 'onnx'` runs the ONNX gradient graph). */
  async writeAsync(anchor: AnchorModel, memoryIds: readonly string[], corpus: readonly BankText[], options: WriteOptions = {}): Promise<WriteReport> {
    return trainAsync(this, anchor, pathNodes(this, memoryIds), corpus, options, false);
  }

  /**
   * One verified step of consolidation (ADR 0403): the stale blocks are re-initialised and
   * retrained on what their clusters still hold, the paths of `memoryIds` are trained, and
   * all of it is committed as one generation — or, rejected by `options.verify`, not at all.
   */
  async consolidateAsync(anchor: AnchorModel, memoryIds: readonly string[], corpus: readonly BankText[], options: WriteOptions = {}): Promise<WriteReport> {
    const stale = staleNodes(this);
    const nodes = pathNodes(this, memoryIds);
    for (const k of stale) nodes.add(k);
    return trainAsync(this, anchor, nodes, corpus, options, stale);
  }

  /**
   * The replay part of a write's options for a source that needs no generic corpus
   * (`write-replay.ts`): anchor samples (cached in the bank directory) or other memories of
   * the cube (`texts`, routed with `embedder`; deleted ones left out), always scored against
   * the anchor's own distributions.
   */
  replayFor(anchor: AnchorModel, settings: ReplaySettings, cube: { embedder?: TextEmbedder; texts?: readonly BankText[] } = {}): ReturnType<typeof replayFor> {
    return replayFor(this, anchor, settings, cube);
  }

  /** Marks the blocks holding these memories stale and records them as deleted. */
  deleteMemories(memoryIds: readonly string[]): Array<{ level: number; node: number }> {
    return deleteMemories(this, memoryIds);
  }

  /** Re-initialises every stale block and retrains it on its cluster's remaining texts. */
  rewriteStale(anchor: AnchorModel, corpus: readonly BankText[], options: WriteOptions = {}): WriteReport {
    return trainSync(this, anchor, staleNodes(this), corpus, options, true);
  }

  async rewriteStaleAsync(anchor: AnchorModel, corpus: readonly BankText[], options: WriteOptions = {}): Promise<WriteReport> {
    return trainAsync(this, anchor, staleNodes(this), corpus, options, true);
  }

  /** Forgetting without retraining: the block's weights become zero (no effect). */
  zero(level: number, node: number): number {
    return zero(this, level, node);
  }

  /** A locked block is never trained again (until unlocked). */
  lock(level: number, node: number, locked = true): number {
    return lock(this, level, node, locked);
  }

  isLocked(level: number, node: number): boolean {
    return (this.file.readBlock(level, node).flags & BlockFlag.Locked) !== 0;
  }

  /**
   * The blocks committed after `generation`, with their provenance, found by the slot
   * trailers (ADR 0305; `bank-provenance-view.ts`).
   */
  changedSince(generation: number): ChangedBlock[] {
    return changedSince(this, generation);
  }

  /** Occupancy and sizes per level, for `bank inspect` and the API. */
  inspect(): ReturnType<typeof inspect> {
    return inspect(this);
  }

  /** @internal Refuses an embedder of another fingerprint than the bank routes with. */
  checkEmbedder(embedder: TextEmbedder): void {
    if (embedder.fingerprint !== this.file.header.embedderFingerprint) {
      throw new ParametricError(ParametricErrorCode.EmbedderMismatch, `bank routes with embedder ${this.file.header.embedderFingerprint}, got ${embedder.fingerprint}`);
    }
  }

  /** @internal After a commit of the file: the sidecar follows, the store drops what changed. */
  afterCommit(generation: number, touched: ReadonlyArray<{ level: number; node: number }>): void {
    this.provenance.generation = generation;
    this.provenance.save(join(this.dir, PROVENANCE_FILE));
    this.store.invalidate(touched);
    if (touched.some((t) => t.level <= this.store.ramLevels)) this.store.loadRamTier();
  }
}
