// A compact copy of every document vector, int8 with one scale per vector (¼ of float32).
// The ranker uses it to score candidates that the HNSW walk did not return and to search
// small filtered sets exactly, without a round trip through hnswlib for each vector.
// Scalar quantisation of unit vectors keeps cosine errors around 1e-2, far below the gaps
// that matter for fusion. The int8 HNSW graph (int8-hnsw.ts) walks these same codes: a
// cleared slot keeps its codes and the negated scale, so the graph can still route through
// a removed node (a tombstone) while has() and dot() treat it as absent.

export class QuantizedVectorStore {
  private codes: Int8Array;
  private scales: Float32Array;

  constructor(
    readonly dimension: number,
    initialSlots = 1024,
  ) {
    this.codes = new Int8Array(initialSlots * dimension);
    this.scales = new Float32Array(initialSlots);
  }

  set(slot: number, vector: ArrayLike<number>): void {
    this.ensure(slot + 1);
    let max = 0;
    for (let i = 0; i < this.dimension; i++) {
      const a = Math.abs(vector[i]);
      if (a > max) max = a;
    }
    const offset = slot * this.dimension;
    if (max === 0) {
      this.scales[slot] = Number.MIN_VALUE; // present, all zero
      this.codes.fill(0, offset, offset + this.dimension);
      return;
    }
    const inv = 127 / max;
    for (let i = 0; i < this.dimension; i++) this.codes[offset + i] = Math.round(vector[i] * inv);
    this.scales[slot] = max / 127;
  }

  /** Stores already-quantised codes (from a snapshot or another slot) without re-quantising. */
  setCodes(slot: number, codes: Int8Array, codesOffset: number, scale: number): void {
    this.ensure(slot + 1);
    this.codes.set(codes.subarray(codesOffset, codesOffset + this.dimension), slot * this.dimension);
    this.scales[slot] = scale;
  }

  /** Copies one slot's codes to another slot (a document re-indexed with its vector kept). */
  copy(from: number, to: number): boolean {
    if (!this.has(from)) return false;
    this.setCodes(to, this.codes, from * this.dimension, this.scales[from]);
    return true;
  }

  /** The codes and scale of a slot, for writing a snapshot (undefined when absent). */
  read(slot: number): { codes: Int8Array; scale: number } | undefined {
    if (!this.has(slot)) return undefined;
    return { codes: this.codes.subarray(slot * this.dimension, (slot + 1) * this.dimension), scale: this.scales[slot] };
  }

  /** The stored vector as floats (codes × scale), e.g. to build a graph from the int8 copies. */
  decode(slot: number): Float32Array | undefined {
    if (!this.has(slot)) return undefined;
    const out = new Float32Array(this.dimension);
    const scale = this.scales[slot];
    const offset = slot * this.dimension;
    for (let i = 0; i < this.dimension; i++) out[i] = this.codes[offset + i] * scale;
    return out;
  }

  approximateBytes(): number {
    return this.codes.byteLength + this.scales.byteLength;
  }

  has(slot: number): boolean {
    return slot < this.scales.length && this.scales[slot] > 0;
  }

  /** Makes a slot absent; its codes stay (scale negated) for the graph to route through. */
  clear(slot: number): void {
    if (slot < this.scales.length && this.scales[slot] > 0) this.scales[slot] = -this.scales[slot];
  }

  /** Stores a removed slot's codes (a graph tombstone from a snapshot): absent, but routable. */
  setRemoved(slot: number, codes: Int8Array, codesOffset: number, scale: number): void {
    this.setCodes(slot, codes, codesOffset, -Math.abs(scale));
  }

  /** The codes of every slot, slot-major (replaced when the store grows: read it per operation). */
  get codeArray(): Int8Array {
    return this.codes;
  }

  /** The scale of every slot: > 0 present, < 0 removed (codes kept), 0 never set. */
  get scaleArray(): Float32Array {
    return this.scales;
  }

  /** Slots allocated. */
  get capacity(): number {
    return this.scales.length;
  }

  /** Approximate inner product of the stored vector with a float query (0 when absent). */
  dot(slot: number, query: ArrayLike<number>): number {
    const scale = this.scales[slot];
    if (!(scale > 0)) return 0;
    const codes = this.codes;
    const dim = this.dimension;
    const offset = slot * dim;
    // Four accumulators: independent adds pipeline better than one dependent chain.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < dim; i += 4) {
      s0 += codes[offset + i] * query[i];
      s1 += codes[offset + i + 1] * query[i + 1];
      s2 += codes[offset + i + 2] * query[i + 2];
      s3 += codes[offset + i + 3] * query[i + 3];
    }
    for (; i < dim; i++) s0 += codes[offset + i] * query[i];
    return (s0 + s1 + s2 + s3) * scale;
  }

  /** Room for this many slots in one allocation (a rebuild that knows its size), instead of growing a quarter at a time. */
  reserve(slots: number): void {
    if (slots <= this.scales.length) return;
    const codes = new Int8Array(slots * this.dimension);
    codes.set(this.codes);
    this.codes = codes;
    const scales = new Float32Array(slots);
    scales.set(this.scales);
    this.scales = scales;
  }

  private ensure(slots: number): void {
    if (slots <= this.scales.length) return;
    let cap = this.scales.length;
    // By a quarter, not doubling (see HnswVectorIndex.grow): large stores waste less.
    while (cap < slots) cap = Math.max(cap + 1024, Math.ceil(cap * 1.25));
    const codes = new Int8Array(cap * this.dimension);
    codes.set(this.codes);
    this.codes = codes;
    const scales = new Float32Array(cap);
    scales.set(this.scales);
    this.scales = scales;
  }
}
