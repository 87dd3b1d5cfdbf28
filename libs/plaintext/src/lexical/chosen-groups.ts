// Group BM25 (a cube's sessions scored as documents, Bm25Index.scoreGroups) for chosen
// groups only (issue 12: search at 1M memories). scoreGroups() walks every posting of the
// query's terms to score every group, which at 1M memories costs more than the rest of the
// lexical search (ADR 0125); the session context only needs the sessions of the search's
// candidates. Here each chosen group is scored from its members alone (a binary search in
// each term's sorted postings per member) with the idf scoreGroups() uses: the number of
// groups holding the term, walked once and cached while the term's postings are unchanged
// (same length, same live count, no compaction since). A chosen group's score is the same
// float64 value scoreGroups() gives it.
import { lowerBound } from './bm25-topk';
import { Bm25Index, DocumentGroups, PostingsView } from './bm25.index';

/** Cached group document frequencies kept at most (a query has a handful of terms). */
const DF_CACHE_TERMS = 4096;

interface GroupDf {
  readonly length: number;
  readonly live: number;
  readonly compactions: number;
  readonly df: number;
}

interface ScoredTerm {
  readonly postings: PostingsView;
  /** Query term frequency (summed weights). */
  readonly qtf: number;
}

export class ChosenGroupScorer {
  private readonly dfs = new Map<number, GroupDf>();
  private stamp = new Int32Array(0);
  private epoch = 0;

  constructor(private readonly index: Bm25Index) {}

  /**
   * Postings scoreGroups() would walk for this query (its terms in 1..commonLimit live
   * documents, each once): what scoring every group costs.
   */
  walkCost(queryTerms: readonly string[]): number {
    let cost = 0;
    for (const t of this.terms(queryTerms)) cost += t.postings.length;
    return cost;
  }

  /**
   * Scores of the chosen groups (parallel to `chosen`), each what scoreGroups() gives it
   * (0 when it holds no live document with a query term). `members(group)` lists a
   * group's slots in ascending order (removed ones may be among them).
   */
  score(queryTerms: readonly string[], groups: DocumentGroups, chosen: readonly number[], members: (group: number) => readonly number[], weights?: readonly number[]): Float64Array {
    const out = new Float64Array(chosen.length);
    const g = groups.live;
    if (g === 0 || chosen.length === 0) return out;
    const { k1, b, alive } = this.index.scoringState();
    const lengthFactor = (k1 * b) / (groups.totalLength / g || 1);
    const baseNorm = k1 * (1 - b);
    for (const { postings, qtf } of this.terms(queryTerms, weights)) {
      const df = this.groupDf(postings, groups);
      const idf = Math.log(1 + (g - df + 0.5) / (df + 0.5)) * qtf;
      const { slots, tfs, length } = postings;
      for (let c = 0; c < chosen.length; c++) {
        const group = chosen[c];
        let tf = 0;
        let from = 0;
        for (const slot of members(group)) {
          if (alive[slot] !== 1) continue;
          const i = lowerBound(slots, from, length, slot);
          if (i < length && slots[i] === slot) tf += tfs[i];
          from = i;
        }
        // Written as scoreGroups() writes it, summed over the terms in the same order.
        if (tf > 0) out[c] += (idf * tf * (k1 + 1)) / (tf + baseNorm + lengthFactor * groups.length[group]);
      }
    }
    return out;
  }

  /** The query's terms scoreGroups() scores, in its order (first occurrence), with their summed weights. */
  private terms(queryTerms: readonly string[], weights?: readonly number[]): ScoredTerm[] {
    const commonLimit = this.index.commonLimit;
    const byId = new Map<number, { postings: PostingsView; qtf: number }>();
    queryTerms.forEach((term, i) => {
      const postings = this.index.postingsOf(term);
      if (postings === undefined || postings.live <= 0 || postings.live > commonLimit) return;
      const seen = byId.get(postings.id);
      byId.set(postings.id, { postings, qtf: (seen?.qtf ?? 0) + (weights?.[i] ?? 1) });
    });
    return [...byId.values()];
  }

  /** Groups holding a live posting of the term: from the cache while its postings are unchanged. */
  private groupDf(postings: PostingsView, groups: DocumentGroups): number {
    const compactions = this.index.compactions;
    const cached = this.dfs.get(postings.id);
    if (cached && cached.length === postings.length && cached.live === postings.live && cached.compactions === compactions) return cached.df;
    const { alive } = this.index.scoringState();
    const groupOf = groups.groupOf;
    if (this.stamp.length < groups.length.length) this.stamp = new Int32Array(groups.length.length);
    if (this.epoch > 0x3fffffff) {
      this.stamp.fill(0);
      this.epoch = 0;
    }
    const stamp = this.stamp;
    const term = ++this.epoch;
    let df = 0;
    for (let i = 0; i < postings.length; i++) {
      const s = postings.slots[i];
      if (alive[s] !== 1) continue;
      const group = groupOf[s];
      if (group < 0 || stamp[group] === term) continue;
      stamp[group] = term;
      df++;
    }
    if (this.dfs.size >= DF_CACHE_TERMS) this.dfs.delete(this.dfs.keys().next().value as number);
    this.dfs.set(postings.id, { length: postings.length, live: postings.live, compactions, df });
    return df;
  }
}
