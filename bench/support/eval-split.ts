// A fixed split of each shared evaluation set into a tuning half and a held-out half, so a
// knob chosen on one half is validated on questions it was not chosen on (ADR 0113).
// Membership is a hash of the question's own id: stable across runs and machines, blind to
// the question's content, and stratified by type where a set has types (each type is
// halved separately, so both halves keep the set's mix).
import { createHash } from 'node:crypto';

export type EvalSplit = 'tune' | 'held' | 'all';

export function parseSplit(raw: string): EvalSplit {
  if (raw === 'tune' || raw === 'held' || raw === 'all') return raw;
  throw new Error(`--split must be tune, held or all (got ${raw})`);
}

/** The items of one half (or all of them): within each type, the first half by id hash is 'tune'. */
export function splitItems<T>(items: readonly T[], split: EvalSplit, id: (item: T) => string, type: (item: T) => string = () => ''): T[] {
  if (split === 'all') return [...items];
  const byType = new Map<string, T[]>();
  for (const item of items) {
    const key = type(item);
    byType.set(key, [...(byType.get(key) ?? []), item]);
  }
  const tune = new Set<T>();
  for (const group of byType.values()) {
    const ordered = [...group].sort((a, b) => (hashOf(id(a)) < hashOf(id(b)) ? -1 : 1));
    ordered.slice(0, Math.ceil(ordered.length / 2)).forEach((item) => tune.add(item));
  }
  return items.filter((item) => tune.has(item) === (split === 'tune'));
}

function hashOf(id: string): string {
  return createHash('sha256').update(`engram-eval-split:${id}`).digest('hex');
}
