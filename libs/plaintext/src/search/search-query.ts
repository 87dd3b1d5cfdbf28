// One search as the signals and ranking stages see it: the query, the ranking knobs in
// force, the filter compiled against the document store, and per-search scratch shared
// between stages (the sessions' lexical scores).
import { compileFilter, filterRestricts, MemoryFilter, TimeInput } from '../filter/memory-filter';
import { RankingOptions } from '../ranking/ranking-options';
import { DocumentStore, FilterBase } from '../store/document-store';
import { analyzeQuery } from '../text/analyzer';
import type { Bridge } from './bridge.signal';

export interface SearchQuery {
  readonly text: string;
  /** Analysed terms the lexical signal matches: the query's own, plus expansion terms in deep mode. */
  readonly terms: readonly string[];
  /** Weight of each term (parallel to terms), or undefined for 1 each. */
  readonly termWeights?: readonly number[];
  readonly vector: ArrayLike<number> | null;
  /**
   * The dense signal's proposals (slots, best first) when an earlier pass of the same search
   * already found them with the same vector and filter (deep mode's second pass).
   */
  readonly denseProposals?: readonly number[];
  /** Entities and neighbouring turns of the first pass's hits (deep mode's second pass). */
  readonly bridge?: Bridge;
  readonly ranking: RankingOptions;
  readonly topK: number;
  /** Candidates each signal proposes (at least topK). */
  readonly pool: number;
  /** Whether the filter (or a non-active document) can reject documents at all. */
  readonly restricts: boolean;
  readonly admits: (slot: number) => boolean;
  /** The slots a filter can only admit from, when it names listed fields. */
  readonly base: FilterBase | null;
  readonly roleWeight: (slot: number) => number;
  readonly referenceTime?: TimeInput;
  /** Lexical score of each session (indexed by session number), written by the lexical signal. */
  readonly sessionLexical: Float64Array;
  /** Sessions whose entry in sessionLexical was written (to be cleared after the search). */
  readonly touchedSessions: number[];
}

export interface QueryInput {
  readonly text: string;
  /** Weighted analysed terms instead of the query text's own (deep mode's second pass). */
  readonly terms?: { readonly terms: readonly string[]; readonly weights: readonly number[] };
  readonly vector: ArrayLike<number> | null;
  readonly denseProposals?: readonly number[];
  readonly bridge?: Bridge;
  readonly ranking: RankingOptions;
  readonly topK: number;
  readonly filter?: MemoryFilter;
  readonly referenceTime?: TimeInput;
}

const ASKS_ASSISTANT =
  /\b(you|assistant)\s+(said|told|suggested|recommended|mentioned|gave|provided|listed|shared|explained|wrote|described|answered|replied)\b|\byour (suggestion|recommendation|answer|response|reply|list|advice)s?\b/i;

/** Whether the query asks what the assistant said (then assistant turns are not down-weighted). */
export function asksAssistant(query: string): boolean {
  return ASKS_ASSISTANT.test(query);
}

const unweighted = (): number => 1;

export function buildQuery(store: DocumentStore, input: QueryInput, sessionLexical: Float64Array): SearchQuery {
  const r = input.ranking;
  const { filter } = input;
  const predicate = compileFilter(filter);
  const restricts = filterRestricts(filter) || store.nonActive > 0;
  const base = restricts ? store.filterBase(filter) : null;
  const mask = base?.mask;
  // When the attribute lists decide the filter and every document is active, the mask
  // is the whole test.
  const states = filter?.states;
  const maskDecides = base?.exact === true && store.nonActive === 0 && (states === undefined || (states.length === 1 && states[0] === 'active'));
  const admits = (slot: number): boolean => {
    if (mask !== undefined && mask[slot] !== 1) return false;
    return store.isLive(slot) && (!restricts || maskDecides || predicate(store.attributes(slot)));
  };
  const roleWeights = asksAssistant(input.text) ? {} : r.roleWeights;
  const weightOfRole = new Float64Array(store.roleNames.length);
  store.roleNames.forEach((name, code) => (weightOfRole[code] = code === 0 ? 1 : roleWeights[name] ?? 1));
  const roleOfSlot = store.roleOfSlot;
  // When no role is weighted (a cube of facts without roles, or a question about the
  // assistant), the weight is 1 without reading the slot's role: the lexical pool asks it of
  // every match, and at a million documents those are scattered reads.
  const uniform = weightOfRole.every((w) => w === 1);
  return {
    text: input.text,
    terms: input.terms?.terms ?? analyzeQuery(input.text),
    termWeights: input.terms?.weights,
    vector: input.vector,
    denseProposals: input.denseProposals,
    bridge: input.bridge,
    ranking: r,
    topK: input.topK,
    pool: Math.max(input.topK, r.candidatePool),
    restricts,
    admits,
    base,
    roleWeight: uniform ? unweighted : (slot) => weightOfRole[roleOfSlot[slot]],
    referenceTime: input.referenceTime,
    sessionLexical,
    touchedSessions: [],
  };
}
