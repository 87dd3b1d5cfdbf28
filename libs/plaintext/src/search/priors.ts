// Priors and time: importance and the time intent of the query scale the blended score,
// recency adds to it.
import { toEpochMs } from '../filter/memory-filter';
import { parseTimeIntent, TimeIntent } from '../ranking/time-intent';
import { DocumentStore } from '../store/document-store';
import { Candidate } from './candidate';
import { SearchQuery } from './search-query';

const DAY = 86_400_000;

/** Sets importance, recency, time and the final score of every candidate; returns the query's time intent. */
export function applyPriors(q: SearchQuery, store: DocumentStore, candidates: readonly Candidate[]): TimeIntent {
  const r = q.ranking;
  const reference = toEpochMs(q.referenceTime) ?? (Number.isFinite(store.newestObservedAt) ? store.newestObservedAt : undefined);
  const intent = parseTimeIntent(q.text, reference);
  let tMin = Infinity;
  let tMax = -Infinity;
  if (intent.direction) {
    for (const c of candidates) {
      const t = store.observedAt(c.slot);
      if (t === undefined) continue;
      if (t < tMin) tMin = t;
      if (t > tMax) tMax = t;
    }
  }
  const halfLife = r.recencyHalfLifeDays * DAY;
  for (const c of candidates) {
    c.importance = r.importanceWeight * ((store.importance(c.slot) ?? 0.5) - 0.5);
    const t = store.observedAt(c.slot);
    if (t !== undefined && reference !== undefined && r.recencyWeight > 0) {
      c.recency = r.recencyWeight * Math.pow(2, -Math.max(0, reference - t) / halfLife);
    }
    if (t !== undefined && r.timeIntentWeight > 0) {
      let time = 0;
      if (intent.window && t >= intent.window.start && t < intent.window.end) time += 1;
      if (intent.direction && tMax > tMin) {
        const position = (t - tMin) / (tMax - tMin);
        time += intent.direction === 'recent' ? position : 1 - position;
      }
      c.time = r.timeIntentWeight * time;
    }
    c.score = c.combined * (1 + c.importance + c.time) + c.recency;
  }
  return intent;
}
