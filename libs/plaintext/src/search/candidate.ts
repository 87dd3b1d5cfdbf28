// A document under consideration in one search, with the score of each signal and of each
// ranking stage, and the pool that collects candidates from the signals.

export interface SignalScore {
  /** The signal's raw score of the document (cosine, BM25 × role weight, ...). */
  score: number;
  /** 1-based rank among the documents the signal itself proposed; null when it did not propose this one. */
  rank: number | null;
  /**
   * The signal cannot score this document (dense: no vector stored yet, ADR 0106): fusion
   * ranks it by the other signals alone, and its score here is no measurement.
   */
  missing?: boolean;
}

export interface Candidate {
  readonly slot: number;
  /** By signal name: filled for every candidate once the signals have completed their scores. */
  readonly signals: Record<string, SignalScore>;
  /** Fused score of the document alone. */
  document: number;
  /** Score of its session context. */
  context: number;
  /** Document and context blended. */
  combined: number;
  importance: number;
  recency: number;
  time: number;
  score: number;
}

export class CandidatePool {
  private readonly bySlot = new Map<number, Candidate>();

  /** The candidate for a slot, added on first sight. */
  get(slot: number): Candidate {
    let c = this.bySlot.get(slot);
    if (!c) {
      c = { slot, signals: {}, document: 0, context: 0, combined: 0, importance: 0, recency: 0, time: 0, score: 0 };
      this.bySlot.set(slot, c);
    }
    return c;
  }

  /** Candidates in the order they were first proposed. */
  all(): Candidate[] {
    return [...this.bySlot.values()];
  }
}

/** The score of a signal for a candidate, 0 when the signal did not run. */
export function signalScore(c: Candidate, signal: string): number {
  return c.signals[signal]?.score ?? 0;
}
