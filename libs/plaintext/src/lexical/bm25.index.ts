// In-process BM25 (Okapi, k1/b) over an inverted index with typed-array postings.
// Documents are dense integer slots handed out by the caller (CubeIndex) in ascending
// order, so every posting list is sorted by slot; a slot is used once (an update takes a
// new slot), removal marks the slot dead at once and postings are compacted lazily when
// they are half dead, so add/remove stay O(terms of the document) and a removed document
// can never score. score() evaluates a query exhaustively; lexical/bm25-topk.ts finds the
// same best documents without scoring every match.
//
// Common terms (in more than `commonShare` of the documents) are evaluated as in
// Lucene's common-terms query: once the rarer query terms have matched enough documents,
// a common term only adds to the scores of documents already matched, so the caller ranks
// thousands of documents instead of most of the index. Terms are taken rarest first and a
// term opens new documents while fewer than the caller's pool are matched, so a query of
// common terms only is opened by its rarest term, and rare terms that match too few
// documents leave the common ones to score as plain BM25 does.

export interface Bm25Options {
  readonly k1?: number;
  readonly b?: number;
  /** Share of documents above which a term counts as common (default 0.05). */
  readonly commonShare?: number;
}

export interface ScoreOptions {
  /**
   * Common terms are allowed to open new documents only while the rarer terms have
   * matched fewer documents than this (the caller's candidate pool). 0 = never limited
   * (plain BM25 over every matching document).
   */
  readonly minMatches?: number;
  /** Only documents it admits count towards minMatches (the caller's filter). */
  readonly admits?: (slot: number) => boolean;
  /** Weight of each query term (parallel to queryTerms; 1 when absent), e.g. expansion terms below 1. */
  readonly weights?: readonly number[];
}

/** scoreGroupsOf() codes a member as slot · MEMBER_KEY + its group's index among the wanted ones. */
const MEMBER_KEY = 1 << 16;

/** Below this many documents no term is treated as common: the index is small anyway. */
const COMMON_MIN_DOCS = 1000;

/** Scores of every live document that shares at least one term with the query. */
export interface LexicalHits {
  /** Slots, in no particular order; valid until the next call to score(). */
  readonly slots: Int32Array;
  readonly scores: Float32Array;
  readonly count: number;
}

/**
 * Groups of documents (a cube's sessions) scored as if each group were one document made
 * of its members: term counts add up over the members, length is the members' total.
 */
export interface DocumentGroups {
  /** Group of each slot, -1 for none. */
  readonly groupOf: Int32Array;
  /** Per group: analysed terms of its live members. */
  readonly length: Float64Array;
  /** Groups with at least one live member. */
  readonly live: number;
  /** Sum of `length` over the groups. */
  readonly totalLength: number;
}

export interface GroupHits {
  /** Group numbers, in no particular order; valid until the next call to scoreGroups(). */
  readonly groups: Int32Array;
  readonly scores: Float64Array;
  readonly count: number;
}

import { DocTermLists } from './doc-term-lists';
import { lowerBound } from './sorted-slots';
import { PostingPool } from './posting-pool';
import { TermVocabulary } from './term-vocabulary';

const BM25_MAGIC = 0x35324d42; // "BM25"

/** Documents after which a rebuild that reserved its slots sizes the postings pool for all of them. */
const EXTRAPOLATE_AFTER = 2000;

/** Live postings per piece of encodeChunks(). */
const POSTINGS_PER_PIECE = 1 << 18;

/** A copy of a typed array's bytes (a piece may be written after the array changed). */
function copy(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function pad4(b: Buffer): Buffer {
  return b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
}

export class Bm25Index {
  private readonly k1: number;
  private readonly b: number;
  /** Terms and their ids, in typed arrays (term-vocabulary.ts). */
  private terms = new TermVocabulary();
  /** Every term's postings, by term id (posting-pool.ts). */
  private postings = new PostingPool();
  /**
   * Per slot: term ids, kept to undo a document on removal. Null after decode() until a
   * removal or termsOf() needs them (derived from the postings then): a loaded index that
   * is only searched never builds them.
   */
  private termsBySlot: DocTermLists | null = new DocTermLists();
  private docLength = new Float32Array(1024);
  /** Per slot: 0 never used, 1 live, 2 removed. */
  private alive = new Uint8Array(1024);
  private accumulator = new Float32Array(1024);
  private touched = new Int32Array(1024);
  private liveDocs = 0;
  /** Documents reserve() was told to expect (0: none). */
  private expectedSlots = 0;
  /** One past the highest slot ever added. */
  private slotsEnd = 0;
  private totalLength = 0;

  private readonly commonShare: number;
  // Scratch of scoreGroups(), per group.
  private groupAcc = new Float64Array(0);
  private groupTf = new Float64Array(0);
  private groupStamp = new Int32Array(0);
  private groupTouched = new Int32Array(0);
  private groupTermTouched = new Int32Array(0);
  /** Stamp of the term being counted in scoreGroups(): a group's stamp says it was seen. */
  private groupEpoch = 0;
  // Scratch of scoreGroupsOf(), per group: the caller's index of a wanted group, valid where groupWantedStamp is the call's stamp.
  private groupWanted = new Int32Array(0);
  private groupWantedStamp = new Int32Array(0);
  private groupWantedEpoch = 0;
  /**
   * Per term id: how many groups hold a live document with the term (scoreGroupsOf()'s
   * idf), -1 when not counted since the term's postings last changed; counted under the
   * grouping groupDfOf (a slot's group never changes, so only the postings invalidate).
   */
  private groupDf = new Int32Array(0);
  private groupDfOf: Int32Array | null = null;

  constructor(options: Bm25Options = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    this.commonShare = options.commonShare ?? 0.05;
  }

  get size(): number {
    return this.liveDocs;
  }

  has(slot: number): boolean {
    return slot < this.alive.length && this.alive[slot] === 1;
  }

  /** Indexes analysed terms under a fresh slot (slots are never reused). */
  add(slot: number, terms: readonly string[]): void {
    this.ensureCapacity(slot + 1);
    if (this.alive[slot] !== 0) throw new Error(`BM25 slot ${slot} was already used`);
    // Postings stay in ascending slot order, which bm25-topk.ts's cursors rely on.
    if (slot < this.slotsEnd) throw new Error(`BM25 slots are added in ascending order (${slot} after ${this.slotsEnd - 1})`);
    this.slotsEnd = slot + 1;
    const counts = new Map<number, number>();
    for (const term of terms) {
      let id = this.terms.idOf(term);
      if (id === undefined) {
        id = this.postings.addTerm();
        this.terms.add(term); // the same id: both count terms from 0 in order
      }
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const ids = new Int32Array(counts.size);
    let i = 0;
    const groupDf = this.groupDf;
    for (const [id, tf] of counts) {
      this.postings.push(id, slot, tf);
      if (id < groupDf.length) groupDf[id] = -1;
      ids[i++] = id;
    }
    this.docTerms().set(slot, ids);
    this.docLength[slot] = terms.length;
    this.alive[slot] = 1;
    this.liveDocs++;
    if (this.liveDocs === EXTRAPOLATE_AFTER && this.expectedSlots > 2 * EXTRAPOLATE_AFTER) {
      // The postings of the first documents, times the documents to come, and a third for the blocks' room.
      this.postings.reserveRoom(Math.ceil((this.postings.held / EXTRAPOLATE_AFTER) * this.expectedSlots * 1.33));
    }
    this.totalLength += terms.length;
  }

  remove(slot: number): boolean {
    if (!this.has(slot)) return false;
    const docTerms = this.docTerms(); // while the slot is still live
    this.alive[slot] = 2;
    this.liveDocs--;
    this.totalLength -= this.docLength[slot];
    const pool = this.postings;
    const groupDf = this.groupDf;
    docTerms.forEach(slot, (id) => {
      if (id < groupDf.length) groupDf[id] = -1;
      pool.live[id]--;
      if (pool.live[id] * 2 < pool.length[id]) pool.compactTerm(id, (s) => this.alive[s] === 1);
    });
    docTerms.delete(slot);
    return true;
  }

  /** Analysed length of a live document (0 otherwise). */
  lengthOf(slot: number): number {
    return this.has(slot) ? this.docLength[slot] : 0;
  }

  /**
   * Estimated memory: postings, per-document term lists, per-slot arrays and the
   * vocabulary's arrays. O(1).
   */
  approximateBytes(): number {
    const perSlot = this.docLength.byteLength + this.alive.byteLength + this.accumulator.byteLength + this.touched.byteLength;
    return perSlot + this.postings.byteLength + (this.termsBySlot?.byteLength ?? 0) + this.terms.byteLength;
  }

  /**
   * Gives back the postings' spare room when it is more than a third of the pool (after a
   * snapshot, when the index has settled, e.g. after a rebuild): the next postings of a term
   * move its block again and grow the pool by a quarter, which stays below the third, so a
   * cube that takes a few writes between saves is not copied whole at every save.
   */
  trim(): void {
    if (this.postings.slack > 1 / 3) this.postings.trim();
  }

  /** Inverse document frequency of an analysed term (0 when unknown). */
  idf(term: string): number {
    const id = this.terms.idOf(term);
    if (id === undefined) return 0;
    return this.idfOf(this.postings.live[id]);
  }

  /**
   * BM25 of the live documents that share a term with the analysed query (duplicates count
   * once more each, as query term frequency); common terms as described at the top. The
   * returned arrays are reused by the next call.
   */
  score(queryTerms: readonly string[], options: ScoreOptions = {}): LexicalHits {
    const n = this.liveDocs;
    if (n === 0 || queryTerms.length === 0) return { slots: this.touched, scores: new Float32Array(0), count: 0 };
    const avgdl = this.totalLength / n || 1;
    const k1 = this.k1;
    const acc = this.accumulator;
    const touched = this.touched;
    // Locals, not `this.` loads, inside the hot loop.
    const alive = this.alive;
    const docLength = this.docLength;
    const lengthFactor = (k1 * this.b) / avgdl;
    const baseNorm = k1 * (1 - this.b);
    let count = 0;
    const commonDf = this.commonDf();
    // Rarest first, so that the common terms find the documents they may add to.
    const pool = this.postings;
    const live = pool.live;
    const terms = [...this.queryTermCounts(queryTerms, Infinity, options.weights)].sort((x, y) => live[x[0]] - live[y[0]] || x[0] - y[0]);
    const minMatches = options.minMatches ?? 0;
    const admits = options.admits;
    let matched = 0; // admitted documents among touched[0, counted)
    let counted = 0;
    const enoughMatched = (): boolean => {
      if (admits === undefined) return count >= minMatches;
      for (; counted < count && matched < minMatches; counted++) if (admits(touched[counted])) matched++;
      return matched >= minMatches;
    };
    const slots = pool.slots;
    const tfs = pool.tfs;
    for (const [id, qtf] of terms) {
      const idf = this.idfOf(live[id]) * qtf;
      const from = pool.start[id];
      const end = from + pool.length[id];
      if (live[id] > commonDf && minMatches > 0 && enoughMatched()) {
        // Only documents already matched (a score above 0 means touched, hence live).
        for (let i = from; i < end; i++) {
          const s = slots[i];
          if (acc[s] === 0) continue;
          const tf = tfs[i];
          acc[s] += (idf * tf * (k1 + 1)) / (tf + baseNorm + lengthFactor * docLength[s]);
        }
        continue;
      }
      for (let i = from; i < end; i++) {
        const s = slots[i];
        if (alive[s] !== 1) continue;
        const tf = tfs[i];
        const contribution = (idf * tf * (k1 + 1)) / (tf + baseNorm + lengthFactor * docLength[s]);
        if (acc[s] === 0) touched[count++] = s;
        acc[s] += contribution;
      }
    }
    const scores = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const s = touched[i];
      scores[i] = acc[s];
      acc[s] = 0;
    }
    return { slots: touched, scores, count };
  }

  /**
   * BM25 of document groups against the analysed query: each group counts as one document
   * holding all its live members (term frequency summed, length the members' total, idf
   * over groups), so a term said in many turns of a session saturates as in a long
   * document. Common terms are left out: over groups their idf is smaller still, and
   * walking their postings would cost what score() saves. The returned arrays are reused
   * by the next call.
   */
  scoreGroups(queryTerms: readonly string[], groups: DocumentGroups, weights?: readonly number[]): GroupHits {
    const g = groups.live;
    this.ensureGroupScratch(groups.length.length);
    const acc = this.groupAcc;
    const tfOf = this.groupTf;
    const stamp = this.groupStamp;
    const touched = this.groupTouched;
    const termTouched = this.groupTermTouched;
    if (g === 0 || queryTerms.length === 0) return { groups: touched, scores: new Float64Array(0), count: 0 };
    const { k1, lengthFactor, baseNorm } = this.groupNorms(groups);
    const groupOf = groups.groupOf;
    const groupLength = groups.length;
    const alive = this.alive;
    const commonDf = this.commonDf();
    const queryCounts = this.queryTermCounts(queryTerms, commonDf, weights);
    let count = 0;
    const pool = this.postings;
    const slots = pool.slots;
    const tfs = pool.tfs;
    for (const [id, qtf] of queryCounts) {
      const term = this.nextGroupEpoch();
      let df = 0;
      const end = pool.start[id] + pool.length[id];
      for (let i = pool.start[id]; i < end; i++) {
        const s = slots[i];
        if (alive[s] !== 1) continue;
        const group = groupOf[s];
        if (group < 0) continue;
        if (stamp[group] !== term) {
          stamp[group] = term;
          termTouched[df++] = group;
        }
        tfOf[group] += tfs[i];
      }
      const idf = Math.log(1 + (g - df + 0.5) / (df + 0.5)) * qtf;
      for (let j = 0; j < df; j++) {
        const group = termTouched[j];
        const tf = tfOf[group];
        tfOf[group] = 0;
        if (acc[group] === 0) touched[count++] = group;
        acc[group] += (idf * tf * (k1 + 1)) / (tf + baseNorm + lengthFactor * groupLength[group]);
      }
    }
    const scores = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const group = touched[i];
      scores[i] = acc[group];
      acc[group] = 0;
    }
    return { groups: touched, scores, count };
  }

  /**
   * scoreGroups()'s scores of the wanted groups only (parallel to `wanted`; 0 for a group
   * no query term reaches), to the bit: the same terms in the same order, idf over groups,
   * term counts summed over the live members `membersOf` lists. A term's idf needs the
   * number of groups holding it, counted once and kept until the term's postings change;
   * its counts in the wanted groups come from a walk of its postings when they are short,
   * else from a binary search per member. So a search that needs the context of its
   * candidates' sessions only (a few hundred) does not score every session a query term
   * touches (most of a large cube's sessions for a term in a few percent of its documents).
   */
  scoreGroupsOf(queryTerms: readonly string[], groups: DocumentGroups, wanted: readonly number[], membersOf: (group: number) => readonly number[], weights?: readonly number[]): Float64Array {
    const out = new Float64Array(wanted.length);
    const g = groups.live;
    if (g === 0 || wanted.length === 0 || queryTerms.length === 0) return out;
    this.ensureGroupScratch(groups.length.length);
    if (this.groupDfOf !== groups.groupOf || this.groupDf.length < this.postings.termCount) {
      // A new grouping array (the caller's grew) or new terms: counted again as needed.
      const previous = this.groupDfOf === groups.groupOf ? this.groupDf : new Int32Array(0);
      this.groupDf = new Int32Array(Math.max(this.postings.termCount, 2 * previous.length)).fill(-1);
      this.groupDf.set(previous);
      this.groupDfOf = groups.groupOf;
    }
    const epoch = ++this.groupWantedEpoch;
    if (epoch > 0x3fffffff) {
      this.groupWantedStamp.fill(0);
      this.groupWantedEpoch = 0;
      return this.scoreGroupsOf(queryTerms, groups, wanted, membersOf, weights);
    }
    const wantedStamp = this.groupWantedStamp;
    const wantedIndex = this.groupWanted;
    let members = 0;
    for (let w = 0; w < wanted.length; w++) {
      const group = wanted[w];
      if (group < 0 || group >= wantedStamp.length || wantedStamp[group] === epoch) continue;
      wantedStamp[group] = epoch;
      wantedIndex[group] = w;
      members += membersOf(group).length;
    }
    const { k1, lengthFactor, baseNorm } = this.groupNorms(groups);
    const groupOf = groups.groupOf;
    const groupLength = groups.length;
    const alive = this.alive;
    const pool = this.postings;
    const slots = pool.slots;
    const tfs = pool.tfs;
    const tfOf = new Float64Array(wanted.length);
    // The live members, ascending, each with its group's index in `wanted` (slot · 2^16 + w, exact
    // in a double), for a merge with a term's postings when those are much longer.
    let merged: Float64Array | null = null;
    const mergeOf = (): Float64Array => {
      const keys = new Float64Array(members);
      let n = 0;
      for (let w = 0; w < wanted.length; w++) {
        const group = wanted[w];
        if (group < 0 || group >= wantedStamp.length || wantedIndex[group] !== w) continue;
        for (const s of membersOf(group)) if (alive[s] === 1) keys[n++] = s * MEMBER_KEY + w;
      }
      return keys.subarray(0, n).sort();
    };
    for (const [id, qtf] of this.queryTermCounts(queryTerms, this.commonDf(), weights)) {
      const from = pool.start[id];
      const end = from + pool.length[id];
      const df = this.groupsHolding(id, groups);
      const idf = Math.log(1 + (g - df + 0.5) / (df + 0.5)) * qtf;
      if (end - from <= members * 4 || wanted.length >= MEMBER_KEY) {
        for (let i = from; i < end; i++) {
          const s = slots[i];
          if (alive[s] !== 1) continue;
          const group = groupOf[s];
          if (group >= 0 && wantedStamp[group] === epoch) tfOf[wantedIndex[group]] += tfs[i];
        }
      } else {
        // Galloping from the previous member's position: about 2·log2(postings / members) steps a member.
        merged ??= mergeOf();
        let at = from;
        for (let k = 0; k < merged.length && at < end; k++) {
          const key = merged[k];
          const s = Math.floor(key / MEMBER_KEY);
          let step = 1;
          while (at + step < end && slots[at + step] < s) step *= 2;
          at = lowerBound(slots, at + (step >> 1), Math.min(at + step + 1, end), s);
          if (at < end && slots[at] === s) tfOf[key - s * MEMBER_KEY] += tfs[at];
        }
      }
      for (let w = 0; w < wanted.length; w++) {
        const tf = tfOf[w];
        if (tf === 0) continue;
        tfOf[w] = 0;
        out[w] += (idf * tf * (k1 + 1)) / (tf + baseNorm + lengthFactor * groupLength[wanted[w]]);
      }
    }
    // A group listed twice gets its first entry's score.
    for (let w = 0; w < wanted.length; w++) {
      const group = wanted[w];
      if (group >= 0 && group < wantedStamp.length && wantedIndex[group] !== w) out[w] = out[wantedIndex[group]];
    }
    return out;
  }

  /** BM25's constants over groups (their average length in place of the documents'). */
  private groupNorms(groups: DocumentGroups): { k1: number; lengthFactor: number; baseNorm: number } {
    const k1 = this.k1;
    return { k1, lengthFactor: (k1 * this.b) / (groups.totalLength / groups.live || 1), baseNorm: k1 * (1 - this.b) };
  }

  /** Groups holding a live document with the term (counted under `groups` when not known). */
  private groupsHolding(id: number, groups: DocumentGroups): number {
    const known = this.groupDf[id];
    if (known >= 0) return known;
    const term = this.nextGroupEpoch();
    const stamp = this.groupStamp;
    const groupOf = groups.groupOf;
    const alive = this.alive;
    const pool = this.postings;
    const slots = pool.slots;
    let df = 0;
    const end = pool.start[id] + pool.length[id];
    for (let i = pool.start[id]; i < end; i++) {
      const s = slots[i];
      if (alive[s] !== 1) continue;
      const group = groupOf[s];
      if (group < 0 || stamp[group] === term) continue;
      stamp[group] = term;
      df++;
    }
    this.groupDf[id] = df;
    return df;
  }

  private ensureGroupScratch(size: number): void {
    if (this.groupAcc.length >= size) return;
    this.groupAcc = new Float64Array(size);
    this.groupTf = new Float64Array(size);
    this.groupStamp = new Int32Array(size);
    this.groupTouched = new Int32Array(size);
    this.groupTermTouched = new Int32Array(size);
    // No stamp outlives a call: zeros never match the next call's epoch.
    this.groupWanted = new Int32Array(size);
    this.groupWantedStamp = new Int32Array(size);
  }

  /** A fresh stamp for groupStamp (cleared before the counter could overflow). */
  private nextGroupEpoch(): number {
    if (this.groupEpoch > 0x3fffffff) {
      this.groupStamp.fill(0);
      this.groupEpoch = 0;
    }
    return ++this.groupEpoch;
  }

  /** Live documents above which a term is common (Infinity for small indexes). */
  private commonDf(): number {
    return this.liveDocs >= COMMON_MIN_DOCS ? this.commonShare * this.liveDocs : Infinity;
  }

  /** Term id → query term frequency (summed weights), for query terms in 1..maxDf live documents. */
  private queryTermCounts(queryTerms: readonly string[], maxDf: number, weights?: readonly number[]): Map<number, number> {
    const counts = new Map<number, number>();
    queryTerms.forEach((term, i) => {
      const id = this.terms.idOf(term);
      if (id === undefined) return;
      const live = this.postings.live[id];
      if (live > 0 && live <= maxDf) counts.set(id, (counts.get(id) ?? 0) + (weights?.[i] ?? 1));
    });
    return counts;
  }

  /**
   * The distinct analysed terms of a live document with their document frequency, for
   * pseudo-relevance feedback (empty for a removed slot).
   */
  termsOf(slot: number): { readonly term: string; readonly df: number }[] {
    if (!this.has(slot)) return [];
    const out: { term: string; df: number }[] = [];
    this.docTerms().forEach(slot, (id) => out.push({ term: this.terms.nameOf(id), df: this.postings.live[id] }));
    return out;
  }

  /** Live documents holding an analysed term (0 when unknown). */
  df(term: string): number {
    const id = this.terms.idOf(term);
    return id === undefined ? 0 : this.postings.live[id];
  }

  /** Live documents above which a term counts as common. */
  get commonLimit(): number {
    return this.commonDf();
  }

  /**
   * Read-only views for query evaluation outside this file (lexical/bm25-topk.ts): a term's
   * postings (slots ascending, dead ones included until compacted) and the per-slot state
   * score() reads. Valid until the index next changes.
   */
  postingsOf(term: string): { readonly slots: Int32Array; readonly tfs: Uint16Array; readonly length: number; readonly live: number; readonly id: number } | undefined {
    const id = this.terms.idOf(term);
    if (id === undefined) return undefined;
    const pool = this.postings;
    const from = pool.start[id];
    const to = from + pool.length[id];
    return { slots: pool.slots.subarray(from, to), tfs: pool.tfs.subarray(from, to), length: to - from, live: pool.live[id], id };
  }

  /** The state score() computes with: k1, b, live documents and their total length, per-slot lengths and liveness. */
  scoringState(): { readonly k1: number; readonly b: number; readonly liveDocs: number; readonly totalLength: number; readonly docLength: Float32Array; readonly alive: Uint8Array } {
    return { k1: this.k1, b: this.b, liveDocs: this.liveDocs, totalLength: this.totalLength, docLength: this.docLength, alive: this.alive };
  }

  /**
   * The index as bytes (vocabulary in id order, document lengths, live postings), so that
   * decode() rebuilds it without analysing a text: term ids, slots and posting order stay
   * as they are, hence every score stays the same.
   */
  encode(): Buffer {
    return Buffer.concat([...this.encodeChunks()]);
  }

  /**
   * encode()'s bytes in bounded pieces (an empty piece marks a pause in a long scan), so a
   * caller writing a large index can yield to the event loop between them (ADR 0115). The
   * index must not change until the pieces are consumed.
   */
  *encodeChunks(): Generator<Buffer> {
    const slotCount = this.alive.length;
    const alive = this.alive;
    const pool = this.postings;
    const termCount = pool.termCount;
    const counts = new Uint32Array(termCount);
    let total = 0;
    let scanned = 0;
    for (let id = 0; id < termCount; id++) {
      const from = pool.start[id];
      const end = from + pool.length[id];
      let live = 0;
      for (let i = from; i < end; i++) if (alive[pool.slots[i]] === 1) live++;
      counts[id] = live;
      total += live;
      scanned += pool.length[id] + 16;
      if (scanned >= POSTINGS_PER_PIECE) {
        scanned = 0;
        yield Buffer.alloc(0);
      }
    }
    const vocab = this.terms.encode();
    yield copy(new Uint32Array([BM25_MAGIC, termCount, slotCount, vocab.length, total]));
    yield pad4(vocab);
    yield copy(this.docLength.subarray(0, slotCount));
    yield pad4(copy(alive.subarray(0, slotCount)));
    yield copy(counts);
    // The live postings twice, slots then term frequencies, each in pieces.
    for (const column of ['slots', 'tfs'] as const) {
      const piece = column === 'slots' ? new Int32Array(POSTINGS_PER_PIECE) : new Uint16Array(POSTINGS_PER_PIECE);
      let at = 0;
      const values = pool[column];
      for (let id = 0; id < termCount; id++) {
        const end = pool.start[id] + pool.length[id];
        for (let i = pool.start[id]; i < end; i++) {
          if (alive[pool.slots[i]] !== 1) continue;
          piece[at++] = values[i];
          if (at === POSTINGS_PER_PIECE) {
            yield copy(piece);
            at = 0;
          }
        }
      }
      // Whole pieces are 4-byte multiples: padding the last pads the column.
      const last = copy(piece.subarray(0, at));
      yield column === 'tfs' ? pad4(last) : last;
    }
  }

  /** The index encode() wrote; throws on bytes that are not one. */
  static decode(data: Buffer, options: Bm25Options = {}): Bm25Index {
    const buffer = new Uint8Array(data).buffer; // an aligned copy
    const header = new Uint32Array(buffer, 0, 5);
    const [magic, termCount, slotCount, vocabBytes, total] = header;
    if (magic !== BM25_MAGIC) throw new Error('not a BM25 index');
    let at = 20;
    const terms = TermVocabulary.decode(new Uint8Array(buffer, at, vocabBytes), termCount);
    at += align4(vocabBytes);
    const docLength = new Float32Array(buffer, at, slotCount);
    at += 4 * slotCount;
    const alive = new Uint8Array(buffer, at, slotCount);
    at += align4(slotCount);
    const counts = new Uint32Array(buffer, at, termCount);
    at += 4 * termCount;
    const slots = new Int32Array(buffer, at, total);
    at += 4 * total;
    const tfs = new Uint16Array(buffer, at, total);
    if (at + align4(2 * total) !== buffer.byteLength) throw new Error('BM25 index has the wrong length');
    const index = new Bm25Index(options);
    index.ensureCapacity(Math.max(1, slotCount));
    index.docLength.set(docLength);
    index.alive.set(alive);
    for (let i = 0; i < total; i++) {
      if (slots[i] < 0 || slots[i] >= slotCount || alive[slots[i]] !== 1) throw new Error('BM25 posting names a dead slot');
    }
    let listed = 0;
    for (let id = 0; id < termCount; id++) listed += counts[id];
    if (listed !== total) throw new Error('BM25 posting counts do not add up');
    index.terms = terms;
    // Views into the decoded buffer: the first block that must grow moves the pool into its own arrays.
    index.postings = PostingPool.adopt(counts, slots, tfs);
    for (let slot = 0; slot < slotCount; slot++) {
      if (alive[slot] !== 0) index.slotsEnd = slot + 1;
      if (alive[slot] !== 1) continue;
      index.liveDocs++;
      index.totalLength += docLength[slot];
    }
    index.termsBySlot = null;
    return index;
  }

  /** The term ids of every live slot, derived from the postings the first time a decoded index needs them. */
  private docTerms(): DocTermLists {
    if (this.termsBySlot) return this.termsBySlot;
    // Every live slot's ids in one flat array (slot by slot, ids increasing), then coded list by list.
    const slotCount = this.alive.length;
    const offset = new Int32Array(slotCount + 1);
    const pool = this.postings;
    const eachPosting = (fn: (slot: number, id: number) => void) => {
      for (let id = 0; id < pool.termCount; id++) {
        const end = pool.start[id] + pool.length[id];
        for (let i = pool.start[id]; i < end; i++) if (this.alive[pool.slots[i]] === 1) fn(pool.slots[i], id);
      }
    };
    eachPosting((slot) => offset[slot + 1]++);
    for (let slot = 0; slot < slotCount; slot++) offset[slot + 1] += offset[slot];
    const flat = new Int32Array(offset[slotCount]);
    const filled = offset.slice(0, slotCount);
    eachPosting((slot, id) => (flat[filled[slot]++] = id));
    const docTerms = new DocTermLists();
    for (let slot = 0; slot < slotCount; slot++) if (this.alive[slot] === 1) docTerms.set(slot, flat.subarray(offset[slot], offset[slot + 1]));
    return (this.termsBySlot = docTerms);
  }

  private idfOf(df: number): number {
    return Math.log(1 + (this.liveDocs - df + 0.5) / (df + 0.5));
  }

  /** Room for this many slots in one allocation (a rebuild that knows its size). */
  reserve(slots: number): void {
    this.ensureCapacity(slots, true);
    this.expectedSlots = slots;
  }

  private ensureCapacity(n: number, exact = false): void {
    if (n <= this.alive.length) return;
    let cap = this.alive.length;
    while (cap < n) cap *= 2;
    if (exact) cap = n;
    const grow = <T extends Float32Array | Uint8Array | Int32Array>(a: T, make: (c: number) => T): T => {
      const next = make(cap);
      next.set(a);
      return next;
    };
    this.docLength = grow(this.docLength, (c) => new Float32Array(c));
    this.alive = grow(this.alive, (c) => new Uint8Array(c));
    this.accumulator = grow(this.accumulator, (c) => new Float32Array(c));
    this.touched = grow(this.touched, (c) => new Int32Array(c));
  }
}

