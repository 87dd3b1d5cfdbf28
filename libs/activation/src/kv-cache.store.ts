// Tiered store of KV chunks (RAM LRU → disk → object store) plus the manifests of named
// caches ("entries": the memory text a cache was built from, its chunks, its provenance).
// Writes go to RAM and through to disk and the object store, so a restart or a RAM
// eviction loses nothing; reads promote a chunk back into RAM.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { concatKv, KvState, sliceKv } from '@engram/inference';
import { ActivationError, ActivationErrorCode } from './activation.error';
import { decodeKvBlob, encodeKvBlob } from './kv-blob.codec';
import { chainHash, chainSeed, chunkKeys, DEFAULT_CHUNK_TOKENS } from './kv-chunk.hasher';
import { DiskTier } from './tiers/disk.tier';
import { ObjectStoreClient, ObjectStoreTier } from './tiers/object-store.tier';
import { RamTier } from './tiers/ram.tier';
import { BlobTier, TierMetrics, TierName } from './tiers/tier-metrics';

export interface KvCacheSource {
  memoryId: string;
  /** sha256 of the memory text the cache was computed from. */
  textHash: string;
}

export interface KvCacheEntry {
  id: string;
  fingerprint: string;
  /** Owner label (a cube id); caches are listed and purged by it. */
  owner: string | null;
  /** Chunk-key partition (a tenant id): chunks are shared only within it. Absent on older entries. */
  partition?: string;
  tokens: number[];
  chunkHashes: string[];
  sources: KvCacheSource[];
  pinned: boolean;
  bytes: number;
  createdAt: string;
}

export interface KvCacheStoreOptions {
  chunkTokens?: number;
  /** RAM tier budget in bytes (default 512 MiB). */
  ramBytes?: number;
  /** Root of the disk tier (chunks/ and entries/); RAM only when absent. */
  dir?: string;
  diskBytes?: number;
  objectStore?: ObjectStoreClient;
  /** Clock for createdAt (tests). */
  now?: () => Date;
}

export interface PrefixHit {
  /** KV of the first `tokens` prompt tokens; undefined when nothing matched. */
  kv?: KvState;
  tokens: number;
  /** Tier each matched chunk came from. */
  tiers: TierName[];
}

export const textHash = (text: string): string => createHash('sha256').update(text).digest('hex');

function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export class KvCacheStore {
  readonly chunkTokens: number;
  private readonly ram: RamTier;
  private readonly disk?: DiskTier;
  private readonly object?: ObjectStoreTier;
  private readonly entries = new Map<string, KvCacheEntry>();
  /** chain hash before a partial tail chunk → its token lengths (so tails can be matched). */
  private readonly tails = new Map<string, Set<number>>();
  private readonly entriesDir?: string;
  /** The entries directory's mtime when this process last read it (a rename into it moves it). */
  private entriesSeenAt = -1n;
  private readonly now: () => Date;

  constructor(options: KvCacheStoreOptions = {}) {
    this.chunkTokens = options.chunkTokens ?? DEFAULT_CHUNK_TOKENS;
    this.now = options.now ?? (() => new Date());
    this.ram = new RamTier(options.ramBytes ?? 512 * 1024 ** 2);
    if (options.dir) {
      this.disk = new DiskTier(join(options.dir, 'chunks'), options.diskBytes, (k) => this.ram.isPinned(k));
      this.entriesDir = join(options.dir, 'entries');
      mkdirSync(this.entriesDir, { recursive: true });
      this.readEntries(true);
    }
    if (options.objectStore) this.object = new ObjectStoreTier(options.objectStore);
  }

  /**
   * Brings the entries in line with the directory: indexes entry files this process does
   * not know yet (another process sharing it — a separate worker, the server — may have
   * written them since this one opened it, and deleting by owner or by source must find
   * those too), and forgets entries whose file another process deleted (their chunks are
   * that process's to delete; this one only stops pinning and matching them).
   */
  private readEntries(atOpen = false): void {
    if (!this.entriesDir) return;
    this.entriesSeenAt = statSync(this.entriesDir, { bigint: true }).mtimeNs;
    const onDisk = new Set<string>();
    for (const f of readdirSync(this.entriesDir)) {
      if (!f.endsWith('.json')) {
        if (atOpen) rmSync(join(this.entriesDir, f), { force: true }); // a temp file of a crashed write
        continue;
      }
      const id = f.slice(0, -'.json'.length);
      onDisk.add(id);
      if (this.entries.has(id)) continue;
      try {
        this.index(JSON.parse(readFileSync(join(this.entriesDir, f), 'utf8')) as KvCacheEntry);
      } catch {
        // deleted or being written by another process right now
      }
    }
    let forgot = false;
    for (const [id, e] of this.entries) {
      if (onDisk.has(id)) continue;
      if (e.pinned) for (const h of e.chunkHashes) this.ram.unpin(h);
      this.entries.delete(id);
      forgot = true;
    }
    if (forgot) this.rebuildTails();
  }

  /** readEntries() when the directory changed since this process last read it (one `stat`). */
  private refreshEntries(): void {
    if (this.entriesDir && statSync(this.entriesDir, { bigint: true }).mtimeNs !== this.entriesSeenAt) this.readEntries();
  }

  private lower(): BlobTier[] {
    return [this.disk, this.object].filter((t): t is DiskTier | ObjectStoreTier => t !== undefined);
  }

  private index(entry: KvCacheEntry): void {
    this.entries.set(entry.id, entry);
    const last = entry.tokens.length % this.chunkTokens;
    if (last !== 0) {
      const n = entry.chunkHashes.length;
      const before = n >= 2 ? entry.chunkHashes[n - 2] : chainSeed(entry.fingerprint, this.chunkTokens, entry.partition ?? '');
      if (!this.tails.has(before)) this.tails.set(before, new Set());
      this.tails.get(before)!.add(last);
    }
    if (entry.pinned) for (const h of entry.chunkHashes) this.ram.pin(h);
  }

  /** Stores the KV of `tokens` chunk by chunk; returns the chunk hashes. */
  async putChunks(fingerprint: string, tokens: readonly number[], kv: KvState, partition = ''): Promise<string[]> {
    if (kv.seq !== tokens.length) {
      throw new ActivationError(ActivationErrorCode.InvalidRequest, `KV covers ${kv.seq} tokens, but ${tokens.length} tokens were given`);
    }
    const keys = chunkKeys(fingerprint, tokens, this.chunkTokens, partition);
    for (const k of keys) {
      const missingBelow: BlobTier[] = [];
      for (const tier of this.lower()) if (!(await tier.has(k.hash))) missingBelow.push(tier);
      if (this.ram.has(k.hash) && missingBelow.length === 0) continue;
      const chunk = sliceKv(kv, k.start, k.end);
      this.ram.put(k.hash, chunk);
      if (missingBelow.length > 0) {
        const bytes = encodeKvBlob(fingerprint, chunk);
        for (const tier of missingBelow) await tier.put(k.hash, bytes);
      }
    }
    return keys.map((k) => k.hash);
  }

  private async loadChunk(fingerprint: string, hash: string): Promise<{ kv: KvState; tier: TierName } | undefined> {
    const inRam = this.ram.get(hash);
    if (inRam) return { kv: inRam, tier: 'ram' };
    for (const tier of this.lower()) {
      const bytes = await tier.get(hash);
      if (!bytes) continue;
      let decoded;
      try {
        decoded = decodeKvBlob(bytes, `${tier.name} chunk ${hash}`);
      } catch (err) {
        await tier.delete(hash); // corrupt: drop it, it is recomputable
        if (err instanceof ActivationError) continue;
        throw err;
      }
      if (decoded.header.fingerprint !== fingerprint) {
        throw new ActivationError(
          ActivationErrorCode.FingerprintMismatch,
          `KV chunk ${hash} was built by model ${decoded.header.fingerprint.slice(0, 12)}, not ${fingerprint.slice(0, 12)}`,
        );
      }
      this.ram.put(hash, decoded.kv);
      if (tier.name === 'object' && this.disk) await this.disk.put(hash, bytes);
      return { kv: decoded.kv, tier: tier.name };
    }
    return undefined;
  }

  /** Longest cached prefix of `tokens` (whole chunks, then a cached partial tail). */
  async lookup(fingerprint: string, tokens: readonly number[], partition = ''): Promise<PrefixHit> {
    const parts: KvState[] = [];
    const tiers: TierName[] = [];
    let prev = chainSeed(fingerprint, this.chunkTokens, partition);
    let matched = 0;
    while (matched + this.chunkTokens <= tokens.length) {
      const hash = chainHash(prev, tokens.slice(matched, matched + this.chunkTokens));
      const hit = await this.loadChunk(fingerprint, hash);
      if (!hit) break;
      parts.push(hit.kv);
      tiers.push(hit.tier);
      prev = hash;
      matched += this.chunkTokens;
    }
    // A partial tail another process (a separate worker) cached after this one read the
    // directory is known only from its entry file: read new entries when the directory moved.
    if (matched < tokens.length) this.refreshEntries();
    const tailLengths = [...(this.tails.get(prev) ?? [])].sort((a, b) => b - a);
    for (const len of tailLengths) {
      if (matched + len > tokens.length) continue;
      const hit = await this.loadChunk(fingerprint, chainHash(prev, tokens.slice(matched, matched + len)));
      if (!hit) continue;
      parts.push(hit.kv);
      tiers.push(hit.tier);
      matched += len;
      break;
    }
    return { kv: parts.length ? concatKv(parts) : undefined, tokens: matched, tiers };
  }

  async saveEntry(input: Omit<KvCacheEntry, 'id' | 'createdAt' | 'pinned'> & { pinned?: boolean }): Promise<KvCacheEntry> {
    const id = createHash('sha256')
      .update(JSON.stringify([input.owner, input.fingerprint, input.chunkHashes.at(-1), [...input.sources].sort((a, b) => a.memoryId.localeCompare(b.memoryId))]))
      .digest('hex')
      .slice(0, 32);
    const existing = this.entries.get(id);
    if (existing) return existing;
    const entry: KvCacheEntry = { ...input, id, pinned: input.pinned ?? false, createdAt: this.now().toISOString() };
    this.persist(entry);
    this.index(entry);
    return entry;
  }

  private persist(entry: KvCacheEntry): void {
    if (this.entriesDir) writeFileAtomic(join(this.entriesDir, `${entry.id}.json`), JSON.stringify(entry));
  }

  getEntry(id: string): KvCacheEntry | undefined {
    return this.entries.get(id);
  }

  listEntries(filter: { owner?: string; fingerprint?: string } = {}): KvCacheEntry[] {
    this.refreshEntries();
    return [...this.entries.values()].filter(
      (e) => (filter.owner === undefined || e.owner === filter.owner) && (filter.fingerprint === undefined || e.fingerprint === filter.fingerprint),
    );
  }

  /** The fastest tier holding every chunk of the entry, or 'missing' (recompute needed). */
  async tierOf(id: string): Promise<TierName | 'missing'> {
    const e = this.requireEntry(id);
    if (e.chunkHashes.every((h) => this.ram.has(h))) return 'ram';
    if (this.disk && e.chunkHashes.every((h) => this.disk!.has(h))) return 'disk';
    if (this.object) {
      const all = await Promise.all(e.chunkHashes.map((h) => this.object!.has(h)));
      if (all.every(Boolean)) return 'object';
    }
    return 'missing';
  }

  private requireEntry(id: string): KvCacheEntry {
    const e = this.entries.get(id);
    if (!e) throw new ActivationError(ActivationErrorCode.CacheNotFound, `KV cache ${id} not found`);
    return e;
  }

  pin(id: string): KvCacheEntry {
    const e = this.requireEntry(id);
    if (!e.pinned) {
      e.pinned = true;
      for (const h of e.chunkHashes) this.ram.pin(h);
      this.persist(e);
    }
    return e;
  }

  unpin(id: string): KvCacheEntry {
    const e = this.requireEntry(id);
    if (e.pinned) {
      e.pinned = false;
      for (const h of e.chunkHashes) this.ram.unpin(h);
      this.persist(e);
    }
    return e;
  }

  /** Drops an entry's chunks from a tier (they stay recomputable); pinned chunks stay in RAM. */
  async evict(id: string, tier: TierName | 'all' = 'ram'): Promise<void> {
    const e = this.requireEntry(id);
    for (const h of e.chunkHashes) {
      if ((tier === 'ram' || tier === 'all') && !this.ram.isPinned(h)) this.ram.delete(h);
      if ((tier === 'disk' || tier === 'all') && this.disk) await this.disk.delete(h);
      if ((tier === 'object' || tier === 'all') && this.object) await this.object.delete(h);
    }
  }

  /** Deletes an entry and every chunk no other entry uses. */
  async deleteEntry(id: string): Promise<boolean> {
    if (!this.entries.has(id)) this.readEntries();
    const e = this.entries.get(id);
    if (!e) return false;
    if (e.pinned) for (const h of e.chunkHashes) this.ram.unpin(h);
    this.entries.delete(id);
    if (this.entriesDir) rmSync(join(this.entriesDir, `${id}.json`), { force: true });
    this.rebuildTails();
    const stillUsed = new Set([...this.entries.values()].flatMap((x) => x.chunkHashes));
    for (const h of e.chunkHashes) {
      if (stillUsed.has(h)) continue;
      this.ram.delete(h);
      for (const t of this.lower()) await t.delete(h);
    }
    return true;
  }

  private rebuildTails(): void {
    this.tails.clear();
    for (const e of this.entries.values()) {
      const last = e.tokens.length % this.chunkTokens;
      if (last === 0) continue;
      const n = e.chunkHashes.length;
      const before = n >= 2 ? e.chunkHashes[n - 2] : chainSeed(e.fingerprint, this.chunkTokens, e.partition ?? '');
      if (!this.tails.has(before)) this.tails.set(before, new Set());
      this.tails.get(before)!.add(last);
    }
  }

  /** Provenance: deletes every cache computed from this memory; returns their ids. */
  async invalidate(memoryId: string): Promise<string[]> {
    this.readEntries();
    const ids = [...this.entries.values()].filter((e) => e.sources.some((s) => s.memoryId === memoryId)).map((e) => e.id);
    for (const id of ids) await this.deleteEntry(id);
    return ids;
  }

  /** Deletes the caches of memories whose text changed (hash differs from `currentTextHash`). */
  async invalidateIfChanged(memoryId: string, currentTextHash: string): Promise<string[]> {
    const ids = [...this.entries.values()]
      .filter((e) => e.sources.some((s) => s.memoryId === memoryId && s.textHash !== currentTextHash))
      .map((e) => e.id);
    for (const id of ids) await this.deleteEntry(id);
    return ids;
  }

  async deleteByOwner(owner: string): Promise<number> {
    this.readEntries();
    const ids = this.listEntries({ owner }).map((e) => e.id);
    for (const id of ids) await this.deleteEntry(id);
    return ids.length;
  }

  metrics(): Record<TierName, TierMetrics | null> {
    return { ram: this.ram.metrics(), disk: this.disk?.metrics() ?? null, object: this.object?.metrics() ?? null };
  }
}
