// Storage tiers over a bank file: levels 1..ramLevels are loaded into RAM when the store
// opens; deeper levels are read on demand (one positional read each) through an LRU
// bounded in bytes. fetch(path) returns one block per level concatenated along R — the
// MemoryBlock the graph's memory inputs take.
import type { MemoryBlock } from '@engram/inference';
import { BankFile } from './bank-file';
import { BlockFlag } from './bank-layout';
import { concatBlocks } from './block.codec';
import { ParametricError, ParametricErrorCode } from '../parametric.error';

export interface TierMetrics {
  hits: number;
  misses: number;
  /** Bytes read from disk on misses (RAM tier: at load). */
  bytesRead: number;
  /** Bytes held now. */
  bytesResident: number;
  evictions: number;
}

export interface BlockStoreOptions {
  /** Levels kept in RAM (default 1: the coarsest). */
  ramLevels?: number;
  /** LRU budget for the deep levels (default 64 MiB). */
  cacheBytes?: number;
  /**
   * Paths kept ready (default 4): the turns of one conversation route to the same path and
   * get the same array back, so the model reuses the feeds it built for it.
   */
  pathCache?: number;
}

const blockBytes = (b: MemoryBlock): number => (b.gate.byteLength + b.up.byteLength + b.down.byteLength);

export class BlockStore {
  readonly ramLevels: number;
  private readonly cacheBytes: number;
  private readonly ram = new Map<string, MemoryBlock>();
  private readonly lru = new Map<string, MemoryBlock>();
  private lruBytes = 0;
  private readonly pathCacheSize: number;
  private readonly paths = new Map<string, readonly MemoryBlock[]>();
  private readonly zeros = new Map<number, MemoryBlock>();
  readonly metrics: { ram: TierMetrics; disk: TierMetrics; path: TierMetrics };

  constructor(readonly bank: BankFile, options: BlockStoreOptions = {}) {
    this.ramLevels = Math.min(options.ramLevels ?? 1, bank.header.levels);
    this.cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
    const zero = (): TierMetrics => ({ hits: 0, misses: 0, bytesRead: 0, bytesResident: 0, evictions: 0 });
    this.pathCacheSize = options.pathCache ?? 4;
    this.metrics = { ram: zero(), disk: zero(), path: zero() };
    this.loadRamTier();
  }

  /** (Re)loads the RAM tier, e.g. after a write committed a new generation. */
  loadRamTier(): void {
    this.dropPathCache();
    this.ram.clear();
    this.metrics.ram.bytesResident = 0;
    for (let level = 1; level <= this.ramLevels; level++) {
      const l = this.bank.level(level);
      if (l.rank === 0) continue;
      for (let node = 0; node < l.nodes; node++) {
        const r = this.bank.readBlock(level, node);
        this.metrics.ram.bytesRead += r.bytesRead;
        if (!(r.flags & BlockFlag.Present)) continue; // never written: served as zeros on demand
        this.ram.set(`${level}:${node}`, r.block);
        this.metrics.ram.bytesResident += blockBytes(r.block);
      }
    }
  }

  /** Drops cached deep blocks (after a write, or to measure cold reads). */
  invalidate(keys?: ReadonlyArray<{ level: number; node: number }>): void {
    this.dropPathCache();
    if (!keys) {
      this.lru.clear();
      this.lruBytes = 0;
    } else {
      for (const { level, node } of keys) {
        const k = `${level}:${node}`;
        const b = this.lru.get(k);
        if (b) {
          this.lru.delete(k);
          this.lruBytes -= blockBytes(b);
        }
      }
    }
    this.metrics.disk.bytesResident = this.lruBytes;
  }

  /** Forgets the fetched paths (their blocks stay in their tiers). */
  dropPathCache(): void {
    this.paths.clear();
  }

  block(level: number, node: number): MemoryBlock {
    const k = `${level}:${node}`;
    const { hidden, layers } = this.bank.header;
    if (level <= this.ramLevels) {
      this.bank.slotOffset(level, node); // validates the address
      const b = this.ram.get(k);
      this.metrics.ram.hits++;
      return b ?? this.zeroOf(level, hidden, layers);
    }
    const cached = this.lru.get(k);
    if (cached) {
      this.lru.delete(k);
      this.lru.set(k, cached);
      this.metrics.disk.hits++;
      return cached;
    }
    const r = this.bank.readBlock(level, node);
    this.metrics.disk.misses++;
    this.metrics.disk.bytesRead += r.bytesRead;
    const size = blockBytes(r.block);
    if (size <= this.cacheBytes) {
      this.lru.set(k, r.block);
      this.lruBytes += size;
      while (this.lruBytes > this.cacheBytes) {
        const [oldKey, old] = this.lru.entries().next().value as [string, MemoryBlock];
        this.lru.delete(oldKey);
        this.lruBytes -= blockBytes(old);
        this.metrics.disk.evictions++;
      }
    }
    this.metrics.disk.bytesResident = this.lruBytes;
    return r.block;
  }

  /**
   * The blocks along `path` (level 1..p node indices), one per level: what the graph's
   * memory slots take. Read-only: the blocks are the cache's own, shared with later fetches.
   */
  fetch(path: readonly number[]): readonly MemoryBlock[] {
    const { levels } = this.bank.header;
    if (path.length !== levels) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `path of ${path.length} levels for a bank of ${levels}`);
    const k = this.bank.header.branching;
    for (let l = 1; l < path.length; l++) {
      if (Math.floor(path[l] / k) !== path[l - 1]) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `node ${path[l]} at level ${l + 1} is not a child of ${path[l - 1]}`);
    }
    const key = path.join('/');
    const hit = this.paths.get(key);
    if (hit) {
      this.paths.delete(key);
      this.paths.set(key, hit);
      this.metrics.path.hits++;
      return hit;
    }
    this.metrics.path.misses++;
    const blocks = Object.freeze(path.map((node, i) => this.block(i + 1, node)));
    if (this.pathCacheSize > 0) {
      this.paths.set(key, blocks);
      while (this.paths.size > this.pathCacheSize) {
        this.paths.delete(this.paths.keys().next().value as string);
        this.metrics.path.evictions++;
      }
    }
    return blocks;
  }

  /** A never-written RAM-tier block: zeros of the level's rank, one shared instance per level. */
  private zeroOf(level: number, hidden: number, layers: number): MemoryBlock {
    let z = this.zeros.get(level);
    if (!z) {
      const rank = this.bank.level(level).rank;
      const n = rank * hidden * layers;
      z = { rank, gate: new Float32Array(n), up: new Float32Array(n), down: new Float32Array(n) };
      this.zeros.set(level, z);
    }
    return z;
  }
}
