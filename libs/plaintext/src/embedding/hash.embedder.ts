// The offline default embedder: feature hashing of stemmed word unigrams, word bigrams
// and character n-grams (with word-boundary markers) into a fixed number of signed
// buckets, sub-linear term weights, L2-normalised. Deterministic, no model, no network.
// It is a lexical-semantic hybrid (n-grams catch morphology and typos), not a semantic
// model; its value in the hybrid ranker is measured in bench/retrieval.bench.ts.
import { isStopWord, rawTokens, stem } from '../text/analyzer';
import { Embedder, l2Normalize } from './embedder';
import { hash32 } from './feature-hash';

export interface HashEmbedderOptions {
  readonly dimension?: number;
  /** Character n-gram sizes taken inside each word (with ^ and $ boundary markers). */
  readonly charNgrams?: readonly number[];
  readonly unigramWeight?: number;
  readonly bigramWeight?: number;
  readonly charWeight?: number;
}

const VERSION = 1;

export class HashEmbedder implements Embedder {
  readonly dimension: number;
  readonly fingerprint: string;
  private readonly charNgrams: readonly number[];
  private readonly unigramWeight: number;
  private readonly bigramWeight: number;
  private readonly charWeight: number;

  constructor(options: HashEmbedderOptions = {}) {
    this.dimension = options.dimension ?? 256;
    if (!Number.isInteger(this.dimension) || this.dimension < 8) {
      throw new RangeError(`hash embedder dimension must be an integer ≥ 8, got ${this.dimension}`);
    }
    this.charNgrams = options.charNgrams ?? [3, 4];
    this.unigramWeight = options.unigramWeight ?? 1;
    this.bigramWeight = options.bigramWeight ?? 0.5;
    this.charWeight = options.charWeight ?? 0.35;
    const params = `u${this.unigramWeight}-b${this.bigramWeight}-c${this.charNgrams.join('.')}x${this.charWeight}`;
    this.fingerprint = `hash:${this.dimension}:v${VERSION}:${params}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text));
  }

  /** Synchronous form, for callers on a hot path that want no promise per text. */
  embedOne(text: string): Float32Array {
    const features = new Map<string, number>();
    const add = (key: string): void => {
      features.set(key, (features.get(key) ?? 0) + 1);
    };
    const tokens = rawTokens(text);
    let previous: string | null = null;
    for (const token of tokens) {
      if (isStopWord(token)) {
        previous = null;
        continue;
      }
      const term = stem(token);
      add('w:' + term);
      if (previous !== null) add('b:' + previous + ' ' + term);
      previous = term;
      if (this.charWeight > 0) {
        const padded = '^' + term + '$';
        for (const n of this.charNgrams) {
          if (padded.length < n) continue;
          for (let i = 0; i + n <= padded.length; i++) add('c:' + padded.slice(i, i + n));
        }
      }
    }
    const vector = new Float32Array(this.dimension);
    for (const [key, count] of features) {
      const h = hash32(key);
      // Sub-linear tf: a word said ten times is not ten times as much about that word.
      const kind = key.charCodeAt(0);
      const base = kind === 119 /* w */ ? this.unigramWeight : kind === 98 /* b */ ? this.bigramWeight : this.charWeight;
      const weight = base * (1 + Math.log(count));
      vector[h % this.dimension] += h & 0x80000000 ? -weight : weight;
    }
    return l2Normalize(vector);
  }
}

