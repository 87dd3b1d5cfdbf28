// The lexical signal: BM25 over the documents' analysed terms (weighted by role), and as a
// by-product the lexical score of every session the session context needs.
import { Bm25QueryPlan } from '../lexical/bm25-topk';
import { Bm25Index } from '../lexical/bm25.index';
import { RankingOptions } from '../ranking/ranking-options';
import { TopK } from '../ranking/top-k';
import { DocumentStore } from '../store/document-store';
import { Candidate, CandidatePool } from './candidate';
import { CandidateSignal, denseWeightOf } from './candidate-signal';
import { SearchQuery } from './search-query';

export class LexicalSignal implements CandidateSignal {
  readonly name = 'lexical';
  /** Score of every matching slot of the current search (zeroed after complete()). */
  private scratch = new Float64Array(1024);
  private touched: number[] = [];
  /** The current search's query plan when propose() did not score every match (see there). */
  private plan: Bm25QueryPlan | null = null;

  constructor(
    private readonly bm25: Bm25Index,
    private readonly store: DocumentStore,
  ) {}

  enabled(q: SearchQuery): boolean {
    return q.ranking.mode !== 'dense';
  }

  /**
   * The best q.pool matching documents become candidates. Common query terms may only add
   * to documents the rarer ones found, once those admitted by the filter are at least a
   * candidate pool. When the session context sums its turns' scores ('sum'), every
   * match's score is kept for it; otherwise only the pool is kept (lexical/bm25-topk.ts)
   * and complete() scores the other signals' candidates one by one.
   */
  propose(q: SearchQuery, pool: CandidatePool): void {
    const r = q.ranking;
    this.plan = null;
    const sessionSums = r.sessionScoring === 'sum' && r.contextWeight > 0;
    const plan = sessionSums ? null : Bm25QueryPlan.create(this.bm25, q.terms, { minMatches: q.pool, admits: q.restricts ? q.admits : undefined, weights: q.termWeights });
    if (plan !== null) {
      plan.topK(q.pool, q.roleWeight).forEach((slot, rank) => {
        pool.get(slot).signals.lexical = { score: 0, rank: rank + 1 };
      });
      this.plan = plan;
      return;
    }
    if (this.scratch.length < this.store.slotCount) {
      let cap = this.scratch.length;
      while (cap < this.store.slotCount) cap *= 2;
      this.scratch = new Float64Array(cap);
    }
    const scratch = this.scratch;
    const sessionLexical = q.sessionLexical;
    const sessionOfSlot = this.store.sessionOfSlot;
    const queryTerms = q.terms;
    const hits = this.bm25.score(queryTerms, { minMatches: q.pool, admits: q.restricts ? q.admits : undefined, weights: q.termWeights });
    const best = new TopK(q.pool);
    const power = r.contextPower;
    // Sessions as documents (scored in complete()), or the sum of their turns' scores here.
    const sessionBm25 = r.sessionScoring === 'bm25' && r.contextWeight > 0;
    for (let i = 0; i < hits.count; i++) {
      const slot = hits.slots[i];
      if (q.restricts && !q.admits(slot)) continue;
      const s = hits.scores[i] * q.roleWeight(slot);
      scratch[slot] = s;
      this.touched.push(slot);
      best.push(slot, s);
      const session = sessionOfSlot[slot];
      if (session >= 0 && !sessionBm25) {
        if (sessionLexical[session] === 0) q.touchedSessions.push(session);
        sessionLexical[session] += power === 1 ? s : Math.pow(s, power);
      }
    }
    best.sorted().forEach((slot, rank) => {
      pool.get(slot).signals.lexical = { score: 0, rank: rank + 1 };
    });
  }

  /**
   * Sessions as documents: BM25 over each session's turns taken together, for the
   * candidates' sessions only (ADR 0126): the session context reads no other session.
   */
  private scoreSessions(q: SearchQuery, candidates: readonly Candidate[]): void {
    const store = this.store;
    const sessionOfSlot = store.sessionOfSlot;
    const seen = new Set<number>();
    for (const c of candidates) {
      const session = sessionOfSlot[c.slot];
      if (session >= 0) seen.add(session);
    }
    const wanted = [...seen];
    const scores = this.bm25.scoreGroupsOf(q.terms, {
      groupOf: sessionOfSlot,
      length: store.sessionLength,
      live: store.liveSessions,
      totalLength: store.totalSessionLength,
    }, wanted, (session) => store.sessionSlots[session], q.termWeights);
    for (let i = 0; i < wanted.length; i++) {
      if (scores[i] === 0) continue;
      q.sessionLexical[wanted[i]] = scores[i];
      q.touchedSessions.push(wanted[i]);
    }
  }

  complete(q: SearchQuery, candidates: readonly Candidate[]): void {
    if (q.ranking.sessionScoring === 'bm25' && q.ranking.contextWeight > 0) this.scoreSessions(q, candidates);
    const plan = this.plan;
    if (plan !== null) {
      this.plan = null;
      for (const c of candidates) {
        const own = c.signals.lexical;
        const admitted = !q.restricts || q.admits(c.slot);
        c.signals.lexical = { score: admitted ? plan.scoreOf(c.slot) * q.roleWeight(c.slot) : 0, rank: own?.rank ?? null };
      }
      return;
    }
    const scratch = this.scratch;
    for (const c of candidates) {
      const own = c.signals.lexical;
      c.signals.lexical = { score: c.slot < scratch.length ? scratch[c.slot] : 0, rank: own?.rank ?? null };
    }
    for (const slot of this.touched) scratch[slot] = 0;
    this.touched = [];
  }

  weight(r: RankingOptions): number {
    return 1 - denseWeightOf(r);
  }

  normaliser(_q: SearchQuery, candidates: readonly Candidate[]): (c: Candidate) => number {
    let max = 0;
    for (const c of candidates) {
      const s = c.signals.lexical?.score ?? 0;
      if (s > max) max = s;
    }
    return (c) => (max > 0 ? (c.signals.lexical?.score ?? 0) / max : 0);
  }
}
