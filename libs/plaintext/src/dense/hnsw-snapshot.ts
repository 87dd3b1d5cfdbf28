// Saving and loading the dense half of a cube index (ADR 0114): the int8 HNSW graph
// (`graph.bin`, int8-hnsw.codec.ts) and the int8 vectors (`vectors.bin`: labels, scales,
// codes), plus the caller's extra files, each written to a temp name, fsynced and renamed;
// a manifest written the same way last names their sha256, the change sequence they
// reflect, the embedder fingerprint and the graph parameters. Loading checks all of that
// before anything is decoded, so a missing, stale, foreign or corrupt snapshot is reported
// as such and the caller rebuilds from PostgreSQL. The manifest carries a checksum of its
// own (`manifestSha256`): a flipped bit that still parses is caught, not trusted.
// The graph holds no vectors of live nodes: they are the vectors file's, so a snapshot
// whose vectors file is missing or damaged is corrupt whether or not it has a graph. A
// small cube's index keeps no graph (ADR 0112): `sha256: null`.
// Format 1 (before ADR 0114) held an hnswlib graph in `hnsw.bin`: it still loads, its graph
// left out (the caller builds the int8 graph from the vectors), and is rewritten as 2.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { HnswParams } from './int8-hnsw';

export const SNAPSHOT_FORMAT = 'engram-hnsw/2';
/** hnswlib graph + int8 vectors (before ADR 0114): loaded without its graph. */
const LEGACY_FORMAT = 'engram-hnsw/1';
const GRAPH_FILE = 'graph.bin';
const LEGACY_GRAPH_FILE = 'hnsw.bin';
const VECTORS_FILE = 'vectors.bin';
const MANIFEST_FILE = 'manifest.json';

/** A caller's file: its bytes, or its bytes in pieces (written and hashed as they come, yielding in between: ADR 0115). */
export type SnapshotExtra = Buffer | Iterable<Buffer>;

export interface SnapshotMeta {
  /** The change sequence of the last change the snapshot includes. */
  readonly changeSeq: number;
  readonly fingerprint: string;
}

/** The int8 vectors of the live labels, as QuantizedVectorStore keeps them. */
export interface SnapshotVectors {
  readonly labels: Float64Array;
  readonly scales: Float32Array;
  /** labels.length × dimension codes, in label order. */
  readonly codes: Int8Array;
}

export interface SnapshotManifest extends SnapshotMeta {
  readonly format: string;
  readonly dimension: number;
  readonly m: number;
  readonly efConstruction: number;
  /** Vectors saved (labels with a vector). */
  readonly count: number;
  /** sha256 of the graph file; null when the index kept no graph (a small cube: exact search over the vectors file). */
  readonly sha256: string | null;
  readonly bytes: number;
  /** Format 1 only: the hnswlib graph's live labels. */
  readonly liveLabels?: number[];
  readonly savedAt: string;
  readonly vectors?: { readonly count: number; readonly sha256: string; readonly bytes: number };
  /** The caller's extra files, by name. */
  readonly extras?: Readonly<Record<string, { readonly sha256: string; readonly bytes: number }>>;
  /** sha256 of the manifest's JSON without this field (manifestChecksum); absent before it was added. */
  readonly manifestSha256?: string;
}

/** sha256 of a manifest's JSON without its own checksum field, the fields in their written order. */
export function manifestChecksum(manifest: SnapshotManifest): string {
  const { manifestSha256: _own, ...rest } = manifest;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

export type LoadStatus = 'loaded' | 'missing' | 'corrupt' | 'mismatch';

export interface LoadResult {
  readonly status: LoadStatus;
  /** Change sequence the snapshot reflects: replay changes after it. */
  readonly changeSeq?: number;
  readonly count?: number;
  /** Why the snapshot was not used. */
  readonly reason?: string;
  /** The saved int8 vectors (always present when loaded). */
  readonly vectors?: SnapshotVectors;
  /** The extra files saved with the graph that are present and intact, by name. */
  readonly extras?: ReadonlyMap<string, Buffer>;
  /** Whether the index has a graph after the load (false: none saved, or one the index could not use). */
  readonly graph?: boolean;
  /** The saved int8 graph file (format 2), intact. */
  readonly graphData?: Buffer;
}

export interface SnapshotContent {
  readonly dimension: number;
  readonly params: HnswParams;
  /** The encoded int8 graph, or null when the index keeps none. */
  readonly graph: Buffer | null;
  readonly vectors: SnapshotVectors;
  readonly extras?: ReadonlyMap<string, SnapshotExtra>;
}

export async function saveSnapshot(dir: string, meta: SnapshotMeta, content: SnapshotContent): Promise<SnapshotManifest> {
  await fs.mkdir(dir, { recursive: true });
  const files = new Map<string, Iterable<Buffer>>();
  if (content.graph) files.set(GRAPH_FILE, [content.graph]);
  files.set(VECTORS_FILE, encodeVectors(content.vectors));
  const extras = content.extras ?? new Map<string, SnapshotExtra>();
  for (const [name, data] of extras) {
    if (!/^[a-z][a-z0-9-]*\.[a-z]+$/.test(name) || [GRAPH_FILE, LEGACY_GRAPH_FILE, VECTORS_FILE, MANIFEST_FILE].includes(name)) throw new Error(`bad snapshot extra name ${name}`);
    files.set(name, Buffer.isBuffer(data) ? [data] : data);
  }
  const sums = new Map<string, { sha256: string; bytes: number }>();
  for (const [name, pieces] of files) sums.set(name, await writePieces(path.join(dir, `${name}.${process.pid}.tmp`), pieces));
  const graphSum = sums.get(GRAPH_FILE);
  const extrasEntry: Record<string, { sha256: string; bytes: number }> = {};
  for (const name of extras.keys()) extrasEntry[name] = sums.get(name)!;
  const unsealed: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    dimension: content.dimension,
    m: content.params.m,
    efConstruction: content.params.efConstruction,
    count: content.vectors.labels.length,
    sha256: graphSum?.sha256 ?? null,
    bytes: graphSum?.bytes ?? 0,
    changeSeq: meta.changeSeq,
    fingerprint: meta.fingerprint,
    savedAt: new Date().toISOString(),
    vectors: { count: content.vectors.labels.length, ...sums.get(VECTORS_FILE)! },
    ...(extras.size > 0 ? { extras: extrasEntry } : {}),
  };
  const manifest: SnapshotManifest = { ...unsealed, manifestSha256: manifestChecksum(unsealed) };
  // The old manifest must never point at the new files: drop it, swap the files, then
  // publish the new manifest.
  await fs.rm(path.join(dir, MANIFEST_FILE), { force: true });
  await fs.rm(path.join(dir, LEGACY_GRAPH_FILE), { force: true });
  if (!content.graph) await fs.rm(path.join(dir, GRAPH_FILE), { force: true });
  for (const name of files.keys()) await fs.rename(path.join(dir, `${name}.${process.pid}.tmp`), path.join(dir, name));
  const tmpManifest = path.join(dir, `${MANIFEST_FILE}.${process.pid}.tmp`);
  await fs.writeFile(tmpManifest, JSON.stringify(manifest));
  await fsyncFile(tmpManifest);
  await fs.rename(tmpManifest, path.join(dir, MANIFEST_FILE));
  return manifest;
}

/** Reads and checks a snapshot; decoding the graph into an index is the caller's (it needs the vectors in place first). */
export async function loadSnapshot(dir: string, expected: { readonly fingerprint: string; readonly dimension: number; readonly params: HnswParams }): Promise<LoadResult> {
  let manifest: SnapshotManifest;
  try {
    manifest = JSON.parse((await readSmall(path.join(dir, MANIFEST_FILE))).toString('utf8')) as SnapshotManifest;
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing', reason: 'no manifest' };
    return { status: 'corrupt', reason: `unreadable manifest: ${(error as Error).message}` };
  }
  if (typeof manifest !== 'object' || manifest === null) return { status: 'corrupt', reason: 'manifest is not a JSON object' };
  // Without its checksum: written before manifests carried one, or its name was damaged.
  if (typeof manifest.manifestSha256 !== 'string') return { status: 'mismatch', reason: 'manifest without a checksum of its own' };
  if (manifestChecksum(manifest) !== manifest.manifestSha256) return { status: 'corrupt', reason: 'manifest checksum mismatch' };
  if (manifest.format !== SNAPSHOT_FORMAT && manifest.format !== LEGACY_FORMAT) return { status: 'mismatch', reason: `format ${String(manifest.format)}` };
  if (manifest.fingerprint !== expected.fingerprint) {
    return { status: 'mismatch', reason: `embedder ${manifest.fingerprint}, expected ${expected.fingerprint}` };
  }
  if (manifest.dimension !== expected.dimension) {
    return { status: 'mismatch', reason: `dimension ${manifest.dimension}, expected ${expected.dimension}` };
  }
  if (typeof manifest.changeSeq !== 'number') return { status: 'corrupt', reason: 'manifest lacks its change sequence' };
  // Every file the manifest names is read at once, by the thread pool (ADR 0121).
  const wantGraph = manifest.sha256 !== null && manifest.format !== LEGACY_FORMAT;
  const files = prefetch(dir, manifest, wantGraph);
  // The vectors file is the only copy of the live vectors (an hnswlib graph's are not read any more).
  const vectors = await readVectors(manifest, files);
  if (!vectors) return { status: 'corrupt', reason: 'no intact vectors file' };
  const loaded = { status: 'loaded' as const, changeSeq: manifest.changeSeq, count: vectors.labels.length, vectors };
  if (!wantGraph) return { ...loaded, extras: await readExtras(manifest, files), graph: false };
  let graphData: Buffer;
  try {
    graphData = await files.get(GRAPH_FILE)!;
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing', reason: 'manifest without graph file' };
    throw error;
  }
  const sha256 = await sha256Of(graphData);
  if (graphData.length !== manifest.bytes || sha256 !== manifest.sha256) {
    return { status: 'corrupt', reason: `checksum mismatch (${graphData.length} bytes, sha256 ${sha256.slice(0, 12)}…)` };
  }
  if (manifest.m !== expected.params.m) return { ...loaded, extras: await readExtras(manifest, files), graph: false }; // other parameters: built again
  return { ...loaded, extras: await readExtras(manifest, files), graph: true, graphData };
}

/** The vectors file in pieces: count, labels, scales, codes (views of the arrays, which the caller no longer changes). */
function encodeVectors(v: SnapshotVectors): Buffer[] {
  const count = Buffer.alloc(4);
  count.writeUInt32LE(v.labels.length, 0);
  const view = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return [count, view(v.labels), view(v.scales), view(v.codes)];
}

/** The vectors file when the manifest names it and it is intact; undefined otherwise. */
async function readVectors(manifest: SnapshotManifest, files: ReadonlyMap<string, Promise<Buffer>>): Promise<SnapshotVectors | undefined> {
  const entry = manifest.vectors;
  const reading = files.get(VECTORS_FILE);
  if (!entry || !reading) return undefined;
  let data: Buffer;
  try {
    data = await reading;
  } catch {
    return undefined;
  }
  if (data.length !== entry.bytes || (await sha256Of(data)) !== entry.sha256) return undefined;
  const n = data.readUInt32LE(0);
  if (n !== entry.count || data.length !== 4 + 12 * n + n * manifest.dimension) return undefined;
  // Copies into fresh, aligned typed arrays (the Buffer's offset need not be aligned).
  const labels = new Float64Array(n);
  Buffer.from(labels.buffer).set(data.subarray(4, 4 + 8 * n));
  const scales = new Float32Array(n);
  Buffer.from(scales.buffer).set(data.subarray(4 + 8 * n, 4 + 12 * n));
  const codes = new Int8Array(data.buffer, data.byteOffset + 4 + 12 * n, n * manifest.dimension).slice();
  return { labels, scales, codes };
}

/** The extra files the manifest names that are present and intact. */
async function readExtras(manifest: SnapshotManifest, files: ReadonlyMap<string, Promise<Buffer>>): Promise<ReadonlyMap<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(manifest.extras ?? {})) {
    const reading = files.get(name);
    if (!isExtraName(name) || !reading) continue;
    let data: Buffer;
    try {
      data = await reading;
    } catch {
      continue;
    }
    if (data.length === entry.bytes && (await sha256Of(data)) === entry.sha256) out.set(name, data);
  }
  return out;
}

/**
 * Files up to this size are hashed in one synchronous call; larger ones in chunks between
 * turns of the event loop (sha256Of), so a large graph never blocks the event loop for long.
 */
const SYNC_READ_MAX = 4 << 20;

/** A manifest is read whole if it fits this (it is about 1 KB); a larger one is read again whole. */
const MANIFEST_READ = 64 << 10;

/** The largest single read (Linux reads at most about 2 GiB at once). */
const READ_PIECE = 1 << 30;

function isExtraName(name: string): boolean {
  return !(name.includes('/') || name.includes('\\') || name.startsWith('.'));
}

/**
 * Starts reading every file the manifest names, all at once, each by the thread pool in one
 * read of the size the manifest gives: when the index cache turns over, tail cubes' snapshots
 * are often not in the page cache, and a synchronous read would stall every request on the
 * event loop for the disk (ADR 0121). A file of another size reads as what it holds (its
 * checksum then fails); a read that fails rejects its promise, which the caller handles.
 */
function prefetch(dir: string, manifest: SnapshotManifest, graph: boolean): Map<string, Promise<Buffer>> {
  const files = new Map<string, Promise<Buffer>>();
  const start = (name: string, bytes: unknown) => {
    const reading = readKnown(path.join(dir, name), typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : 0);
    reading.catch(() => undefined); // awaited (and handled) only by the steps the load reaches
    files.set(name, reading);
  };
  if (manifest.vectors) start(VECTORS_FILE, manifest.vectors.bytes);
  if (graph) start(GRAPH_FILE, manifest.bytes);
  for (const [name, entry] of Object.entries(manifest.extras ?? {})) if (isExtraName(name)) start(name, entry.bytes);
  return files;
}

/** The file's bytes, read as `bytes` + 1 (so that a longer file shows): a read shorter than asked is the end of the file. */
async function readKnown(file: string, bytes: number): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafeSlow(bytes + 1);
    let got = 0;
    while (got < buffer.length) {
      const asked = Math.min(READ_PIECE, buffer.length - got);
      const { bytesRead } = await handle.read(buffer, got, asked, got);
      got += bytesRead;
      if (bytesRead < asked) break;
    }
    return buffer.subarray(0, got);
  } finally {
    handle.close().catch(() => undefined);
  }
}

/** A small file (the manifest) by the thread pool: one read when it fits MANIFEST_READ, the whole file otherwise. */
async function readSmall(file: string): Promise<Buffer> {
  const data = await readKnown(file, MANIFEST_READ);
  return data.length <= MANIFEST_READ ? data : fs.readFile(file);
}

/** sha256 of a buffer; a large one in 4 MiB chunks with a turn of the event loop between them. */
async function sha256Of(data: Buffer): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < data.length; at += SYNC_READ_MAX) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    hash.update(data.subarray(at, at + SYNC_READ_MAX));
  }
  return hash.digest('hex');
}

/** A producer's pieces run back to back for at most this long before the event loop gets a turn. */
const YIELD_AFTER_MS = 5;

/**
 * Writes pieces to a new file as they come (a producer's piece is bounded work), hashing
 * and writing them in slices of SYNC_READ_MAX with the event loop served in between, then
 * fsyncs it: a large snapshot never blocks the event loop for long (ADR 0115).
 */
async function writePieces(file: string, pieces: Iterable<Buffer>): Promise<{ sha256: string; bytes: number }> {
  const handle = await fs.open(file, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lastYield = performance.now();
  const flush = async () => {
    await handle.writev(pending);
    pending = [];
    pendingBytes = 0;
    lastYield = performance.now();
  };
  try {
    for (const whole of pieces) {
      for (let at = 0; at < whole.length; at += SYNC_READ_MAX) {
        const piece = whole.length <= SYNC_READ_MAX ? whole : whole.subarray(at, at + SYNC_READ_MAX);
        hash.update(piece);
        bytes += piece.length;
        pending.push(piece);
        pendingBytes += piece.length;
        if (pendingBytes >= SYNC_READ_MAX) await flush();
      }
      if (performance.now() - lastYield > YIELD_AFTER_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    if (pending.length > 0) await flush();
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === 'ENOENT';
}
