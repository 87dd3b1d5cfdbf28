// The side-effect boundary of parametric memory: bank directories under
// `<dataDir>/cubes/<cubeId>/banks/<bankId>` (ParametricBank files) and the frozen anchor
// weights writing trains against. Services reach bank files only through here.
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { InferenceError, InferenceErrorCode, MemoryBlock } from '@engram/inference';
import { AnchorModel, BankText, loadAnchorModel, ParametricBank, Provenance, PROVENANCE_FILE, type TextEmbedder } from '@engram/parametric';
import { BankRecord } from '@engram/persistence';

/** Open banks kept for chat (each holds a file handle and its RAM tier). */
const MAX_OPEN_BANKS = 8;

export interface BankGeometry {
  hidden: number;
  layers: number;
}

export type BankOccupancy = ReturnType<ParametricBank['inspect']>;

export interface BankBlockInfo {
  rank: number;
  locked: boolean;
  record: ReturnType<Provenance['get']>;
}

@Injectable()
export class BankStore implements OnModuleDestroy {
  /** bankId → open bank of one generation, least recently used first. */
  private readonly open = new Map<string, { cubeId: string; generation: number; bank: ParametricBank }>();
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

  /** Occupancy per level, read from the files as they are now (no RAM tier loaded). */
  inspect(bank: BankRecord): BankOccupancy {
    return this.withFresh(bank, (b) => b.inspect());
  }

  /** One block's rank, lock flag and provenance record; a level or node outside the bank is a PATH_OUTSIDE_TREE error. */
  block(bank: BankRecord, level: number, node: number): BankBlockInfo {
    return this.withFresh(bank, (b) => ({ rank: b.file.level(level).rank, locked: b.isLocked(level, node), record: b.provenance.get(level, node) }));
  }

  /** Routes a context (one embedding) and fetches the blocks of the path, one per level (the store's own, not copies). */
  async routeAndFetch(bank: BankRecord, embedder: TextEmbedder, context: string): Promise<{ path: number[]; memory: readonly MemoryBlock[] }> {
    const open = this.cached(bank);
    const path = await open.route(embedder, context);
    return { path, memory: open.fetch(path) };
  }

  /**
   * Runs a change of the bank's files on a freshly opened bank (current provenance) and
   * closes it. Callers serialise changes of one bank (BankRepository.withLock).
   */
  async mutate<T>(bank: BankRecord, fn: (b: ParametricBank) => Promise<T> | T): Promise<T> {
    this.evict(bank.id);
    const b = ParametricBank.open(bank.directory, { modelFingerprint: bank.modelFingerprint, embedderFingerprint: bank.embedderFingerprint, ramLevels: 0 });
    try {
      return await fn(b);
    } finally {
      b.close();
    }
  }

  /** Marks the blocks holding an edited memory stale without recording it as deleted (its new text may be written later). */
  markStale(b: ParametricBank, memoryId: string): number {
    const held = b.provenance.holding(memoryId);
    for (const record of held) record.stale = true;
    if (held.length) b.provenance.save(join(b.dir, PROVENANCE_FILE));
    return held.length;
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
    const entry = this.open.get(bank.id);
    if (entry && entry.generation === bank.generation) {
      this.open.delete(bank.id);
      this.open.set(bank.id, entry); // most recently used last
      return entry.bank;
    }
    this.evict(bank.id);
    const opened = ParametricBank.open(bank.directory, { modelFingerprint: bank.modelFingerprint, embedderFingerprint: bank.embedderFingerprint });
    this.open.set(bank.id, { cubeId: bank.cubeId, generation: bank.generation, bank: opened });
    while (this.open.size > MAX_OPEN_BANKS) this.evict(this.open.keys().next().value as string);
    return opened;
  }

  private evict(bankId: string): void {
    const entry = this.open.get(bankId);
    if (!entry) return;
    this.open.delete(bankId);
    entry.bank.close();
  }
}
