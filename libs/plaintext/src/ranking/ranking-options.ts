// Knobs of the hybrid ranker. Defaults are the values chosen on the dev sets
// (bench/retrieval.bench.ts); see docs/adr/0101-hybrid-retrieval.md.

import type { Embedder } from '../embedding/embedder';

export type RetrievalMode = 'hybrid' | 'dense' | 'lexical';
export type FusionMethod = 'weighted' | 'rrf';
export type SessionScoring = 'bm25' | 'sum';

export interface RankingOptions {
  readonly mode: RetrievalMode;
  readonly fusion: FusionMethod;
  /** Weight of the dense score in the weighted fusion (lexical gets 1 - denseWeight). */
  readonly denseWeight: number;
  readonly rrfK: number;
  /** Candidates taken from each retriever before fusion (at least topK). */
  readonly candidatePool: number;
  /**
   * Share of a document's score that comes from its session (documents with the same
   * sessionId): how well the whole conversation around a turn matches the query.
   */
  readonly contextWeight: number;
  /**
   * How the lexical side of the session context is scored: 'bm25' treats each session as
   * one document made of all its turns (term counts saturate over the session, idf over
   * sessions); 'sum' adds up the turns' own BM25 scores as (Σ bm25^p)^(1/p).
   */
  readonly sessionScoring: SessionScoring;
  /**
   * Share of the session context (hybrid mode) taken by the session's best fused turn; the
   * rest is the session's lexical score. 0: the session counts as a document only, and a
   * strong turn is not counted twice (once itself, once as its session's best).
   */
  readonly contextDenseWeight: number;
  /**
   * For sessionScoring 'sum': 1 sums the evidence of every turn, larger values approach
   * the best turn alone.
   */
  readonly contextPower: number;
  /** Multiplier spread of importance (0..1, 0.5 neutral): score × (1 + w·(importance − 0.5)). */
  readonly importanceWeight: number;
  /** Always-on recency prior, added as w·2^(−age/halfLife). 0 disables it. */
  readonly recencyWeight: number;
  readonly recencyHalfLifeDays: number;
  /** Boost for queries that ask for the latest/earliest state or name a period. */
  readonly timeIntentWeight: number;
  /**
   * Weight of a document's match by its role (messages): what the user said is the memory,
   * assistant replies mostly echo it. Ignored when the query asks what the assistant said
   * ("you suggested…", "your recommendation").
   */
  readonly roleWeights: Readonly<Record<string, number>>;
}

export const DEFAULT_RANKING: RankingOptions = {
  mode: 'hybrid',
  fusion: 'weighted',
  denseWeight: 0.3,
  rrfK: 60,
  candidatePool: 100,
  contextWeight: 0.5,
  sessionScoring: 'bm25',
  contextDenseWeight: 0,
  contextPower: 1,
  importanceWeight: 0.2,
  recencyWeight: 0,
  recencyHalfLifeDays: 30,
  timeIntentWeight: 0.25,
  roleWeights: { assistant: 0.5 },
};

/**
 * Dense weight of a trained sentence encoder (use-lite; also the starting point for an
 * operator's ONNX or OpenAI-compatible model until it is measured): its similarities carry
 * meaning, so they earn more of the fusion than the hash embedder's word overlap (ADR 0113).
 */
export const SEMANTIC_DENSE_WEIGHT = 0.5;

/** The ranking knobs an embedder brings with it (its dense weight), to lay over the defaults. */
export function rankingFor(embedder: Pick<Embedder, 'denseWeight'>): Partial<RankingOptions> {
  return embedder.denseWeight === undefined ? {} : { denseWeight: embedder.denseWeight };
}
