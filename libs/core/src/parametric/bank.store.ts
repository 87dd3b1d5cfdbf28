// The side-effect boundary of parametric memory: bank directories under
// `<dataDir>/cubes/<cubeId>/banks/<bankId>` (ParametricBank files) and the frozen anchor
// weights writing trains against. Services reach bank files only through here.
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { InferenceError, InferenceErrorCode, MemoryBlock } from '@engram/inference';
import { AnchorModel, BANK_FILE, BankFile, BankText, BlockRecord, ChangedBlock, loadAnchorModel, ParametricBank, type TextEmbedder } from '@engram/parametric';
import { BankRecord } from '@engram/persistence';

/** Open banks kept for chat (each holds a file handle and its RAM tier). */
const MAX_OPEN_BANKS = 8;

export interface BankGeometry {
  hidden: number;
  layers: number;
}

export type BankOccupancy = ReturnType<ParametricBank['inspect']>;

/** A bank's provenance as its server record holds it (PostgreSQL, ADR 0305). */
export interface ProvenanceRecord {
  blocks: readonly BlockRecord[];
  deleted: readonly string[];
}

/** What the files hold beyond a generation: the blocks committed since, with their provenance, and the forgotten memories. */
export interface FileSideChanges {
  generation: number;
  blocks: ChangedBlock[];
  deleted: string[];
}

/**
 * An open bank of one generation. `users`: requests between a routing step and its fetch
 * (an await apart); a bank evicted meanwhile (LRU, a write, a delete) is closed only when
 * the last of them is done, so a chat never reads a closed file.
 */
interface OpenBank {
  cubeId: string;
  generation: number;
  bank: ParametricBank;
  users: number;
  evicted: boolean;
}

@Injectable()
export class BankStore implements OnModuleDestroy {
  /** bankId → open bank of one generation, least recently used first. */
  private readonly open = new Map<string, OpenBank>();
  private anchorCache: AnchorModel | null = null;

  constructor(@Inject(ENGRAM_CONFIG) private readonly config: EngramConfig) {}

  directoryOf(cubeId: string, bankId: string): string {
    return join(this.config.dataDir, 'cubes', cubeId, 'banks', bankId);
  }

  /** Clusters the texts and writes an empty bank; a rerun starts from an empty directory. Returns the generation. */
  async build(
    bank: BankRecord,
    geometry: BankGeometry,
    embedder: TextEmbedder,
    texts: readonly BankText[],
    onProgress: (phase: string, done: number, total: number) => void,
  ): Promise<number> {
    this.evict(bank.id);
    rmSync(bank.directory, { recursive: true, force: true });
    const built = await ParametricBank.build({
      dir: bank.directory,
      modelFingerprint: bank.modelFingerprint,
      hidden: geometry.hidden,
      layers: geometry.layers,
      embedder,
      texts,
      levels: bank.levels,
      branching: bank.branching,
      ranks: bank.ranks,
      onProgress,
    });
    try {
      return built.file.generation;
    } finally {
      built.close();
    }
  }

  /** Occupancy per level as the files know it (tree nodes, texts, file size; no RAM tier loaded). Block counts come from PostgreSQL. */
  inspect(bank: BankRecord): BankOccupancy {
    return this.withFresh(bank, (b) => b.inspect());
  }

  /** The generation the bank file is at (a complete journal is replayed first); reads only the header. */
  fileGeneration(bank: BankRecord): number {
    const file = BankFile.open(join(bank.directory, BANK_FILE));
    try {
      return file.generation;
    } finally {
      file.close();
    }
  }

  /** The blocks committed after `generation` and the sidecar's forgotten memories: what recovery copies into PostgreSQL. */
  changedSince(bank: BankRecord, generation: number): FileSideChanges {
    return this.withFresh(bank, (b) => ({ generation: b.file.generation, blocks: b.changedSince(generation), deleted: [...b.provenance.deleted] }));
  }

  /**
   * Routes a context (one embedding) and fetches the blocks of the path, one per level (the
   * store's own, not copies); no path when the context is further than `minSimilarity` (cosine)
   * from its leaf: text the bank holds nothing about.
   */
  async routeAndFetchOrAbstain(bank: BankRecord, embedder: TextEmbedder, context: string, minSimilarity: number): Promise<{ path: number[]; similarity: number; memory: readonly MemoryBlock[] } | { path: null; similarity: number }> {
    const entry = this.entryOf(bank);
    entry.users++;
    try {
      const routed = await entry.bank.routeScored(embedder, context);
      return routed.similarity >= minSimilarity ? { ...routed, memory: entry.bank.fetch(routed.path) } : { path: null, similarity: routed.similarity };
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) entry.bank.close();
    }
  }

  /** The tree path (node per level) of the leaf a memory was assigned to; undefined when the bank never took it in. */
  pathOf(bank: BankRecord, memoryId: string): number[] | undefined {
    return this.cached(bank).tree.pathOf(memoryId);
  }

  /** The blocks of a path, one per level (the store's own, not copies). */
  fetch(bank: BankRecord, path: readonly number[]): readonly MemoryBlock[] {
    return this.cached(bank).fetch(path);
  }

  /**
   * Runs a change of the bank's files on a freshly opened bank whose provenance is the
   * server's record (`record`, at the row's generation) and closes it. Returns `fn`'s
   * result and what the change committed: the blocks written after the row's generation,
   * to be recorded in PostgreSQL with the new generation. The library also saves the
   * sidecar after its commit; recovery reads it when that database update is lost.
   * Callers serialise changes of one bank (BankRepository.withLock).
   */
  async mutate<T>(bank: BankRecord, record: ProvenanceRecord, fn: (b: ParametricBank) => Promise<T> | T): Promise<{ result: T; changes: FileSideChanges }> {
    this.evict(bank.id);
    const b = ParametricBank.open(bank.directory, { modelFingerprint: bank.modelFingerprint, embedderFingerprint: bank.embedderFingerprint, ramLevels: 0 });
    try {
      b.provenance.replaceWith({ blocks: record.blocks, deleted: record.deleted, generation: bank.generation });
      const result = await fn(b);
      return { result, changes: { generation: b.file.generation, blocks: b.changedSince(bank.generation), deleted: [...b.provenance.deleted] } };
    } finally {
      b.close();
    }
  }

  /** The frozen anchor of a registered model (float64 weights); the last one is kept. */
  anchor(model: { name: string; directory: string; fingerprint: string }): AnchorModel {
    if (this.anchorCache?.fingerprint === model.fingerprint) return this.anchorCache;
    const anchor = loadAnchorModel(model.directory);
    if (anchor.fingerprint !== model.fingerprint) {
      throw new InferenceError(InferenceErrorCode.ModelInvalid, `the files of model "${model.name}" changed since it was imported; import it again under a new name`);
    }
    this.anchorCache = anchor;
    return anchor;
  }

  /** Closes the bank and deletes its directory. */
  remove(bank: BankRecord): void {
    this.evict(bank.id);
    rmSync(bank.directory, { recursive: true, force: true });
  }

  /** Closes every open bank of a cube (before the cube's folder is deleted). */
  closeCube(cubeId: string): void {
    for (const [id, entry] of this.open) if (entry.cubeId === cubeId) this.evict(id);
  }

  onModuleDestroy(): void {
    for (const id of [...this.open.keys()]) this.evict(id);
    this.anchorCache = null;
  }

  private withFresh<T>(bank: BankRecord, fn: (b: ParametricBank) => T): T {
    const b = ParametricBank.open(bank.directory, { ramLevels: 0 });
    try {
      return fn(b);
    } finally {
      b.close();
    }
  }

  /** The open bank at the row's generation; a newer generation (a write elsewhere) reopens it. */
  private cached(bank: BankRecord): ParametricBank {
    return this.entryOf(bank).bank;
  }

  private entryOf(bank: BankRecord): OpenBank {
    const entry = this.open.get(bank.id);
    if (entry && entry.generation === bank.generation) {
      this.open.delete(bank.id);
      this.open.set(bank.id, entry); // most recently used last
      return entry;
    }
    this.evict(bank.id);
    const opened = ParametricBank.open(bank.directory, { modelFingerprint: bank.modelFingerprint, embedderFingerprint: bank.embedderFingerprint });
    const created: OpenBank = { cubeId: bank.cubeId, generation: bank.generation, bank: opened, users: 0, evicted: false };
    this.open.set(bank.id, created);
    while (this.open.size > MAX_OPEN_BANKS) this.evict(this.open.keys().next().value as string);
    return created;
  }

  /** Forgets an open bank; closes it now, or when the last request using it is done. */
  private evict(bankId: string): void {
    const entry = this.open.get(bankId);
    if (!entry) return;
    this.open.delete(bankId);
    entry.evicted = true;
    if (entry.users === 0) entry.bank.close();
  }
}
