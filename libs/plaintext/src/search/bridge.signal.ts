// The bridge signal (deep search's second pass only, ADR 0116): memories that name an
// entity the first pass's top hits name (weighted by the hits' scores and the entity's
// rarity), and the turns around those hits in their sessions. It proposes them as
// candidates of their own, so a second hop that shares no word with the question still
// reaches the fusion, and scores every candidate by the same sum.
import { RankingOptions } from '../ranking/ranking-options';
import { TopK } from '../ranking/top-k';
import { Candidate, CandidatePool } from './candidate';
import { CandidateSignal } from './candidate-signal';
import { EntityIndex } from './entity-index';
import { SearchQuery } from './search-query';

/** What the first pass hands the second: weighted entity ids and weighted neighbouring slots. */
export interface Bridge {
  readonly entities: ReadonlyMap<number, number>;
  readonly neighbours: ReadonlyMap<number, number>;
  /** The signal's weight in the second pass's fusion (the lexical and dense weights add up to 1). */
  readonly weight: number;
  /** Candidates it proposes (its best; it scores all the others' too). */
  readonly candidates: number;
}

export class BridgeSignal implements CandidateSignal {
  readonly name = 'bridge';
  /** A second hop is in another session than the first: its session context says nothing about it. */
  readonly afterContext = true;
  private scores = new Map<number, number>();

  constructor(private readonly entities: EntityIndex) {}

  enabled(q: SearchQuery): boolean {
    return q.bridge !== undefined && q.bridge.weight > 0;
  }

  propose(q: SearchQuery, pool: CandidatePool): void {
    const bridge = q.bridge!;
    const scores = new Map<number, number>();
    for (const [id, w] of bridge.entities) {
      for (const slot of this.entities.slotsOf(id)) {
        if (q.restricts && !q.admits(slot)) continue;
        scores.set(slot, (scores.get(slot) ?? 0) + w);
      }
    }
    for (const [slot, w] of bridge.neighbours) {
      if (q.restricts && !q.admits(slot)) continue;
      scores.set(slot, (scores.get(slot) ?? 0) + w);
    }
    this.scores = scores;
    const best = new TopK(Math.min(q.pool, bridge.candidates));
    for (const [slot, s] of scores) best.push(slot, s);
    best.sorted().forEach((slot, rank) => (pool.get(slot).signals.bridge = { score: 0, rank: rank + 1 }));
  }

  complete(_q: SearchQuery, candidates: readonly Candidate[]): void {
    for (const c of candidates) c.signals.bridge = { score: this.scores.get(c.slot) ?? 0, rank: c.signals.bridge?.rank ?? null };
    this.scores = new Map();
  }

  /** Its weight travels with the query (q.bridge.weight), applied by the normaliser. */
  weight(_r: RankingOptions): number {
    return 1;
  }

  normaliser(q: SearchQuery, candidates: readonly Candidate[]): (c: Candidate) => number {
    if (!this.enabled(q)) return () => 0;
    let max = 0;
    for (const c of candidates) max = Math.max(max, c.signals.bridge?.score ?? 0);
    const w = q.bridge!.weight;
    return (c) => (max > 0 ? (w * (c.signals.bridge?.score ?? 0) * q.roleWeight(c.slot)) / max : 0);
  }
}

export interface BridgeOptions {
  /** Weight of the bridge signal in the second pass (0: no bridge). */
  readonly bridgeWeight: number;
  /** Top hits of the first pass whose entities and neighbours make the bridge. */
  readonly bridgeDocs: number;
  /** Entities kept, best first (a hit's weight × the entity's idf, summed over the hits). */
  readonly bridgeEntities: number;
  /** An entity named by more than this share of the cube's memories links nothing in particular. */
  readonly bridgeMaxShare: number;
  /** Weight of a hit's neighbouring turns in the bridge, relative to its best entity (0: none). */
  readonly bridgeNeighbours: number;
  /** How far (in turns of the session) a neighbour may be. */
  readonly bridgeSpan: number;
  /** Candidates the bridge proposes at most (10, 20 and 100 rank the dev sets alike). */
  readonly bridgeCandidates: number;
}

/**
 * The bridge of a first pass: entities its top hits name, other than the query's own (those
 * the lexical side matches already) and those of one memory only, weighted by the hits'
 * scores × idf; and the hits' neighbouring turns, within bridgeSpan positions.
 */
export function bridgeFrom(
  queryText: string,
  ranked: readonly Candidate[],
  parts: { readonly entities: EntityIndex; readonly neighbours: (slot: number, span: number) => number[] },
  options: BridgeOptions,
): Bridge | undefined {
  if (options.bridgeWeight <= 0) return undefined;
  const top = ranked.slice(0, options.bridgeDocs).filter((c) => c.score > 0);
  if (top.length === 0) return undefined;
  const best = top[0].score;
  const n = Math.max(1, parts.entities.size);
  const limit = Math.max(3, options.bridgeMaxShare * n);
  const query = ` ${queryText.toLowerCase().replace(/['’]/g, '')} `;
  const weights = new Map<number, number>();
  for (const c of top) {
    for (const id of parts.entities.idsOf(c.slot)) {
      const df = parts.entities.dfOf(id);
      if (df <= 1 || df > limit) continue;
      if (namedIn(query, parts.entities.keyOf(id))) continue;
      weights.set(id, (weights.get(id) ?? 0) + (c.score / best) * Math.log(1 + n / df));
    }
  }
  const picked = [...weights].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, options.bridgeEntities);
  const max = picked[0]?.[1] ?? 1;
  const entities = new Map(picked.map(([id, w]) => [id, w / max]));
  const neighbours = new Map<number, number>();
  if (options.bridgeNeighbours > 0) {
    const hits = new Set(top.map((c) => c.slot));
    for (const c of top) {
      for (const slot of parts.neighbours(c.slot, options.bridgeSpan)) {
        if (hits.has(slot)) continue;
        neighbours.set(slot, Math.max(neighbours.get(slot) ?? 0, (options.bridgeNeighbours * c.score) / best));
      }
    }
  }
  return { entities, neighbours, weight: options.bridgeWeight, candidates: options.bridgeCandidates };
}

/** Whether the query names an entity key as whole words. */
function namedIn(query: string, key: string): boolean {
  const at = query.indexOf(key);
  if (at < 0) return false;
  const before = query[at - 1];
  const after = query[at + key.length];
  return !/[\p{L}\p{N}]/u.test(before ?? ' ') && !/[\p{L}\p{N}]/u.test(after ?? ' ');
}
