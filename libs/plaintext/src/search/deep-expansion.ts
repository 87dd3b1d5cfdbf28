// Deep (multi-hop) search: after a first retrieval, the query is expanded with what its top
// hits say — their rarer terms (names, places, numbers: what the second hop shares with the
// first), weighted as in RM3 pseudo-relevance feedback, together with the turns next to
// them in their sessions — and with their vectors (Rocchio); a second retrieval runs on the
// expanded query and both are fused. Evidence that shares few words with the question but
// many with the first evidence is found this way.
import { QuantizedVectorStore } from '../dense/quantized-vector.store';
import { Bm25Index } from '../lexical/bm25.index';
import { DocumentStore } from '../store/document-store';
import { BridgeOptions } from './bridge.signal';
import { Candidate } from './candidate';

export interface DeepOptions extends BridgeOptions {
  /** Top hits of the first pass that expand the query. */
  readonly feedbackDocs: number;
  /** Expansion terms added to the lexical query (0: no lexical expansion). */
  readonly expansionTerms: number;
  /** Weight of the best expansion term, relative to a query term's 1. */
  readonly expansionWeight: number;
  /** Weight of a hit's neighbouring turns in the feedback, relative to the hit (0: not used). */
  readonly neighbourWeight: number;
  /** Rocchio weight of the hits' mean vector added to the query vector (0: dense side unchanged). */
  readonly denseFeedback: number;
  /** Share of the second pass in the fused score. */
  readonly secondPassWeight: number;
  /**
   * 'blend': (1 − w)·first + w·second; 'lift': the second pass can only raise a document
   * (first + w·max(0, second − first)), so what the first pass ranked well stays.
   */
  readonly passFusion: 'blend' | 'lift';
  /** The session context's share in the second pass (−1: the ranking's own). */
  readonly secondContextWeight: number;
  /** The first pass's best this many stay on top, in its order; the fusion ranks the rest (0: it ranks all). */
  readonly keepFirst: number;
}

/**
 * Chosen on the dev sets (npm run bench:retrieval -- --mode deep): 'lift' with the second
 * pass at full weight is the fusion that helps HotpotQA without costing LongMemEval turn
 * recall; 'blend' finds more second hops there but reorders conversations (ADR 0110).
 * No dense feedback (0.5 until 2026-11-29): with use-lite, moving the query vector towards
 * the first hits cost LongMemEval turn recall on both halves of the split and added nothing
 * with the hash embedder (ADR 0110, "Re-measured with use-lite").
 * The bridge signal at 0.7 and the first pass's best 3 kept on top: chosen on the tune half
 * with use-lite (ADR 0116); keepFirst gives back the first hit deep mode used to cost.
 * The second pass ranks turns without their session's score (secondContextWeight 0): the
 * turns it is for sit in other sessions than the first hits (ADR 0116; 0 and 0.2 tied on tune).
 */
export const DEFAULT_DEEP: DeepOptions = {
  feedbackDocs: 3,
  expansionTerms: 10,
  expansionWeight: 1,
  neighbourWeight: 0.5,
  denseFeedback: 0,
  secondPassWeight: 1,
  passFusion: 'lift',
  keepFirst: 3,
  secondContextWeight: 0,
  bridgeWeight: 0.7,
  bridgeDocs: 3,
  bridgeEntities: 10,
  bridgeMaxShare: 0.05,
  bridgeNeighbours: 0,
  bridgeSpan: 2,
  bridgeCandidates: 100,
};

export interface QueryExpansion {
  readonly terms: readonly string[];
  readonly weights: readonly number[];
  /** The expanded query vector, or null when the first pass had none (or denseFeedback is 0). */
  readonly vector: Float32Array | null;
}

interface Feedback {
  readonly slot: number;
  readonly weight: number;
}

/** Expansion of a query from the first pass's ranked candidates. */
export function expandQuery(
  queryTerms: readonly string[],
  queryVector: ArrayLike<number> | null,
  ranked: readonly Candidate[],
  parts: { readonly bm25: Bm25Index; readonly vectors: QuantizedVectorStore; readonly store: DocumentStore },
  options: DeepOptions,
): QueryExpansion {
  const top = ranked.slice(0, options.feedbackDocs).filter((c) => c.score > 0);
  const best = top[0]?.score ?? 0;
  const feedback: Feedback[] = top.map((c) => ({ slot: c.slot, weight: c.score / best }));
  const seen = new Set(feedback.map((f) => f.slot));
  const withNeighbours = [...feedback];
  if (options.neighbourWeight > 0) {
    for (const f of feedback) {
      for (const slot of parts.store.neighbours(f.slot)) {
        if (seen.has(slot)) continue;
        seen.add(slot);
        withNeighbours.push({ slot, weight: f.weight * options.neighbourWeight });
      }
    }
  }
  return {
    ...expansionTerms(queryTerms, withNeighbours, parts.bm25, options),
    vector: queryVector !== null && options.denseFeedback > 0 ? rocchio(queryVector, feedback, parts.vectors, options.denseFeedback) : null,
  };
}

/**
 * RM3-style: a term's weight is Σ over feedback documents of (document weight × 1/length)
 * × idf, so terms that several good hits share, and rare ones, come first. Query terms,
 * terms of one document only (they cannot lead anywhere new) and common terms are left out.
 */
function expansionTerms(
  queryTerms: readonly string[],
  feedback: readonly Feedback[],
  bm25: Bm25Index,
  options: DeepOptions,
): { terms: string[]; weights: number[] } {
  const terms = [...queryTerms];
  const weights = queryTerms.map(() => 1);
  if (options.expansionTerms <= 0 || feedback.length === 0) return { terms, weights };
  const inQuery = new Set(queryTerms);
  const n = bm25.size;
  // Terms in half the documents or more lead nowhere in particular (the common-term limit applies on large indexes).
  const common = Math.min(bm25.commonLimit, n / 2);
  const scores = new Map<string, number>();
  for (const f of feedback) {
    const docTerms = bm25.termsOf(f.slot);
    if (docTerms.length === 0) continue;
    const share = f.weight / docTerms.length;
    for (const { term, df } of docTerms) {
      if (df <= 1 || df > common || inQuery.has(term)) continue;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      scores.set(term, (scores.get(term) ?? 0) + share * idf);
    }
  }
  const picked = [...scores].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, options.expansionTerms);
  const max = picked[0]?.[1] ?? 0;
  for (const [term, score] of picked) {
    terms.push(term);
    weights.push((options.expansionWeight * score) / max);
  }
  return { terms, weights };
}

/** q + β · (weighted mean of the feedback vectors), unit length. */
function rocchio(query: ArrayLike<number>, feedback: readonly Feedback[], vectors: QuantizedVectorStore, beta: number): Float32Array {
  const out = Float32Array.from(query);
  const mean = new Float32Array(out.length);
  let total = 0;
  for (const f of feedback) {
    const v = vectors.read(f.slot);
    if (!v) continue;
    for (let i = 0; i < mean.length; i++) mean[i] += f.weight * v.codes[i] * v.scale;
    total += f.weight;
  }
  if (total > 0) for (let i = 0; i < out.length; i++) out[i] += (beta * mean[i]) / total;
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/**
 * Fuses the two passes: each pass's scores scaled to its best, blended by the second
 * pass's share; a document only one pass found gets 0 from the other.
 */
export function fusePasses(
  first: readonly Candidate[],
  second: readonly Candidate[],
  share: number,
  method: DeepOptions['passFusion'],
  keepFirst = 0,
): { slot: number; score: number; first: number; second: number }[] {
  const max1 = first[0]?.score ?? 0;
  const max2 = second[0]?.score ?? 0;
  const bySlot = new Map<number, { slot: number; score: number; first: number; second: number }>();
  for (const c of first) bySlot.set(c.slot, { slot: c.slot, score: 0, first: max1 > 0 ? c.score / max1 : 0, second: 0 });
  for (const c of second) {
    const s = max2 > 0 ? c.score / max2 : 0;
    const entry = bySlot.get(c.slot);
    if (entry) entry.second = s;
    else bySlot.set(c.slot, { slot: c.slot, score: 0, first: 0, second: s });
  }
  const fused = [...bySlot.values()];
  for (const f of fused) f.score = method === 'lift' ? f.first + share * Math.max(0, f.second - f.first) : (1 - share) * f.first + share * f.second;
  fused.sort((a, b) => b.score - a.score || a.slot - b.slot);
  if (keepFirst <= 0) return fused;
  const kept = first.slice(0, keepFirst).map((c) => bySlot.get(c.slot)!);
  const keptSlots = new Set(kept.map((f) => f.slot));
  // The kept ones score above the rest, so the list stays ordered by score.
  const top = fused[0]?.score ?? 0;
  kept.forEach((f, i) => (f.score = top + kept.length - i));
  return [...kept, ...fused.filter((f) => !keptSlots.has(f.slot))];
}

/** Turns of a document's session within span positions of it (by position, else by insertion order). */
export function sessionNeighbours(store: DocumentStore, slot: number, span: number): number[] {
  const session = store.isLive(slot) ? store.sessionOfSlot[slot] : -1;
  if (session < 0) return [];
  const turns = store.sessionSlots[session];
  const position = store.position(slot);
  if (position === undefined) {
    const i = turns.indexOf(slot);
    return turns.slice(Math.max(0, i - span), i + span + 1).filter((s) => s !== slot);
  }
  const out: number[] = [];
  for (const other of turns) {
    const p = store.position(other);
    if (p !== undefined && other !== slot && Math.abs(p - position) <= span) out.push(other);
  }
  return out;
}
