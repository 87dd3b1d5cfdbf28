import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CubeIndex, IndexDocument } from './cube-index';
import { HashEmbedder } from './embedding/hash.embedder';

const embedder = new HashEmbedder({ dimension: 64 });
const WORDS = ['harbour', 'lamp', 'ferry', 'bakery', 'violin', 'garden', 'winter', 'letter', 'market', 'river', 'tower', 'orchard', 'salt', 'bridge'];

function doc(i: number): IndexDocument {
  const text = `${WORDS[i % WORDS.length]} ${WORDS[(i * 5 + 3) % WORDS.length]} ${WORDS[(i * 11 + 7) % WORDS.length]} note ${i}`;
  return { label: 1000 + i, text, vector: embedder.embedOne(text) };
}

/** The label whose vector is nearest to the query by exact float cosine. */
function nearest(docs: IndexDocument[], query: Float32Array): number {
  let best = -Infinity;
  let label = -1;
  for (const d of docs) {
    let dot = 0;
    for (let i = 0; i < query.length; i++) dot += query[i] * d.vector![i];
    if (dot > best) [best, label] = [dot, d.label];
  }
  return label;
}

describe('CubeIndex without a graph while small (ADR 0112)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'engram-cube-graph-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps no graph up to graphMinDocuments and finds the exact nearest document by vector', () => {
    const docs = Array.from({ length: 200 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 200 });
    index.upsertMany(docs);
    expect(index.hasGraph).toBe(false);
    for (const i of [0, 17, 99, 150]) {
      const query = embedder.embedOne(`${docs[i].text} please`);
      const [top] = index.search('', query, { topK: 1, ranking: { mode: 'dense' } });
      expect(top.label).toBe(nearest(docs, query));
    }
  });

  it('builds the graph from its vectors in the background when it grows past graphMinDocuments, finding every document meanwhile and after', async () => {
    const docs = Array.from({ length: 400 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 100 });
    index.upsertMany(docs.slice(0, 100));
    expect(index.hasGraph).toBe(false);
    index.upsertMany(docs.slice(100));
    // While the build runs (or once it is done) every document is found by its vector.
    for (const d of [docs[3], docs[50], docs[390]]) {
      expect(index.search('', d.vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(d.label);
    }
    await index.graphReady();
    expect(index.hasGraph).toBe(true);
    index.remove(docs[5].label);
    for (const d of [docs[3], docs[50], docs[110]]) {
      expect(index.search('', d.vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(d.label);
    }
    expect(index.search('', docs[5].vector!, { topK: 120, ranking: { mode: 'dense' } }).map((h) => h.label)).not.toContain(docs[5].label);
  });

  it('links a batch written in one turn by a catch-up build, and finds its documents before they are linked', async () => {
    const docs = Array.from({ length: 1500 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 0 });
    index.upsertMany(docs); // more than one turn's budget of synchronous inserts
    for (const d of [docs[0], docs[700], docs[1499]]) {
      expect(index.search('', d.vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(d.label);
    }
    await index.graphReady();
    for (const d of [docs[1], docs[701], docs[1498]]) {
      expect(index.search('', d.vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(d.label);
    }
  });

  it('rebuilds its graph without tombstones once they pass a quarter of it, and keeps finding the live documents', async () => {
    const docs = Array.from({ length: 3000 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 0 });
    index.upsertMany(docs);
    await index.graphReady();
    for (let i = 0; i < 1100; i++) index.remove(docs[i].label);
    expect(index.deletedRatio).toBeGreaterThan(0.25);
    await index.graphReady();
    // Removals made after the rebuild started leave the few tombstones the new graph has.
    expect(index.deletedRatio).toBeLessThan(0.1);
    for (const d of [docs[1100], docs[2000], docs[2999]]) {
      expect(index.search('', d.vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(d.label);
    }
    expect(index.search('', docs[10].vector!, { topK: 50, ranking: { mode: 'dense' } }).map((h) => h.label)).not.toContain(docs[10].label);
  });

  it('writes no graph file while small, loads to the same answers, and refuses a load whose vectors file is damaged', async () => {
    const docs = Array.from({ length: 80 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64 });
    index.upsertMany(docs);
    await index.save(dir, { changeSeq: 9, fingerprint: embedder.fingerprint });
    expect((await fs.readdir(dir)).sort()).toEqual(['documents.bin', 'entities.bin', 'lexical.bin', 'manifest.json', 'vectors.bin']);
    const restored = new CubeIndex({ dimension: 64 });
    expect(await restored.load(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'loaded', documents: true, graph: false });
    for (const q of ['harbour lamp', 'violin winter letter', 'salt bridge']) {
      const v = embedder.embedOne(q);
      expect(restored.search(q, v, { topK: 10, explain: true })).toEqual(index.search(q, v, { topK: 10, explain: true }));
    }
    const file = path.join(dir, 'vectors.bin');
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 3] ^= 0x21;
    await fs.writeFile(file, bytes);
    expect(await new CubeIndex({ dimension: 64 }).load(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'corrupt' });
  });

  it('starts no graph build once closed (a dropped index), and still answers exactly', async () => {
    const docs = Array.from({ length: 300 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 100 });
    index.close();
    index.upsertMany(docs);
    await index.graphReady();
    await new Promise((resolve) => setImmediate(resolve));
    expect(index.hasGraph).toBe(false);
    expect(index.search('', docs[250].vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(docs[250].label);
  });

  it('waits, when saved while its first graph is being built, for that graph', async () => {
    const docs = Array.from({ length: 600 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 100 });
    index.upsertMany(docs);
    await index.save(dir, { changeSeq: 1, fingerprint: embedder.fingerprint });
    expect(await fs.readdir(dir)).toContain('graph.bin');
    const restored = new CubeIndex({ dimension: 64, graphMinDocuments: 100 });
    expect(await restored.load(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'loaded', graph: true });
    expect(restored.search('', docs[444].vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(docs[444].label);
  });

  it('saves and loads the graph once it has one', async () => {
    const docs = Array.from({ length: 60 }, (_, i) => doc(i));
    const index = new CubeIndex({ dimension: 64, graphMinDocuments: 40 });
    index.upsertMany(docs);
    await index.graphReady();
    index.remove(docs[7].label); // a tombstone, saved with its vector so the graph still routes through it
    index.upsert({ ...docs[8], text: `${docs[8].text} again`, vector: undefined }); // a new slot, the same vector
    await index.save(dir, { changeSeq: 3, fingerprint: embedder.fingerprint });
    expect(await fs.readdir(dir)).toContain('graph.bin');
    const restored = new CubeIndex({ dimension: 64, graphMinDocuments: 40 });
    expect(await restored.load(dir, { fingerprint: embedder.fingerprint })).toMatchObject({ status: 'loaded', documents: true, graph: true });
    expect(restored.hasGraph).toBe(true);
    expect(restored.search('', docs[33].vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(docs[33].label);
    expect(restored.search('', docs[8].vector!, { topK: 1, ranking: { mode: 'dense' } })[0].label).toBe(docs[8].label);
    expect(restored.search('', docs[7].vector!, { topK: 59, ranking: { mode: 'dense' } }).map((h) => h.label)).not.toContain(docs[7].label);
    for (const q of ['harbour lamp', 'violin winter letter']) {
      const v = embedder.embedOne(q);
      expect(restored.search(q, v, { topK: 10, explain: true })).toEqual(index.search(q, v, { topK: 10, explain: true }));
    }
  });
});
