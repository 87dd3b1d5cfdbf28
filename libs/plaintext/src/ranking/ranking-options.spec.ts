import { CubeIndex } from '../cube-index';
import { HashEmbedder } from '../embedding/hash.embedder';
import { ScoreExplanation } from '../search/explain';
import { DEFAULT_RANKING, rankingFor, SEMANTIC_DENSE_WEIGHT } from './ranking-options';

/** The weighted fusion recomputed from the explanations of every document of a search. */
function fusedAt(weight: number, explains: readonly ScoreExplanation[]): number[] {
  const dense = explains.map((e) => e.dense!.similarity!);
  const lexical = explains.map((e) => e.lexical!.bm25);
  const min = Math.min(...dense);
  const span = Math.max(Math.max(...dense) - min, 0.2);
  const maxLexical = Math.max(...lexical);
  return explains.map((_, i) => weight * ((dense[i] - min) / span) + (1 - weight) * (maxLexical > 0 ? lexical[i] / maxLexical : 0));
}

describe('the dense weight an embedder brings', () => {
  it('is the hash-tuned default for the hash embedder, and nothing for an embedder that declares none', () => {
    expect(rankingFor(new HashEmbedder({ dimension: 32 }))).toEqual({ denseWeight: DEFAULT_RANKING.denseWeight });
    expect(rankingFor({})).toEqual({});
    expect(rankingFor({ denseWeight: SEMANTIC_DENSE_WEIGHT })).toEqual({ denseWeight: SEMANTIC_DENSE_WEIGHT });
  });

  it('sets the share of the dense score in the fused score of a search', () => {
    const embedder = new HashEmbedder({ dimension: 64 });
    const index = new CubeIndex({ dimension: 64 });
    const texts = ['I adopted a beagle puppy last spring', 'the puppy chewed my running shoes', 'my sister lives in Lisbon', 'we hiked in the Alps in July'];
    texts.forEach((text, i) => index.upsert({ label: i + 1, text, vector: embedder.embedOne(text) }));
    const query = 'what did the puppy chew';
    const explainsAt = (weight: number) =>
      index.search(query, embedder.embedOne(query), { topK: 10, explain: true, ranking: rankingFor({ denseWeight: weight }) }).map((h) => h.explain!);
    for (const weight of [DEFAULT_RANKING.denseWeight, SEMANTIC_DENSE_WEIGHT]) {
      const explains = explainsAt(weight);
      expect(explains).toHaveLength(texts.length);
      const expected = fusedAt(weight, explains);
      explains.forEach((e, i) => expect(e.fusion.document).toBeCloseTo(expected[i], 9));
    }
    const semantic = explainsAt(SEMANTIC_DENSE_WEIGHT);
    expect(semantic.some((e, i) => Math.abs(e.fusion.document - fusedAt(DEFAULT_RANKING.denseWeight, semantic)[i]) > 1e-3)).toBe(true);
  });
});
