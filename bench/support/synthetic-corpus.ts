// A seeded synthetic memory corpus for speed benches: Zipf-like words over a 30k
// vocabulary, 8–40 words a memory, kinds, tags, metadata, sessions and times.

/** The seeded PRNG of the project (mulberry32). */
export { mulberry32 as rng } from '@engram/inference';
import { mulberry32 as rng } from '@engram/inference';

export interface SyntheticMemory {
  text: string;
  kind: string;
  tags: string[];
  metadata: Record<string, unknown>;
  sessionId: string;
  observedAt: Date;
  importance: number;
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'to', 'sa', 'vel', 'dor', 'pi', 'qua', 'zen', 'mor', 'li', 'ba', 'cu', 'ne', 'tra', 'ol', 'gi', 'fa'];
const KINDS = ['fact', 'episode', 'preference', 'procedure', 'message'];
const TAGS = ['work', 'family', 'travel', 'health', 'food', 'music', 'sport', 'money'];

export class SyntheticCorpus {
  private readonly random: () => number;
  private readonly vocab: string[];

  constructor(seed: number) {
    this.random = rng(seed);
    this.vocab = Array.from({ length: 30_000 }, () => {
      const n = 2 + Math.floor(this.random() * 3);
      let w = '';
      for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(this.random() * SYLLABLES.length)];
      return w;
    });
  }

  word(): string {
    const u = this.random();
    return this.vocab[Math.min(this.vocab.length - 1, Math.floor(Math.exp(u * Math.log(this.vocab.length + 1)) - 1))];
  }

  sentence(min: number, max: number): string {
    const n = min + Math.floor(this.random() * (max - min + 1));
    return Array.from({ length: n }, () => this.word()).join(' ');
  }

  memory(i: number): SyntheticMemory {
    const r = this.random;
    return {
      text: this.sentence(8, 40),
      kind: KINDS[Math.floor(r() * KINDS.length)],
      tags: [TAGS[Math.floor(r() * TAGS.length)], TAGS[Math.floor(r() * TAGS.length)]],
      metadata: { source: r() < 0.1 ? 'import' : 'chat', priority: Math.floor(r() * 3) },
      sessionId: `s${Math.floor(i / 12)}`,
      observedAt: new Date(Date.UTC(2025, 0, 1) + Math.floor(r() * 365 * 86_400_000)),
      importance: Math.round(r() * 100) / 100,
    };
  }
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function summarize(samples: number[]): { p50: number; p99: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((s, v) => s + v, 0) / Math.max(1, samples.length);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean };
}

/** A memory as MemoryService.add takes it (source.sessionId, observedAt as a Date). */
export type ServiceRow = { text: string; kind: 'fact'; tags: string[]; metadata: Record<string, unknown>; source: { sessionId: string }; observedAt: Date; importance: number };

/** n memories of the corpus as service rows; `from` numbers them on (their sessions follow the numbering). */
export function serviceRows(corpus: SyntheticCorpus, n: number, from = 0): ServiceRow[] {
  return Array.from({ length: n }, (_, i) => {
    const m = corpus.memory(from + i);
    return { text: m.text, kind: 'fact', tags: m.tags, metadata: m.metadata, source: { sessionId: m.sessionId }, observedAt: m.observedAt, importance: m.importance };
  });
}

/** Ranks 0..n-1 drawn with probability ∝ 1/(rank+1)^s: the cumulative weights. */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / Math.pow(r + 1, s);
  return cdf;
}

/** A rank under `ranks` drawn by the cumulative weights. */
export function drawRank(cdf: Float64Array, ranks: number, random: () => number): number {
  const u = random() * cdf[ranks - 1];
  let lo = 0;
  let hi = ranks - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A copy of `items` in an order drawn by `random` (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
