// The lexical signal's candidate pool (issue 12: search at 1M memories): the best k
// documents of a BM25 query, and the score of any one document, exactly as
// Bm25Index.score() gives them (same documents, same float32 sums, same order of ties), so
// the ranking downstream does not change. The caller used to keep a score for every match
// (a write into a slot-sized array and a list entry each, then a pass to clear them) so
// that the other signals' candidates could be looked up; here those few candidates are
// scored one by one instead (a binary search in each query term's sorted postings).
//
// MaxScore (document-at-a-time pruning with the saturation bound idf·(k1+1)) was tried
// and measured slower on the 1M bench (ADR 0117): the bound is about twice a typical
// contribution, so little is pruned and the per-posting cost is higher than score()'s.
import { TopK } from '../ranking/top-k';
import { Bm25Index } from './bm25.index';
import { lowerBound } from './sorted-slots';

export interface Bm25PlanOptions {
  /** As ScoreOptions.minMatches: the pool below which common terms still open documents. */
  readonly minMatches?: number;
  /** Only documents it admits count towards minMatches and are returned. */
  readonly admits?: (slot: number) => boolean;
  /** Weight of each query term (parallel to the terms; 1 when absent). */
  readonly weights?: readonly number[];
}

interface PlanTerm {
  readonly slots: Int32Array;
  readonly tfs: Uint16Array;
  readonly length: number;
  /** idf × query term frequency: the factor of every contribution of the term. */
  readonly idf: number;
  /** Whether the term brings up documents (false: it only adds to those others matched). */
  opener: boolean;
}

export class Bm25QueryPlan {
  private readonly admits: ((slot: number) => boolean) | undefined;
  private readonly alive: Uint8Array;
  private readonly docLength: Float32Array;
  private readonly k1: number;
  private readonly baseNorm: number;
  private readonly lengthFactor: number;

  private constructor(
    private readonly index: Bm25Index,
    /** In score()'s order (rarest first, then term id): the order the float32 sum is taken in. */
    private readonly terms: PlanTerm[],
    private readonly queryTerms: readonly string[],
    private readonly options: Bm25PlanOptions,
  ) {
    this.admits = options.admits;
    const state = index.scoringState();
    this.alive = state.alive;
    this.docLength = state.docLength;
    this.k1 = state.k1;
    const avgdl = state.totalLength / state.liveDocs || 1;
    this.lengthFactor = (state.k1 * state.b) / avgdl;
    this.baseNorm = state.k1 * (1 - state.b);
  }

  /**
   * The plan of a query, or null when a term weight is not positive (score()'s
   * bookkeeping of zero contributions is not reproduced: the caller scores every match).
   */
  static create(index: Bm25Index, queryTerms: readonly string[], options: Bm25PlanOptions = {}): Bm25QueryPlan | null {
    const { weights, admits } = options;
    if (weights?.some((w, i) => i < queryTerms.length && !(w > 0))) return null;
    const state = index.scoringState();
    const byId = new Map<number, { postings: NonNullable<ReturnType<Bm25Index['postingsOf']>>; qtf: number }>();
    queryTerms.forEach((term, i) => {
      const postings = index.postingsOf(term);
      if (postings === undefined || postings.live === 0) return;
      const seen = byId.get(postings.id);
      byId.set(postings.id, { postings, qtf: (seen?.qtf ?? 0) + (weights?.[i] ?? 1) });
    });
    const ordered = [...byId.values()].sort((x, y) => x.postings.live - y.postings.live || x.postings.id - y.postings.id);
    const n = state.liveDocs;
    const terms: PlanTerm[] = ordered.map(({ postings: p, qtf }) => {
      const idf = Math.log(1 + (n - p.live + 0.5) / (p.live + 0.5)) * qtf;
      return { slots: p.slots, tfs: p.tfs, length: p.length, idf, opener: true };
    });
    const plan = new Bm25QueryPlan(index, terms, queryTerms, options);
    plan.chooseOpeners(ordered.map((o) => o.postings.live), index.commonLimit, options.minMatches ?? 0);
    return plan;
  }

  /**
   * score()'s rule for common terms: taken rarest first, a common term opens documents
   * only while the terms before it matched fewer than minMatches (admitted) documents.
   */
  private chooseOpeners(live: readonly number[], commonDf: number, minMatches: number): void {
    if (minMatches <= 0) return;
    const alive = this.alive;
    const admits = this.admits;
    let enough = false;
    let matched = 0;
    // Documents counted so far (only needed while fewer than minMatches are).
    const counted = new Set<number>();
    for (let t = 0; t < this.terms.length; t++) {
      const term = this.terms[t];
      if (live[t] > commonDf && enough) {
        term.opener = false;
        continue;
      }
      if (enough) continue;
      // Without a filter a list of minMatches live documents is enough on its own.
      if (admits === undefined && live[t] >= minMatches) {
        enough = true;
        continue;
      }
      for (let i = 0; i < term.length && !enough; i++) {
        const s = term.slots[i];
        if (alive[s] !== 1 || counted.has(s)) continue;
        counted.add(s);
        if (admits === undefined || admits(s)) matched++;
        enough = matched >= minMatches;
      }
    }
  }

  /**
   * The best k of the matches (admitted ones, when the plan has a filter) by BM25 ×
   * docWeight, best first; ties go to the smaller slot (as TopK keeps them).
   */
  topK(k: number, docWeight: (slot: number) => number): number[] {
    if (k <= 0) return [];
    const hits = this.index.score(this.queryTerms, this.options);
    const best = new TopK(k);
    const admits = this.admits;
    for (let i = 0; i < hits.count; i++) {
      const slot = hits.slots[i];
      if (admits !== undefined && !admits(slot)) continue;
      best.push(slot, hits.scores[i] * docWeight(slot));
    }
    return best.sorted();
  }

  /**
   * What score() gives a slot (0 when the openers do not match it, or it is not live),
   * found by binary search in each term's postings.
   */
  scoreOf(slot: number): number {
    if (slot < 0 || slot >= this.alive.length || this.alive[slot] !== 1) return 0;
    let sum = 0;
    let matched = false;
    for (const t of this.terms) {
      const i = lowerBound(t.slots, 0, t.length, slot);
      if (i >= t.length || t.slots[i] !== slot) continue;
      if (t.opener) matched = true;
      sum = Math.fround(sum + this.contribution(t.idf, t.tfs[i], slot));
    }
    return matched ? sum : 0;
  }

  private contribution(idf: number, tf: number, slot: number): number {
    // Written as score() writes it, so the float64 value is the same to the bit.
    return (idf * tf * (this.k1 + 1)) / (tf + this.baseNorm + this.lengthFactor * this.docLength[slot]);
  }
}

