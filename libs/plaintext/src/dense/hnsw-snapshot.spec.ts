import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CubeIndex, IndexDocument } from '../cube-index';
import { manifestChecksum, SnapshotManifest } from './hnsw-snapshot';
import { HashEmbedder } from '../embedding/hash.embedder';

const embedder = new HashEmbedder({ dimension: 32 });
const TEXTS = ['learning Portuguese', 'ran a half marathon', 'allergic to shellfish', 'works as a nurse', 'owns a grey cat'];

function docs(): IndexDocument[] {
  return TEXTS.map((text, i) => ({ label: (i + 1) * 10, text, vector: embedder.embedOne(text) }));
}

// These tests exercise the graph files: their indexes keep a graph however small (graphMinDocuments: 0).
describe('dense snapshots (int8 graph and vectors)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'engram-snapshot-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function saved(): Promise<CubeIndex> {
    const index = new CubeIndex({ dimension: 32, graphMinDocuments: 0 });
    index.upsertMany(docs());
    index.remove(50);
    await index.save(dir, { changeSeq: 7, fingerprint: embedder.fingerprint });
    return index;
  }

  it('round-trips the graph with its change sequence', async () => {
    await saved();
    const restored = new CubeIndex({ dimension: 32, graphMinDocuments: 0 });
    const result = await restored.loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', changeSeq: 7, count: 4 });
    // Rows come back from the database without vectors; the vectors file supplies them.
    restored.upsertMany(docs().slice(0, 4).map(({ vector: _vector, ...rest }) => rest));
    const hits = restored.search('half marathon', embedder.embedOne('half marathon'), { topK: 1, ranking: { mode: 'dense' } });
    expect(hits[0].label).toBe(20);
    const removed = restored.search('grey cat', embedder.embedOne('grey cat'), { topK: 10, ranking: { mode: 'dense' } });
    expect(removed.map((h) => h.label)).not.toContain(50);
  });

  it('reports a missing snapshot', async () => {
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(result.status).toBe('missing');
  });

  it('detects a corrupted graph file instead of loading it', async () => {
    await saved();
    const file = path.join(dir, 'graph.bin');
    const bytes = await fs.readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await fs.writeFile(file, bytes);
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(result.status).toBe('corrupt');
    expect(result.reason).toMatch(/checksum/);
  });

  it('detects a truncated graph file', async () => {
    await saved();
    const file = path.join(dir, 'graph.bin');
    await fs.truncate(file, 100);
    expect((await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).status).toBe('corrupt');
  });

  it('detects a graph or vectors file longer than its manifest says (each file is read at the size the manifest gives)', async () => {
    await saved();
    await fs.appendFile(path.join(dir, 'graph.bin'), Buffer.from([1, 2, 3]));
    expect((await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).status).toBe('corrupt');
    await saved();
    await fs.appendFile(path.join(dir, 'vectors.bin'), Buffer.from([0]));
    expect(await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'corrupt', reason: expect.stringContaining('vectors') });
  });

  it('reports a graph file the manifest names but the directory lacks as missing', async () => {
    await saved();
    await fs.rm(path.join(dir, 'graph.bin'));
    expect((await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).status).toBe('missing');
  });

  it('reads a manifest larger than its first read whole (a snapshot with many extra files)', async () => {
    const index = new CubeIndex({ dimension: 32, graphMinDocuments: 0 });
    index.upsertMany(docs());
    const extras = new Map(Array.from({ length: 1500 }, (_, i) => [`extra-${i}.bin`, Buffer.from(`payload ${i}`)] as const));
    await index.save(dir, { changeSeq: 9, fingerprint: embedder.fingerprint }, extras);
    expect((await fs.stat(path.join(dir, 'manifest.json'))).size).toBeGreaterThan(64 << 10);
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).load(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', changeSeq: 9, documents: true, graph: true });
    expect(result.extras?.get('extra-1499.bin')?.toString()).toBe('payload 1499');
    expect(result.extras?.size).toBe(1500 + 3); // the caller's files and the index's own (documents, postings, entities)
  });

  it('detects a garbled manifest', async () => {
    await saved();
    await fs.writeFile(path.join(dir, 'manifest.json'), '{"format": "engram-hnsw/1", "sha');
    expect((await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).status).toBe('corrupt');
  });

  it('detects a manifest damaged so that it still parses (a change sequence grown by one bit, a count changed)', async () => {
    await saved();
    const file = path.join(dir, 'manifest.json');
    const intact = await fs.readFile(file, 'utf8');
    expect(intact).toContain('"changeSeq":7');
    await fs.writeFile(file, intact.replace('"changeSeq":7', '"changeSeq":15')); // '7' ^ 0x06 = '1', then one more digit
    const grown = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(grown).toMatchObject({ status: 'corrupt', reason: 'manifest checksum mismatch' });
    expect(intact).toContain('"count":4');
    await fs.writeFile(file, intact.replace('"count":4', '"count":5'));
    expect((await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).status).toBe('corrupt');
    await fs.writeFile(file, intact);
    expect((await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).status).toBe('loaded');
  });

  it('does not trust a manifest without a checksum of its own (older, or its name damaged): rebuilt', async () => {
    await saved();
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    delete manifest.manifestSha256;
    await fs.writeFile(file, JSON.stringify(manifest));
    expect(await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'mismatch', reason: expect.stringContaining('checksum') });
  });

  it('refuses a snapshot made by another embedder or dimension', async () => {
    await saved();
    const other = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: 'hash:32:v0:other' });
    expect(other.status).toBe('mismatch');
    const wide = await new CubeIndex({ dimension: 64, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(wide.status).toBe('mismatch');
  });

  it('overwrites an older snapshot atomically', async () => {
    const index = await saved();
    index.upsert({ label: 60, text: 'plays the cello', vector: embedder.embedOne('plays the cello') });
    await index.save(dir, { changeSeq: 8, fingerprint: embedder.fingerprint });
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', changeSeq: 8, count: 5 });
    const files = (await fs.readdir(dir)).sort();
    expect(files).toEqual(['documents.bin', 'entities.bin', 'graph.bin', 'lexical.bin', 'manifest.json', 'vectors.bin']); // no temp file left
  });

  it('restores the int8 vectors from the snapshot, with the same scores as before the save', async () => {
    const index = await saved();
    const query = embedder.embedOne('allergic to seafood');
    const before = index.search('allergic to seafood', query, { topK: 4, ranking: { mode: 'dense' }, explain: true });
    const restored = new CubeIndex({ dimension: 32, graphMinDocuments: 0 });
    const result = await restored.loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(result.vectors?.labels.length).toBe(4);
    restored.upsertMany(docs().slice(0, 4).map(({ vector: _vector, ...rest }) => rest));
    const after = restored.search('allergic to seafood', query, { topK: 4, ranking: { mode: 'dense' }, explain: true });
    expect(after.map((h) => [h.label, h.explain!.dense!.similarity])).toEqual(before.map((h) => [h.label, h.explain!.dense!.similarity]));
  });

  it('refuses a snapshot whose vectors file is damaged, graph or not: the graph holds no live vectors', async () => {
    await saved();
    const file = path.join(dir, 'vectors.bin');
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 1] ^= 0x7f;
    await fs.writeFile(file, bytes);
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments: 0 }).loadDense(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'corrupt', reason: expect.stringContaining('vectors') });
  });

  it('loads a snapshot of format 1 (an hnswlib graph in hnsw.bin) without that graph and builds the int8 graph from its vectors', async () => {
    const index = new CubeIndex({ dimension: 32, graphMinDocuments: 3 });
    index.upsertMany(docs());
    await index.save(dir, { changeSeq: 4, fingerprint: embedder.fingerprint });
    // What a save before ADR 0114 left: hnsw.bin (never read again), format 1 with the graph's live labels.
    await fs.rename(path.join(dir, 'graph.bin'), path.join(dir, 'hnsw.bin'));
    await fs.writeFile(path.join(dir, 'hnsw.bin'), 'an hnswlib graph');
    const file = path.join(dir, 'manifest.json');
    const { manifestSha256: _old, ...current } = JSON.parse(await fs.readFile(file, 'utf8')) as SnapshotManifest;
    const legacy: SnapshotManifest = { ...current, format: 'engram-hnsw/1', liveLabels: [10, 20, 30, 40, 50], sha256: 'f'.repeat(64) };
    await fs.writeFile(file, JSON.stringify({ ...legacy, manifestSha256: manifestChecksum(legacy) }));
    const restored = new CubeIndex({ dimension: 32, graphMinDocuments: 3 });
    expect(await restored.load(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'loaded', documents: true, graph: false, changeSeq: 4 });
    await restored.graphReady();
    expect(restored.hasGraph).toBe(true);
    for (const d of docs()) expect(restored.search('', d.vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(d.label);
    await restored.save(dir, { changeSeq: 5, fingerprint: embedder.fingerprint });
    expect((await fs.readdir(dir)).sort()).toEqual(['documents.bin', 'entities.bin', 'graph.bin', 'lexical.bin', 'manifest.json', 'vectors.bin']);
  });

  it('refuses to load into an index that already holds documents', async () => {
    await saved();
    const index = new CubeIndex({ dimension: 32, graphMinDocuments: 0 });
    index.upsert(docs()[0]);
    await expect(index.loadDense(dir, { fingerprint: embedder.fingerprint })).rejects.toThrow(/empty/);
  });
});
