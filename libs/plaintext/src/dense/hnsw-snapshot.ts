// Saving and loading the HNSW graph of a cube. The graph file is written to a temp name,
// fsynced and renamed; a manifest written the same way last names its sha256, the change
// sequence it reflects, the embedder fingerprint and the parameters. Loading checks all of
// that *before* handing the file to hnswlib (which trusts its input), so a missing, stale,
// foreign or corrupt snapshot is reported as such and the caller rebuilds from PostgreSQL.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { HnswVectorIndex } from './hnsw-vector.index';

export const SNAPSHOT_FORMAT = 'engram-hnsw/1';
const GRAPH_FILE = 'hnsw.bin';
const MANIFEST_FILE = 'manifest.json';

export interface SnapshotMeta {
  /** The change sequence of the last change the graph includes. */
  readonly changeSeq: number;
  readonly fingerprint: string;
}

export interface SnapshotManifest extends SnapshotMeta {
  readonly format: string;
  readonly dimension: number;
  readonly m: number;
  readonly efConstruction: number;
  readonly count: number;
  readonly sha256: string;
  readonly bytes: number;
  readonly liveLabels: number[];
  readonly savedAt: string;
}

export type LoadStatus = 'loaded' | 'missing' | 'corrupt' | 'mismatch';

export interface LoadResult {
  readonly status: LoadStatus;
  /** Change sequence the loaded graph reflects: replay changes after it. */
  readonly changeSeq?: number;
  readonly count?: number;
  /** Why the snapshot was not used. */
  readonly reason?: string;
}

export async function saveSnapshot(index: HnswVectorIndex, dir: string, meta: SnapshotMeta): Promise<SnapshotManifest> {
  await fs.mkdir(dir, { recursive: true });
  const tmpGraph = path.join(dir, `${GRAPH_FILE}.${process.pid}.tmp`);
  index.writeTo(tmpGraph);
  await fsyncFile(tmpGraph);
  const { sha256, bytes } = await digest(tmpGraph);
  const liveLabels = index.liveLabels();
  const manifest: SnapshotManifest = {
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
  };
  // The old manifest must never point at the new graph: drop it, swap the graph, then
  // publish the new manifest.
  await fs.rm(path.join(dir, MANIFEST_FILE), { force: true });
  await fs.rename(tmpGraph, path.join(dir, GRAPH_FILE));
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
    manifest = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as SnapshotManifest;
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing', reason: 'no manifest' };
    return { status: 'corrupt', reason: `unreadable manifest: ${(error as Error).message}` };
  }
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
  return { status: 'loaded', changeSeq: manifest.changeSeq, count: manifest.count };
}

async function digest(file: string): Promise<{ sha256: string; bytes: number }> {
  const data = await fs.readFile(file);
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
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
