// RAM tier: decoded KV chunks in an LRU under a byte budget. Pinned chunks are never
// evicted; an evicted chunk is handed to onEvict (the store demotes it if needed).
import type { KvState } from '@engram/inference';
import { kvBytes } from '@engram/inference';
import { emptyMetrics, TierMetrics } from './tier-metrics';

interface Slot {
  kv: KvState;
  bytes: number;
}

export class RamTier {
  readonly name = 'ram' as const;
  private readonly slots = new Map<string, Slot>(); // insertion order = LRU order
  private readonly pins = new Map<string, number>();
  private readonly stats = emptyMetrics();

  constructor(
    private readonly maxBytes: number,
    private readonly onEvict: (key: string, kv: KvState) => void = () => undefined,
  ) {}

  get(key: string): KvState | undefined {
    const slot = this.slots.get(key);
    if (!slot) {
      this.stats.misses++;
      return undefined;
    }
    this.slots.delete(key);
    this.slots.set(key, slot);
    this.stats.hits++;
    return slot.kv;
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  put(key: string, kv: KvState): void {
    const existing = this.slots.get(key);
    if (existing) {
      this.slots.delete(key);
      this.slots.set(key, existing);
      return;
    }
    const bytes = kvBytes(kv);
    this.slots.set(key, { kv, bytes });
    this.stats.bytes += bytes;
    this.stats.puts++;
    this.shrink();
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.stats.bytes -= slot.bytes;
  }

  pin(key: string): void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
  }

  unpin(key: string): void {
    const n = (this.pins.get(key) ?? 0) - 1;
    if (n > 0) this.pins.set(key, n);
    else this.pins.delete(key);
    this.shrink();
  }

  isPinned(key: string): boolean {
    return this.pins.has(key);
  }

  private shrink(): void {
    if (this.stats.bytes <= this.maxBytes) return;
    for (const [key, slot] of this.slots) {
      if (this.stats.bytes <= this.maxBytes) break;
      if (this.pins.has(key)) continue;
      this.slots.delete(key);
      this.stats.bytes -= slot.bytes;
      this.stats.evictions++;
      this.onEvict(key, slot.kv);
    }
  }

  metrics(): TierMetrics {
    return { ...this.stats, items: this.slots.size };
  }
}
