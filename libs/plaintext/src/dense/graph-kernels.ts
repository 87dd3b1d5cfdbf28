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
