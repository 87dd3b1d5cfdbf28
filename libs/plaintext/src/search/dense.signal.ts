// The dense signal: cosine similarity of the query vector to the documents' vectors,
// proposed by the int8 HNSW graph (ADR 0114; or an exact int8 scan when a filter admits few
// documents, or when the index is small enough to keep no graph: ADR 0112) and scored for
// every candidate from the int8 copies.
import { DenseGraph } from '../dense/dense-graph';
import { QuantizedVectorStore } from '../dense/quantized-vector.store';
import { RankingOptions } from '../ranking/ranking-options';
import { TopK } from '../ranking/top-k';
import { DocumentStore } from '../store/document-store';
import { Candidate, CandidatePool } from './candidate';
import { CandidateSignal, denseWeightOf } from './candidate-signal';
import { SearchQuery } from './search-query';

/**
 * A filtered dense search scans the admitted documents exactly (int8 dot products) when
 * there are at most this many of them; above, the HNSW walk with the filter finds enough
 * admitted neighbours without exploring most of the graph.
 */
const EXACT_FILTER_MAX = 8192;
const admitAll = (): boolean => true;
/** The normalised dense score spans at least this cosine range (see normaliser). */
const MIN_DENSE_SPAN = 0.2;

export class DenseSignal implements CandidateSignal {
  readonly name = 'dense';

  constructor(
    /** Its current graph is null while the index keeps none (a small cube): every dense search is then exact. */
    private readonly graph: DenseGraph,
    private readonly vectors: QuantizedVectorStore,
    private readonly store: DocumentStore,
  ) {}

  enabled(q: SearchQuery): boolean {
    return q.ranking.mode !== 'lexical' && q.vector !== null;
  }

  propose(q: SearchQuery, pool: CandidatePool): void {
    if (q.denseProposals) {
      q.denseProposals.forEach((slot, rank) => (pool.get(slot).signals.dense = { score: 0, rank: rank + 1 }));
      return;
    }
    this.nearest(q.vector!, q.pool, q.restricts ? q.admits : null, q.base?.slots ?? null).forEach((hit, rank) => {
      pool.get(hit.slot).signals.dense = { score: 0, rank: rank + 1 };
    });
  }

  complete(q: SearchQuery, candidates: readonly Candidate[]): void {
    for (const c of candidates) {
      c.signals.dense = this.vectors.has(c.slot)
        ? { score: this.vectors.dot(c.slot, q.vector!), rank: c.signals.dense?.rank ?? null }
        : { score: 0, rank: null, missing: true };
    }
  }

  weight(r: RankingOptions): number {
    return denseWeightOf(r);
  }

  /**
   * Min–max over the candidates, but never over a span narrower than MIN_DENSE_SPAN: with
   * few candidates a cosine gap of 0.01 must not turn into the whole 0..1 range. Scaled by
   * the role weight (the lexical score carries it already).
   */
  normaliser(q: SearchQuery, candidates: readonly Candidate[]): (c: Candidate) => number {
    if (!this.enabled(q)) return () => 0;
    let max = -Infinity;
    let min = Infinity;
    for (const c of candidates) {
      if (c.signals.dense.missing) continue; // no cosine: it must not stretch the others' scale
      const s = c.signals.dense.score;
      if (s > max) max = s;
      if (s < min) min = s;
    }
    const span = Math.max(max - min, MIN_DENSE_SPAN);
    return (c) => (c.signals.dense.missing ? 0 : ((c.signals.dense.score - min) / span) * q.roleWeight(c.slot));
  }

  /**
   * Nearest admitted documents by the dense vector. Unfiltered: the HNSW graph. Filtered:
   * exact over the documents of the named sessions/kinds/roles/tags when they are few, or
   * over everything when a sample says the filter admits few documents; otherwise the
   * graph walk with the filter (and exact when it comes short).
   */
  private nearest(
    vector: ArrayLike<number>,
    k: number,
    admits: ((slot: number) => boolean) | null,
    base: readonly number[] | null,
  ): { slot: number; similarity: number }[] {
    const slotByLabel = this.store.slotByLabel;
    const efSearch = this.graph.params.efSearch;
    if (this.graph.current === null) return this.exact(vector, k, base ?? slotByLabel.values(), admits ?? admitAll);
    if (admits === null) return this.graph.search(vector, k, efSearch, null)!;
    if (base !== null && base.length <= EXACT_FILTER_MAX) return this.exact(vector, k, base, admits);
    const share = this.store.admittedShare(admits);
    if (share * this.store.size <= EXACT_FILTER_MAX) return this.exact(vector, k, base ?? slotByLabel.values(), admits);
    const ef = Math.min(1000, Math.ceil(Math.max(efSearch, k) / share));
    const hits = this.graph.search(vector, k, ef, admits)!;
    if (hits.length >= k) return hits;
    return this.exact(vector, k, slotByLabel.values(), admits);
  }

  private exact(
    vector: ArrayLike<number>,
    k: number,
    slots: Iterable<number>,
    admits: (slot: number) => boolean,
  ): { slot: number; similarity: number }[] {
    const best = new TopK(k);
    for (const slot of slots) {
      if (!this.vectors.has(slot) || !admits(slot)) continue;
      best.push(slot, this.vectors.dot(slot, vector));
    }
    return best.sorted().map((slot) => ({ slot, similarity: this.vectors.dot(slot, vector) }));
  }
}
