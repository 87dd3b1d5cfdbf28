// Scratch structures of the graph walk, over typed arrays and shared by every graph of the
// process (a walk is synchronous, so one at a time): a binary max-heap of (node, key) and
// the visited marks (an epoch per node: a new walk bumps the epoch instead of clearing).

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
