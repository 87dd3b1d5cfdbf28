// Disk tier: content-addressed files <dir>/<k0k1>/<key>.ekv, written atomically
// (temp + fsync + rename + directory fsync). The index is rebuilt from the directory on
// open, so caches survive a restart; blobs carry their own checksum (kv-blob.codec).
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@engram/inference';
import { BlobTier, emptyMetrics, TierMetrics } from './tier-metrics';

const SUFFIX = '.ekv';

export class DiskTier implements BlobTier {
  readonly name = 'disk' as const;
  private readonly index = new Map<string, number>(); // key → size, LRU order
  private readonly stats = emptyMetrics();

  constructor(
    private readonly dir: string,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly isPinned: (key: string) => boolean = () => false,
  ) {
    mkdirSync(dir, { recursive: true });
    const found: { key: string; size: number; mtime: number }[] = [];
    for (const shard of readdirSync(dir)) {
      const shardDir = join(dir, shard);
      if (!statSync(shardDir).isDirectory()) continue;
      for (const f of readdirSync(shardDir)) {
        const path = join(shardDir, f);
        if (f.includes('.tmp-')) {
          rmSync(path, { force: true }); // leftover of an interrupted write
          continue;
        }
        if (!f.endsWith(SUFFIX)) continue;
        const st = statSync(path);
        found.push({ key: f.slice(0, -SUFFIX.length), size: st.size, mtime: st.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) {
      this.index.set(f.key, f.size);
      this.stats.bytes += f.size;
    }
  }

  private path(key: string): string {
    if (!/^[0-9a-f]{16,128}$/.test(key)) throw new Error(`disk tier: invalid key "${key}"`);
    return join(this.dir, key.slice(0, 2), `${key}${SUFFIX}`);
  }

  has(key: string): boolean {
    return this.index.has(key) || this.adopt(key);
  }

  /**
   * Indexes a blob another process sharing the directory wrote after this one opened it (a
   * separate worker building a cube's working memory, the server reusing it): one stat on a
   * miss. False when there is none.
   */
  private adopt(key: string): boolean {
    let size: number;
    try {
      size = statSync(this.path(key)).size;
    } catch {
      return false;
    }
    this.index.set(key, size);
    this.stats.bytes += size;
    return true;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!this.has(key)) {
      this.stats.misses++;
      return undefined;
    }
    try {
      const bytes = await readFile(this.path(key));
      const size = this.index.get(key)!;
      this.index.delete(key);
      this.index.set(key, size);
      this.stats.hits++;
      return bytes;
    } catch {
      this.forget(key);
      this.stats.misses++;
      return undefined;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    if (this.has(key)) return; // content-addressed: same key, same bytes
    const path = this.path(key);
    const shard = join(this.dir, key.slice(0, 2));
    mkdirSync(shard, { recursive: true });
    writeFileAtomic(path, bytes);
    this.index.set(key, bytes.length);
    this.stats.bytes += bytes.length;
    this.stats.puts++;
    this.shrink();
  }

  private forget(key: string): void {
    const size = this.index.get(key);
    if (size === undefined) return;
    this.index.delete(key);
    this.stats.bytes -= size;
  }

  /** Removes the blob, also when another process sharing the directory wrote it after this one opened it. */
  async delete(key: string): Promise<void> {
    rmSync(this.path(key), { force: true });
    if (this.index.has(key)) this.forget(key);
  }

  private shrink(): void {
    for (const key of [...this.index.keys()]) {
      if (this.stats.bytes <= this.maxBytes) break;
      if (this.isPinned(key)) continue;
      rmSync(this.path(key), { force: true });
      this.forget(key);
      this.stats.evictions++;
    }
  }

  metrics(): TierMetrics {
    return { ...this.stats, items: this.index.size };
  }
}
