// Saving and loading the HNSW graph of a cube. The graph file is written to a temp name,
// fsynced and renamed; a manifest written the same way last names its sha256, the change
// sequence it reflects, the embedder fingerprint and the parameters. Loading checks all of
// that *before* handing the file to hnswlib (which trusts its input), so a missing, stale,
// foreign or corrupt snapshot is reported as such and the caller rebuilds from PostgreSQL.
// The manifest carries a checksum of its own (`manifestSha256`): a flipped bit that still
// parses (a change sequence that grew, a label that changed) is caught, not trusted.
// Beside the graph, `vectors.bin` keeps the int8 copy of every live vector (labels, scales,
// codes; its own sha256 in the manifest) so that a load does not read each vector back
// out of hnswlib and quantise it again; a snapshot without it, or with a damaged one, still
// loads and the vectors come from the graph. A caller may add files of its own (extras:
// the cube index writes its documents and BM25 postings, so a load rebuilds nothing); each
// is checksummed in the manifest and returned only when intact.
// A small cube's index keeps no graph (ADR 0112): its snapshot has no graph file
// (`sha256: null`) and its vectors file is then the only copy of the vectors, so a load
// without an intact one is refused as corrupt and the caller rebuilds.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { HnswVectorIndex } from './hnsw-vector.index';

export const SNAPSHOT_FORMAT = 'engram-hnsw/1';
const GRAPH_FILE = 'hnsw.bin';
const VECTORS_FILE = 'vectors.bin';
const MANIFEST_FILE = 'manifest.json';

export interface SnapshotMeta {
  /** The change sequence of the last change the graph includes. */
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
  readonly count: number;
  /** sha256 of the graph file; null when the index kept no graph (a small cube: exact search over the vectors file). */
  readonly sha256: string | null;
  readonly bytes: number;
  readonly liveLabels: number[];
  readonly savedAt: string;
  /** The vectors file, when one was written. */
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
  /** Change sequence the loaded graph reflects: replay changes after it. */
  readonly changeSeq?: number;
  readonly count?: number;
  /** Why the snapshot was not used. */
  readonly reason?: string;
  /** The saved int8 vectors, when present and intact. */
  readonly vectors?: SnapshotVectors;
  /** The extra files saved with the graph that are present and intact, by name. */
  readonly extras?: ReadonlyMap<string, Buffer>;
  /** Whether a graph was loaded (false: the snapshot holds none, the vectors are everything). */
  readonly graph?: boolean;
}

export async function saveSnapshot(
  index: HnswVectorIndex,
  dir: string,
  meta: SnapshotMeta,
  vectors?: SnapshotVectors,
  extras: ReadonlyMap<string, Buffer> = new Map(),
  withGraph = true,
): Promise<SnapshotManifest> {
  await fs.mkdir(dir, { recursive: true });
  const tmpGraph = path.join(dir, `${GRAPH_FILE}.${process.pid}.tmp`);
  let sha256: string | null = null;
  let bytes = 0;
  if (withGraph) {
    index.writeTo(tmpGraph);
    await fsyncFile(tmpGraph);
    ({ sha256, bytes } = await digest(tmpGraph));
  } else if (!vectors) {
    throw new Error('a snapshot without a graph needs the vectors');
  }
  let vectorsEntry: SnapshotManifest['vectors'];
  const tmpVectors = path.join(dir, `${VECTORS_FILE}.${process.pid}.tmp`);
  if (vectors) {
    const data = encodeVectors(vectors);
    await fs.writeFile(tmpVectors, data);
    await fsyncFile(tmpVectors);
    vectorsEntry = { count: vectors.labels.length, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
  }
  const extrasEntry: Record<string, { sha256: string; bytes: number }> = {};
  for (const [name, data] of extras) {
    if (!/^[a-z][a-z0-9-]*\.[a-z]+$/.test(name) || [GRAPH_FILE, VECTORS_FILE, MANIFEST_FILE].includes(name)) throw new Error(`bad snapshot extra name ${name}`);
    const tmp = path.join(dir, `${name}.${process.pid}.tmp`);
    await fs.writeFile(tmp, data);
    await fsyncFile(tmp);
    extrasEntry[name] = { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
  }
  const liveLabels = withGraph ? index.liveLabels() : Array.from(vectors!.labels);
  const unsealed: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    dimension: index.dimension,
    m: index.params.m,
    efConstruction: index.params.efConstruction,
    count: liveLabels.length,
    sha256,
    bytes,
    liveLabels,
    changeSeq: meta.changeSeq,
    fingerprint: meta.fingerprint,
    savedAt: new Date().toISOString(),
    ...(vectorsEntry ? { vectors: vectorsEntry } : {}),
    ...(extras.size > 0 ? { extras: extrasEntry } : {}),
  };
  const manifest: SnapshotManifest = { ...unsealed, manifestSha256: manifestChecksum(unsealed) };
  // The old manifest must never point at the new graph: drop it, swap the graph, then
  // publish the new manifest.
  await fs.rm(path.join(dir, MANIFEST_FILE), { force: true });
  if (withGraph) await fs.rename(tmpGraph, path.join(dir, GRAPH_FILE));
  else await fs.rm(path.join(dir, GRAPH_FILE), { force: true });
  if (vectorsEntry) await fs.rename(tmpVectors, path.join(dir, VECTORS_FILE));
  else await fs.rm(path.join(dir, VECTORS_FILE), { force: true });
  for (const name of extras.keys()) await fs.rename(path.join(dir, `${name}.${process.pid}.tmp`), path.join(dir, name));
  const tmpManifest = path.join(dir, `${MANIFEST_FILE}.${process.pid}.tmp`);
  await fs.writeFile(tmpManifest, JSON.stringify(manifest));
  await fsyncFile(tmpManifest);
  await fs.rename(tmpManifest, path.join(dir, MANIFEST_FILE));
  return manifest;
}

export async function loadSnapshot(
  index: HnswVectorIndex,
  dir: string,
  expected: { readonly fingerprint: string },
): Promise<LoadResult> {
  let manifest: SnapshotManifest;
  try {
    manifest = JSON.parse((await readFile(path.join(dir, MANIFEST_FILE))).toString('utf8')) as SnapshotManifest;
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing', reason: 'no manifest' };
    return { status: 'corrupt', reason: `unreadable manifest: ${(error as Error).message}` };
  }
  if (typeof manifest !== 'object' || manifest === null) return { status: 'corrupt', reason: 'manifest is not a JSON object' };
  // Without its checksum: written before manifests carried one, or its name was damaged.
  if (typeof manifest.manifestSha256 !== 'string') return { status: 'mismatch', reason: 'manifest without a checksum of its own' };
  if (manifestChecksum(manifest) !== manifest.manifestSha256) return { status: 'corrupt', reason: 'manifest checksum mismatch' };
  if (manifest.format !== SNAPSHOT_FORMAT) return { status: 'mismatch', reason: `format ${String(manifest.format)}` };
  if (manifest.fingerprint !== expected.fingerprint) {
    return { status: 'mismatch', reason: `embedder ${manifest.fingerprint}, expected ${expected.fingerprint}` };
  }
  if (manifest.dimension !== index.dimension) {
    return { status: 'mismatch', reason: `dimension ${manifest.dimension}, expected ${index.dimension}` };
  }
  if (!Array.isArray(manifest.liveLabels) || typeof manifest.changeSeq !== 'number') {
    return { status: 'corrupt', reason: 'manifest lacks labels or change sequence' };
  }
  if (manifest.sha256 === null) {
    // No graph: the vectors file is the only copy of the vectors.
    const vectors = await readVectors(dir, manifest);
    if (!vectors) return { status: 'corrupt', reason: 'no graph and no intact vectors file' };
    return { status: 'loaded', changeSeq: manifest.changeSeq, count: vectors.labels.length, vectors, extras: await readExtras(dir, manifest), graph: false };
  }
  const graph = path.join(dir, GRAPH_FILE);
  let actual: { sha256: string; bytes: number };
  try {
    actual = await digest(graph);
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing', reason: 'manifest without graph file' };
    throw error;
  }
  if (actual.bytes !== manifest.bytes || actual.sha256 !== manifest.sha256) {
    return { status: 'corrupt', reason: `checksum mismatch (${actual.bytes} bytes, sha256 ${actual.sha256.slice(0, 12)}…)` };
  }
  try {
    index.readFrom(graph, new Set(manifest.liveLabels), manifest.count);
  } catch (error) {
    return { status: 'corrupt', reason: `hnswlib refused the graph: ${(error as Error).message}` };
  }
  return { status: 'loaded', changeSeq: manifest.changeSeq, count: manifest.count, vectors: await readVectors(dir, manifest), extras: await readExtras(dir, manifest), graph: true };
}

function encodeVectors(v: SnapshotVectors): Buffer {
  const n = v.labels.length;
  const out = Buffer.alloc(4 + 8 * n + 4 * n + v.codes.length);
  out.writeUInt32LE(n, 0);
  Buffer.from(v.labels.buffer, v.labels.byteOffset, 8 * n).copy(out, 4);
  Buffer.from(v.scales.buffer, v.scales.byteOffset, 4 * n).copy(out, 4 + 8 * n);
  Buffer.from(v.codes.buffer, v.codes.byteOffset, v.codes.length).copy(out, 4 + 12 * n);
  return out;
}

/** The vectors file when the manifest names it and it is intact; undefined otherwise. */
async function readVectors(dir: string, manifest: SnapshotManifest): Promise<SnapshotVectors | undefined> {
  const entry = manifest.vectors;
  if (!entry) return undefined;
  let data: Buffer;
  try {
    data = await readFile(path.join(dir, VECTORS_FILE));
  } catch {
    return undefined;
  }
  if (data.length !== entry.bytes || createHash('sha256').update(data).digest('hex') !== entry.sha256) return undefined;
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
async function readExtras(dir: string, manifest: SnapshotManifest): Promise<ReadonlyMap<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(manifest.extras ?? {})) {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) continue;
    let data: Buffer;
    try {
      data = await readFile(path.join(dir, name));
    } catch {
      continue;
    }
    if (data.length === entry.bytes && createHash('sha256').update(data).digest('hex') === entry.sha256) out.set(name, data);
  }
  return out;
}

/**
 * Files up to this size are read (and hashed) in one synchronous call: a small cube's
 * snapshot loads without a round trip through the thread pool per file, which under load
 * costs more than the read itself; larger ones are read in chunks so a large graph never
 * blocks the event loop for long.
 */
const SYNC_READ_MAX = 4 << 20;

async function readFile(file: string): Promise<Buffer> {
  return statSync(file).size <= SYNC_READ_MAX ? readFileSync(file) : fs.readFile(file);
}

/** sha256 and size of a file. */
async function digest(file: string): Promise<{ sha256: string; bytes: number }> {
  if (statSync(file).size <= SYNC_READ_MAX) {
    const data = readFileSync(file);
    return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
  }
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
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
