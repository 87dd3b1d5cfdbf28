import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CubeIndex, IndexDocument } from './cube-index';
import { HashEmbedder } from './embedding/hash.embedder';
import { manifestChecksum, SnapshotManifest } from './dense/hnsw-snapshot';

const embedder = new HashEmbedder({ dimension: 32 });
const WORDS = ['trip', 'Lisbon', 'sister', 'budget', 'marathon', 'cat', 'nurse', 'shellfish', 'Portuguese', 'hotel', 'train', 'night'];

function corpus(n: number): IndexDocument[] {
  return Array.from({ length: n }, (_, i) => {
    const text = Array.from({ length: 6 }, (_, j) => WORDS[(i * 7 + j * 5 + (i % 3)) % WORDS.length]).join(' ');
    return {
      label: i + 1,
      text,
      vector: embedder.embedOne(text),
      kind: i % 4 === 0 ? 'fact' : 'message',
      role: i % 2 === 0 ? 'user' : 'assistant',
      tags: [`t${i % 3}`],
      metadata: { n: i % 5 },
      sessionId: `s${Math.floor(i / 6)}`,
      position: i % 6,
      observedAt: Date.UTC(2025, 0, 1) + i * 3_600_000,
      importance: (i % 10) / 10,
      state: i % 17 === 0 ? 'archived' : 'active',
    };
  });
}

const QUERIES = ['trip to Lisbon with my sister', 'marathon budget', 'what did you suggest for the hotel?', 'the latest train at night'];

function everything(index: CubeIndex): unknown[] {
  const out: unknown[] = [];
  for (const q of QUERIES) {
    const v = embedder.embedOne(q);
    out.push(index.search(q, v, { topK: 20, explain: true }));
    out.push(index.search(q, v, { topK: 20, explain: true, deep: true }));
    out.push(index.search(q, v, { topK: 10, filter: { tagsAny: ['t1'], kinds: ['message'] } }));
    out.push(index.search(q, v, { topK: 10, filter: { states: [] , sessionIds: ['s2', 's3'] } }));
    out.push(index.search(q, null, { topK: 10, ranking: { mode: 'lexical', sessionScoring: 'sum' } }));
  }
  return out;
}

// Small indexes keep no graph (exact dense search over the int8 vectors); both forms must restore exactly.
describe.each([
  ['without a graph', undefined],
  ['with a graph', 0],
])('CubeIndex load() (%s)', (_form, graphMinDocuments) => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'engram-cube-index-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  function churned(): CubeIndex {
    const index = new CubeIndex({ dimension: 32, graphMinDocuments });
    const docs = corpus(120);
    index.upsertMany(docs);
    for (let label = 3; label <= 120; label += 11) index.remove(label);
    index.upsert({ ...docs[9], text: 'moved the marathon to Lisbon', vector: embedder.embedOne('moved the marathon to Lisbon') });
    index.upsert({ label: 500, text: 'a note without a vector about the hotel', sessionId: 's1', position: 9 });
    return index;
  }

  it('restores documents and postings so that every search answers as before, without re-adding a row', async () => {
    const index = churned();
    await index.save(dir, { changeSeq: 42, fingerprint: embedder.fingerprint });
    const restored = new CubeIndex({ dimension: 32, graphMinDocuments });
    const result = await restored.load(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', changeSeq: 42, documents: true });
    expect(restored.size).toBe(index.size);
    expect(everything(restored)).toEqual(everything(index));
  });

  it('keeps taking changes after a load', async () => {
    const index = churned();
    await index.save(dir, { changeSeq: 42, fingerprint: embedder.fingerprint });
    const restored = new CubeIndex({ dimension: 32, graphMinDocuments });
    await restored.load(dir, { fingerprint: embedder.fingerprint });
    for (const i of [index, restored]) {
      i.remove(20);
      i.upsert({ label: 600, text: 'Lisbon sister trip again', vector: embedder.embedOne('Lisbon sister trip again'), sessionId: 's3', position: 7 });
      i.upsert({ label: 21, text: 'shellfish nurse', vector: embedder.embedOne('shellfish nurse') });
    }
    expect(everything(restored)).toEqual(everything(index));
  });

  it('falls back to the graph alone when the document file is damaged', async () => {
    await churned().save(dir, { changeSeq: 42, fingerprint: embedder.fingerprint });
    const file = path.join(dir, 'lexical.bin');
    const bytes = await fs.readFile(file);
    bytes[bytes.length >> 1] ^= 0x55;
    await fs.writeFile(file, bytes);
    const restored = new CubeIndex({ dimension: 32, graphMinDocuments });
    const result = await restored.load(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', documents: false });
    expect(restored.size).toBe(0);
  });

  it('replays the rows of a snapshot written before the entity index', async () => {
    await churned().save(dir, { changeSeq: 42, fingerprint: embedder.fingerprint });
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { extras: Record<string, unknown> } & Record<string, unknown>;
    delete manifest.extras['entities.bin'];
    delete manifest.manifestSha256;
    await fs.writeFile(manifestFile, JSON.stringify({ ...manifest, manifestSha256: manifestChecksum(manifest as unknown as SnapshotManifest) }));
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments }).load(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', documents: false });
  });

  it('loads a snapshot written before documents were saved as a graph only', async () => {
    const index = churned();
    await index.save(dir, { changeSeq: 42, fingerprint: embedder.fingerprint });
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as Record<string, unknown>;
    delete manifest.extras;
    delete manifest.manifestSha256;
    await fs.writeFile(manifestFile, JSON.stringify({ ...manifest, manifestSha256: manifestChecksum(manifest as unknown as SnapshotManifest) }));
    const result = await new CubeIndex({ dimension: 32, graphMinDocuments }).load(dir, { fingerprint: embedder.fingerprint });
    expect(result).toMatchObject({ status: 'loaded', documents: false });
  });
});
