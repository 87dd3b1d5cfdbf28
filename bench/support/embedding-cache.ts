// The benches' embedder: `--embedder hash` (default, `--dim` sets its dimension) or
// `--embedder use-lite`. Texts are embedded up front in batches (a neural encoder is
// async and much faster batched) and looked up synchronously while the bench ranks.
// Vectors of a slow embedder persist in os.tmpdir()/engram-bench-embeddings/ keyed by
// the embedder's fingerprint, so retuning the ranker does not re-embed the sets.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UseLiteEmbedder } from '@engram/inference';
import { type Embedder, HashEmbedder } from '@engram/plaintext';

export class BenchEmbedder {
  private readonly vectors = new Map<string, Float32Array>();
  private readonly cacheFile: string | null;
  private loadedFromDisk = 0;

  constructor(readonly embedder: Embedder, persist: boolean) {
    const key = createHash('sha256').update(embedder.fingerprint).digest('hex').slice(0, 16);
    this.cacheFile = persist ? join(tmpdir(), 'engram-bench-embeddings', `${key}.bin`) : null;
    if (this.cacheFile && existsSync(this.cacheFile)) this.readCache(this.cacheFile);
  }

  get fingerprint(): string {
    return this.embedder.fingerprint;
  }

  get dimension(): number {
    return this.embedder.dimension;
  }

  /** Embeds the texts not seen yet (batches of 256); returns how many were new. */
  async prepare(texts: Iterable<string>, label = 'texts'): Promise<number> {
    const missing = [...new Set(texts)].filter((t) => !this.vectors.has(t));
    const started = Date.now();
    for (let i = 0; i < missing.length; i += 256) {
      const batch = missing.slice(i, i + 256);
      const vectors = await this.embedder.embed(batch);
      batch.forEach((t, j) => this.vectors.set(t, vectors[j]));
    }
    if (missing.length > 0) {
      const seconds = (Date.now() - started) / 1000;
      console.error(`embedded ${missing.length} ${label} with ${this.fingerprint} in ${seconds.toFixed(1)} s (${Math.round(missing.length / Math.max(seconds, 1e-3))}/s)`);
      if (this.cacheFile) this.writeCache(this.cacheFile);
    }
    return missing.length;
  }

  embedOne(text: string): Float32Array {
    const v = this.vectors.get(text);
    if (!v) throw new Error(`bench: text was not prepared for embedding: ${text.slice(0, 80)}`);
    return v;
  }

  get cachedOnDisk(): number {
    return this.loadedFromDisk;
  }

  private readCache(file: string): void {
    const bytes = readFileSync(file);
    let at = 0;
    while (at < bytes.length) {
      const textLength = bytes.readUInt32LE(at);
      const text = bytes.toString('utf8', at + 4, at + 4 + textLength);
      at += 4 + textLength;
      const vector = new Float32Array(this.dimension);
      Buffer.from(vector.buffer).set(bytes.subarray(at, at + 4 * this.dimension));
      at += 4 * this.dimension;
      this.vectors.set(text, vector);
      this.loadedFromDisk++;
    }
  }

  private writeCache(file: string): void {
    const parts: Buffer[] = [];
    for (const [text, vector] of this.vectors) {
      const t = Buffer.from(text, 'utf8');
      const head = Buffer.alloc(4);
      head.writeUInt32LE(t.length);
      parts.push(head, t, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
    }
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(`${file}.tmp`, Buffer.concat(parts));
    renameSync(`${file}.tmp`, file);
  }
}

/** The embedder a bench was asked for: `--embedder hash|use-lite` (hash: `--dim`, default 256). */
export function benchEmbedder(name: string, dimension: number, threads = 0): BenchEmbedder {
  switch (name) {
    case 'hash':
      return new BenchEmbedder(new HashEmbedder({ dimension }), false);
    case 'use-lite':
      return new BenchEmbedder(new UseLiteEmbedder({ session: { intraOpThreads: threads } }), true);
    default:
      throw new Error(`--embedder must be hash or use-lite (got ${name})`);
  }
}
