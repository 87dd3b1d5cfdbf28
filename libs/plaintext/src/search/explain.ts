// What a search returns per document, and the explanation of its score when asked for.
import { TimeIntent } from '../ranking/time-intent';
import { Candidate } from './candidate';
import { SearchQuery } from './search-query';

export interface ScoreExplanation {
  /** similarity null and pending true: the memory has no vector yet (ADR 0106), its rank came from the other signals. */
  readonly dense: { readonly similarity: number | null; readonly rank: number | null; readonly pending?: true } | null;
  readonly lexical: { readonly bm25: number; readonly rank: number | null } | null;
  /** Fused score of the document alone, then with its session context blended in. */
  readonly fusion: { readonly method: string; readonly document: number; readonly context: number; readonly combined: number };
  readonly priors: { readonly importance: number; readonly recency: number; readonly timeIntent: number };
  readonly timeIntent?: TimeIntent;
  /**
   * Deep search: the document's score in each pass (scaled to the pass's best), and the
   * terms the first pass added to the query. The rest explains the pass that found it first.
   */
  readonly deep?: { readonly first: number; readonly second: number; readonly expansion: readonly string[] };
}

export interface SearchHit {
  readonly label: number;
  readonly score: number;
  readonly explain?: ScoreExplanation;
}

export function explainCandidate(q: SearchQuery, c: Candidate, enabled: ReadonlySet<string>, intent: TimeIntent): ScoreExplanation {
  const r = q.ranking;
  const dense = c.signals.dense;
  const lexical = c.signals.lexical;
  return {
    dense: enabled.has('dense') ? (dense?.missing ? { similarity: null, rank: null, pending: true } : { similarity: dense?.score ?? 0, rank: dense?.rank ?? null }) : null,
    lexical: enabled.has('lexical') ? { bm25: lexical?.score ?? 0, rank: lexical?.rank ?? null } : null,
    fusion: { method: r.mode === 'hybrid' ? r.fusion : r.mode, document: c.document, context: c.context, combined: c.combined },
    priors: { importance: c.importance, recency: c.recency, timeIntent: c.time },
    timeIntent: intent.direction || intent.window ? intent : undefined,
  };
}
