// Document-level fusion of the signals' scores: a weighted sum of the normalised scores,
// or reciprocal-rank fusion over the candidates (hybrid mode only).
import { Candidate, signalScore } from './candidate';
import { CandidateSignal } from './candidate-signal';
import { SearchQuery } from './search-query';

export function fuseDocuments(q: SearchQuery, signals: readonly CandidateSignal[], candidates: readonly Candidate[]): void {
  const r = q.ranking;
  if (r.fusion === 'rrf' && r.mode === 'hybrid') {
    const ranked = signals.filter((s) => s.enabled(q));
    const share = 1 / ranked.length;
    const ranks = ranked.map((s) => rankOf(candidates, (c) => signalScore(c, s.name)));
    for (const c of candidates) {
      let sum = 0;
      for (const rank of ranks) sum += share / (r.rrfK + rank.get(c)!);
      c.document = (r.rrfK + 1) * sum;
    }
    return;
  }
  const parts = signals.filter((s) => !s.afterContext).map((s) => ({ name: s.name, weight: s.weight(r), normalised: s.normaliser(q, candidates) }));
  const total = parts.reduce((sum, part) => sum + part.weight, 0);
  for (const c of candidates) {
    let sum = 0;
    let known = 0;
    for (const part of parts) {
      if (c.signals[part.name]?.missing) continue;
      sum += part.weight * part.normalised(c);
      known += part.weight;
    }
    // A document a signal cannot score yet (a memory whose vector is still being embedded,
    // ADR 0106) is ranked by the others, scaled to the whole weight: not as a cosine of 0.
    c.document = known > 0 && known < total ? (sum * total) / known : sum;
  }
}

function rankOf<T>(items: readonly T[], score: (item: T) => number): Map<T, number> {
  const sorted = [...items].sort((a, b) => score(b) - score(a));
  const ranks = new Map<T, number>();
  sorted.forEach((item, i) => ranks.set(item, i + 1));
  return ranks;
}

/** Adds the signals that come after the session context (CandidateSignal.afterContext) to the blended score. */
export function addAfterContext(q: SearchQuery, signals: readonly CandidateSignal[], candidates: readonly Candidate[]): void {
  for (const s of signals) {
    if (!s.afterContext || !s.enabled(q)) continue;
    const weight = s.weight(q.ranking);
    const normalised = s.normaliser(q, candidates);
    for (const c of candidates) c.combined += weight * normalised(c);
  }
}
