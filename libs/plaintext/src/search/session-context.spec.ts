import { mulberry32 } from '@engram/inference';
import { CubeIndex, IndexDocument } from '../cube-index';
import { HashEmbedder } from '../embedding/hash.embedder';

const embedder = new HashEmbedder({ dimension: 64 });
const WORDS = ['harbour', 'orchard', 'lantern', 'violin', 'glacier', 'meadow', 'copper', 'thistle', 'falcon', 'ember', 'quarry', 'saddle', 'beacon', 'walnut', 'cinder', 'marble'];

/** 12 sessions of 5 turns, a few of them without a session; every query term is in several sessions. */
function documents(seed: number): IndexDocument[] {
  const random = mulberry32(seed);
  const docs: IndexDocument[] = [];
  for (let label = 1; label <= 64; label++) {
    const text = Array.from({ length: 4 + Math.floor(random() * 8) }, () => WORDS[Math.floor(random() * random() * WORDS.length)]).join(' ');
    const session = label <= 60 ? `s${Math.floor((label - 1) / 5)}` : undefined;
    docs.push({ label, text, vector: embedder.embedOne(text), ...(session ? { sessionId: session } : {}) });
  }
  return docs;
}

describe('session context of large cubes (candidates\' sessions only, ADR 0125)', () => {
  it('ranks as the every-session score does when every session holds a candidate', () => {
    let differsWithoutContext = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const docs = documents(seed);
      const every = new CubeIndex({ dimension: 64 });
      const candidatesOnly = new CubeIndex({ dimension: 64, sessionWalkLimit: 0 });
      every.upsertMany(docs);
      candidatesOnly.upsertMany(docs);
      const random = mulberry32(seed + 100);
      for (let q = 0; q < 20; q++) {
        const query = Array.from({ length: 1 + Math.floor(random() * 4) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
        const vector = embedder.embedOne(query);
        // The pool takes in every document of so small a cube: each session has a candidate.
        const a = every.search(query, vector, { topK: 64 }).map((h) => [h.label, h.score]);
        const b = candidatesOnly.search(query, vector, { topK: 64 }).map((h) => [h.label, h.score]);
        expect(b).toEqual(a);
        const noContext = every.search(query, vector, { topK: 64, ranking: { contextWeight: 0 } }).map((h) => [h.label, h.score]);
        if (JSON.stringify(noContext) !== JSON.stringify(a)) differsWithoutContext++;
      }
    }
    // The session score takes part in these rankings (the comparison above is not vacuous).
    expect(differsWithoutContext).toBeGreaterThan(60);
  });
});
