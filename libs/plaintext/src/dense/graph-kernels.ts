// The kernels of the graph walk: the int8 inner products, and scratch structures over typed
// arrays shared by every graph of the process (a walk is synchronous, so one at a time): a
// binary max-heap of (node, key) and the visited marks (an epoch per node: a new walk bumps
// the epoch instead of clearing).

/** Inner product of a float query with slot's codes × |scale| (a removed slot's scale is negated). */
export function dotQuery(codes: Int8Array, scales: Float32Array, dim: number, q: Float32Array, slot: number): number {
  const offset = slot * dim;
  // Four accumulators: independent adds pipeline better than one dependent chain.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    s0 += codes[offset + i] * q[i];
    s1 += codes[offset + i + 1] * q[i + 1];
    s2 += codes[offset + i + 2] * q[i + 2];
    s3 += codes[offset + i + 3] * q[i + 3];
  }
  for (; i < dim; i++) s0 += codes[offset + i] * q[i];
  return (s0 + s1 + s2 + s3) * Math.abs(scales[slot]);
}

/**
 * dotQuery of `count` slots into `out`, four at a time: the four nodes' codes are read in one
 * loop, so their cache misses overlap (a walk's neighbours lie anywhere in a large store;
 * one node at a time waits for each of its misses in turn: 0.68× the time over 1M random
 * rows in graph-kernels.bench). Each
 * node's sums are taken in dotQuery's order, so every similarity is the same to the bit.
 */
export function dotQueryBatch(codes: Int8Array, scales: Float32Array, dim: number, q: Float32Array, slots: Int32Array, count: number, out: Float64Array): void {
  let k = 0;
  for (; k + 3 < count; k += 4) dotQuery4(codes, scales, dim, q, slots, k, out);
  for (; k < count; k++) out[k] = dotQuery(codes, scales, dim, q, slots[k]);
}

/** dotQuery of slots[k .. k+3] into out[k .. k+3]: per node, dotQuery's four accumulators in its order. */
function dotQuery4(codes: Int8Array, scales: Float32Array, dim: number, q: Float32Array, slots: Int32Array, k: number, out: Float64Array): void {
  const a = slots[k];
  const b = slots[k + 1];
  const c = slots[k + 2];
  const d = slots[k + 3];
  const oa = a * dim;
  const ob = b * dim;
  const oc = c * dim;
  const od = d * dim;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  let c0 = 0, c1 = 0, c2 = 0, c3 = 0, d0 = 0, d1 = 0, d2 = 0, d3 = 0;
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    const q0 = q[i];
    const q1 = q[i + 1];
    const q2 = q[i + 2];
    const q3 = q[i + 3];
    a0 += codes[oa + i] * q0;
    b0 += codes[ob + i] * q0;
    c0 += codes[oc + i] * q0;
    d0 += codes[od + i] * q0;
    a1 += codes[oa + i + 1] * q1;
    b1 += codes[ob + i + 1] * q1;
    c1 += codes[oc + i + 1] * q1;
    d1 += codes[od + i + 1] * q1;
    a2 += codes[oa + i + 2] * q2;
    b2 += codes[ob + i + 2] * q2;
    c2 += codes[oc + i + 2] * q2;
    d2 += codes[od + i + 2] * q2;
    a3 += codes[oa + i + 3] * q3;
    b3 += codes[ob + i + 3] * q3;
    c3 += codes[oc + i + 3] * q3;
    d3 += codes[od + i + 3] * q3;
  }
  for (; i < dim; i++) {
    const qi = q[i];
    a0 += codes[oa + i] * qi;
    b0 += codes[ob + i] * qi;
    c0 += codes[oc + i] * qi;
    d0 += codes[od + i] * qi;
  }
  out[k] = (a0 + a1 + a2 + a3) * Math.abs(scales[a]);
  out[k + 1] = (b0 + b1 + b2 + b3) * Math.abs(scales[b]);
  out[k + 2] = (c0 + c1 + c2 + c3) * Math.abs(scales[c]);
  out[k + 3] = (d0 + d1 + d2 + d3) * Math.abs(scales[d]);
}

/** Inner product of two slots: the integer dot product of their codes × both |scales|. */
export function dotNodes(codes: Int8Array, scales: Float32Array, dim: number, a: number, b: number): number {
  const oa = a * dim;
  const ob = b * dim;
  let s0 = 0;
  let s1 = 0;
  let i = 0;
  for (; i + 1 < dim; i += 2) {
    s0 += codes[oa + i] * codes[ob + i];
    s1 += codes[oa + i + 1] * codes[ob + i + 1];
  }
  for (; i < dim; i++) s0 += codes[oa + i] * codes[ob + i];
  return (s0 + s1) * Math.abs(scales[a] * scales[b]);
}

/** A uniform float in [0, 1) from a 32-bit state (the mulberry32 output function). */
export function unitFloat(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

export class NodeHeap {
  ids = new Int32Array(256);
  keys = new Float64Array(256);
  size = 0;

  clear(): void {
    this.size = 0;
  }

  get topId(): number {
    return this.ids[0];
  }

  get topKey(): number {
    return this.keys[0];
  }

  push(id: number, key: number): void {
    if (this.size === this.ids.length) this.grow();
    const ids = this.ids;
    const keys = this.keys;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] >= key) break;
      ids[i] = ids[parent];
      keys[i] = keys[parent];
      i = parent;
    }
    ids[i] = id;
    keys[i] = key;
  }

  /** Removes the top (largest key). */
  pop(): void {
    const ids = this.ids;
    const keys = this.keys;
    const n = --this.size;
    if (n <= 0) return;
    const id = ids[n];
    const key = keys[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keys[r] > keys[l] ? r : l;
      if (keys[c] <= key) break;
      ids[i] = ids[c];
      keys[i] = keys[c];
      i = c;
    }
    ids[i] = id;
    keys[i] = key;
  }

  private grow(): void {
    const ids = new Int32Array(this.ids.length * 2);
    ids.set(this.ids);
    this.ids = ids;
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
  }
}

let marks = new Uint32Array(0);
let epoch = 0;

/** Starts a walk over nodes < capacity: returns the marks array and this walk's epoch. */
export function newVisit(capacity: number): { marks: Uint32Array; epoch: number } {
  if (marks.length < capacity) {
    marks = new Uint32Array(Math.ceil(capacity * 1.25) + 1024);
    epoch = 0;
  }
  if (epoch >= 0xfffffffe) {
    marks.fill(0);
    epoch = 0;
  }
  epoch++;
  return { marks, epoch };
}
