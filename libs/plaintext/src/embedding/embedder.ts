/**
 * An embedder turns texts into unit vectors of a fixed dimension. The fingerprint names the
 * model, dimension and version: vectors made under another fingerprint must not be mixed
 * into the same index (the caller re-embeds instead).
 */
export interface Embedder {
  readonly fingerprint: string;
  readonly dimension: number;
  /**
   * Too slow for the write path (a neural encoder on the CPU): memories are committed
   * without a vector and embedded right after, in the background (ADR 0106).
   */
  readonly deferWrites?: boolean;
  /**
   * Computed in this process in less time than the database takes to store the rows (feature
   * hashing): a batch is written in chunks inside its transaction, each chunk's vectors
   * computed while the previous chunk is being stored (ADR 0118). Never set for an embedder
   * that waits on a network or takes longer than the insert: the transaction and the cube's
   * write lock would wait on it.
   */
  readonly pipelineWrites?: boolean;
  /**
   * Weight of this embedder's similarity in the hybrid fusion (lexical takes the rest),
   * tuned on the dev sets for its kind of similarity (ADR 0113). Absent: the ranker's
   * default, which was tuned for the hash embedder.
   */
  readonly denseWeight?: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** Scales a vector to unit length in place; a zero vector stays zero. */
export function l2Normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let i = 0; i < vector.length; i++) vector[i] *= inv;
  }
  return vector;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
