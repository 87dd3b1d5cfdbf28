// A signal proposes candidates and scores every candidate of a search; the fusion blends
// the signals' scores. Adding one is a file implementing this interface and a line in the
// cube index's list of signals.
import { RankingOptions } from '../ranking/ranking-options';
import { Candidate, CandidatePool } from './candidate';
import { SearchQuery } from './search-query';

export interface CandidateSignal {
  /** Key of its score in Candidate.signals and in the explanation. */
  readonly name: string;
  /** Whether it runs for this query (retrieval mode, a query vector). */
  enabled(q: SearchQuery): boolean;
  /** Adds its best q.pool admitted documents to the pool, with their rank. */
  propose(q: SearchQuery, pool: CandidatePool): void;
  /** Sets its score on every candidate, including those other signals proposed. */
  complete(q: SearchQuery, candidates: readonly Candidate[]): void;
  /** Its weight in the weighted fusion (the weights of the signals add up to 1). */
  weight(r: RankingOptions): number;
  /**
   * Added to the score after the session context is blended in, instead of to the
   * document's own score (a signal that points into other sessions than the query's best).
   */
  readonly afterContext?: boolean;
  /** Maps its scores of these candidates onto 0..1 for the weighted fusion. */
  normaliser(q: SearchQuery, candidates: readonly Candidate[]): (c: Candidate) => number;
}

/** Weight of the dense signal in the weighted fusion; the lexical one takes the rest. */
export function denseWeightOf(r: RankingOptions): number {
  return r.mode === 'dense' ? 1 : r.mode === 'lexical' ? 0 : r.denseWeight;
}
