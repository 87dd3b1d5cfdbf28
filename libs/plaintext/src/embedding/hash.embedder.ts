// The offline default embedder: feature hashing of stemmed word unigrams, word bigrams
// and character n-grams (with word-boundary markers) into a fixed number of signed
// buckets, sub-linear term weights, L2-normalised. Deterministic, no model, no network.
// It is a lexical-semantic hybrid (n-grams catch morphology and typos), not a semantic
// model; its value in the hybrid ranker is measured in bench/retrieval.bench.ts.
import { DEFAULT_RANKING } from '../ranking/ranking-options';
import { isStopWord, rawTokens, suffixStem } from '../text/analyzer';
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

const VERSION = 2;
/** Words whose features are kept ready; a conversation vocabulary fits many times over. */
const WORD_CACHE_LIMIT = 100_000;

interface WordFeatures {
  readonly stemmed: string;
  /** Signed bucket of the unigram: bucket + 1, negated when the sign bit is set. */
  readonly unigram: number;
  /** Signed buckets of the character n-grams, same encoding. */
  readonly chars: Int32Array;
}

export class HashEmbedder implements Embedder {
  readonly dimension: number;
  readonly fingerprint: string;
  /** Its similarity is word and character overlap, which BM25 mostly has already (ADR 0101). */
  readonly denseWeight = DEFAULT_RANKING.denseWeight;
  /** ≈ 0.05 ms of CPU per text, under half what storing the row costs (ADR 0118). */
  readonly pipelineWrites = true;
  private readonly charNgrams: readonly number[];
  private readonly unigramWeight: number;
  private readonly bigramWeight: number;
  private readonly charWeight: number;
  private readonly words = new Map<string, WordFeatures | null>();

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
    // Word unigrams and bigrams get sub-linear counts (a word said ten times is not ten
    // times as much about it); character n-grams are added as they come.
    const unigrams = new Map<number, number>();
    const bigrams = new Map<number, number>();
    const vector = new Float32Array(this.dimension);
    let previous: string | null = null;
    for (const token of rawTokens(text)) {
      const features = this.wordFeatures(token);
      if (features === null) {
        previous = null;
        continue;
      }
      unigrams.set(features.unigram, (unigrams.get(features.unigram) ?? 0) + 1);
      if (previous !== null) {
        const bigram = this.signedBucket('b:' + previous + ' ' + features.stemmed);
        bigrams.set(bigram, (bigrams.get(bigram) ?? 0) + 1);
      }
      previous = features.stemmed;
      const cw = this.charWeight;
      for (const signed of features.chars) {
        if (signed > 0) vector[signed - 1] += cw;
        else vector[-signed - 1] -= cw;
      }
    }
    addCounts(vector, unigrams, this.unigramWeight);
    addCounts(vector, bigrams, this.bigramWeight);
    return l2Normalize(vector);
  }

  private wordFeatures(token: string): WordFeatures | null {
    const cached = this.words.get(token);
    if (cached !== undefined) return cached;
    let features: WordFeatures | null = null;
    if (!isStopWord(token)) {
      const stemmed = suffixStem(token);
      const padded = '^' + stemmed + '$';
      const chars: number[] = [];
      if (this.charWeight > 0) {
        for (const n of this.charNgrams) {
          for (let i = 0; i + n <= padded.length; i++) chars.push(this.signedBucket('c:' + padded.slice(i, i + n)));
        }
      }
      features = { stemmed, unigram: this.signedBucket('w:' + stemmed), chars: Int32Array.from(chars) };
    }
    if (this.words.size >= WORD_CACHE_LIMIT) this.words.clear();
    this.words.set(token, features);
    return features;
  }

  /** bucket + 1, negative when the hash's sign bit is set (signed feature hashing). */
  private signedBucket(key: string): number {
    const h = hash32(key);
    const bucket = (h % this.dimension) + 1;
    return h & 0x80000000 ? -bucket : bucket;
  }
}

function addCounts(vector: Float32Array, counts: Map<number, number>, base: number): void {
  for (const [signed, count] of counts) {
    const weight = base * (1 + Math.log(count));
    if (signed > 0) vector[signed - 1] += weight;
    else vector[-signed - 1] -= weight;
  }
}
