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
   * Concatenated paths kept ready (default 4): the turns of one conversation route to the
   * same path, so a repeated fetch costs no copy.
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
  private readonly paths = new Map<string, MemoryBlock>();
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

  dropPathCache(): void {
    this.paths.clear();
    this.metrics.path.bytesResident = 0;
  }

  block(level: number, node: number): MemoryBlock {
    const k = `${level}:${node}`;
    const { hidden, layers } = this.bank.header;
    if (level <= this.ramLevels) {
      this.bank.slotOffset(level, node); // validates the address
      const b = this.ram.get(k);
      this.metrics.ram.hits++;
      return b ?? zeroOf(this.bank.level(level).rank, hidden, layers);
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

  /** One block per level along `path` (level 1..p node indices), concatenated along R. Read-only: it may be shared with later fetches. */
  fetch(path: readonly number[]): MemoryBlock {
    const { levels, hidden, layers } = this.bank.header;
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
    const m = concatBlocks(path.map((node, i) => this.block(i + 1, node)), hidden, layers);
    if (this.pathCacheSize > 0) {
      this.paths.set(key, m);
      this.metrics.path.bytesResident += blockBytes(m);
      while (this.paths.size > this.pathCacheSize) {
        const [oldKey, old] = this.paths.entries().next().value as [string, MemoryBlock];
        this.paths.delete(oldKey);
        this.metrics.path.bytesResident -= blockBytes(old);
        this.metrics.path.evictions++;
      }
    }
    return m;
  }
}

function zeroOf(rank: number, hidden: number, layers: number): MemoryBlock {
  const n = rank * hidden * layers;
  return { rank, gate: new Float32Array(n), up: new Float32Array(n), down: new Float32Array(n) };
}
