// A BM25 index's terms and their ids, held in typed arrays instead of a string per term and a
// map entry (ADR 0121): the terms' UTF-8 bytes one after another (each ended by '\n', which
// no analysed term holds), where each term starts, its hash, and an open-addressing table of
// ids. A loaded cube's vocabulary (thousands of terms) then costs the garbage collector
// nothing to scan or copy, and decoding a snapshot's vocabulary is one pass over its bytes
// with no string made, where it was one string and one map insert per term: when the index
// cache turns over, those were a third of a cold load's work on the event loop and most of
// what each load left for the collector.
// Terms are compared as UTF-8, as the snapshot stores them (a string with a lone surrogate,
// which the analyser never yields, is the same term as its U+FFFD replacement).

const NEWLINE = 0x0a;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class TermVocabulary {
  /** Terms' UTF-8 bytes, each followed by '\n'; [0, used) in use. */
  private bytes: Buffer;
  private used = 0;
  /** Where term id starts in `bytes`; starts[count] = used. */
  private starts: Int32Array;
  private hashes: Uint32Array;
  /** Open addressing: id + 1 per cell, 0 for an empty one; at most half full. */
  private table: Int32Array;
  private count = 0;
  /** UTF-8 of a looked-up term that is not ASCII. */
  private scratch = Buffer.alloc(64);

  constructor(capacity = 16) {
    capacity = Math.max(1, capacity);
    this.bytes = Buffer.alloc(Math.max(64, capacity * 8));
    this.starts = new Int32Array(capacity + 1);
    this.hashes = new Uint32Array(capacity);
    this.table = new Int32Array(tableSizeFor(capacity));
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held (all typed arrays, outside the JS heap's object graph). */
  get byteLength(): number {
    return this.bytes.byteLength + this.starts.byteLength + this.hashes.byteLength + this.table.byteLength + this.scratch.byteLength;
  }

  /** The term's id, or undefined when it is not in the vocabulary. */
  idOf(term: string): number | undefined {
    const ascii = isAscii(term);
    const length = ascii ? term.length : this.toScratch(term);
    const hash = ascii ? hashAscii(term) : hashBytes(this.scratch, 0, length);
    const mask = this.table.length - 1;
    for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
      const entry = this.table[cell];
      if (entry === 0) return undefined;
      const id = entry - 1;
      if (this.hashes[id] !== hash) continue;
      const start = this.starts[id];
      if (this.starts[id + 1] - 1 - start !== length) continue;
      if (ascii ? this.equalsAscii(start, term) : this.bytes.compare(this.scratch, 0, length, start, start + length) === 0) return id;
    }
  }

  /** Adds a term that idOf() does not know and returns its id (the next one: ids are 0, 1, 2, … in order of addition). */
  add(term: string): number {
    const length = Buffer.byteLength(term, 'utf8');
    this.reserveBytes(this.used + length + 1);
    this.bytes.write(term, this.used, length, 'utf8');
    this.bytes[this.used + length] = NEWLINE;
    const id = this.push(this.used, length);
    this.used += length + 1;
    return id;
  }

  /** The term of an id. */
  nameOf(id: number): string {
    if (!(id >= 0 && id < this.count)) throw new RangeError(`no term ${id}`);
    return this.bytes.toString('utf8', this.starts[id], this.starts[id + 1] - 1);
  }

  /** The terms in id order, joined by '\n', as UTF-8 (the snapshot's form). */
  encode(): Buffer {
    return Buffer.from(this.bytes.subarray(0, Math.max(0, this.used - 1)));
  }

  /** The vocabulary encode() wrote, which must hold `expected` terms, each once; throws otherwise. */
  static decode(data: Uint8Array, expected: number): TermVocabulary {
    // No more terms than bytes (a damaged count must not size the arrays).
    const vocabulary = new TermVocabulary(Math.min(expected, data.length + 1));
    if (data.length === 0) {
      if (expected !== 0) throw new Error('BM25 vocabulary does not match its term count');
      return vocabulary;
    }
    vocabulary.bytes = Buffer.alloc(data.length + 1);
    vocabulary.bytes.set(data, 0);
    vocabulary.bytes[data.length] = NEWLINE;
    vocabulary.used = data.length + 1;
    const bytes = vocabulary.bytes;
    let start = 0;
    for (let at = 0; at < vocabulary.used; at++) {
      if (bytes[at] !== NEWLINE) continue;
      if (vocabulary.count === expected) throw new Error('BM25 vocabulary does not match its term count');
      vocabulary.push(start, at - start, true);
      start = at + 1;
    }
    if (vocabulary.count !== expected) throw new Error('BM25 vocabulary does not match its term count');
    return vocabulary;
  }

  /** Registers the term at bytes[start, start + length) under the next id; `checked` refuses a term already held. */
  private push(start: number, length: number, checked = false): number {
    const id = this.count;
    if (id === this.hashes.length) {
      this.hashes = grow(this.hashes, 2 * this.hashes.length);
      this.starts = grow(this.starts, this.hashes.length + 1);
    }
    if (2 * (id + 1) > this.table.length) this.rehash(2 * this.table.length);
    const hash = hashBytes(this.bytes, start, length);
    const mask = this.table.length - 1;
    let cell = hash & mask;
    for (; this.table[cell] !== 0; cell = (cell + 1) & mask) {
      const other = this.table[cell] - 1;
      if (checked && this.hashes[other] === hash && this.starts[other + 1] - 1 - this.starts[other] === length && this.bytes.compare(this.bytes, start, start + length, this.starts[other], this.starts[other] + length) === 0) {
        throw new Error('BM25 vocabulary repeats a term');
      }
    }
    this.table[cell] = id + 1;
    this.hashes[id] = hash;
    this.starts[id] = start;
    this.starts[id + 1] = start + length + 1;
    this.count = id + 1;
    return id;
  }

  private rehash(size: number): void {
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let id = 0; id < this.count; id++) {
      let cell = this.hashes[id] & mask;
      while (table[cell] !== 0) cell = (cell + 1) & mask;
      table[cell] = id + 1;
    }
    this.table = table;
  }

  private reserveBytes(n: number): void {
    if (n <= this.bytes.length) return;
    const bytes = Buffer.alloc(Math.max(n, 2 * this.bytes.length));
    this.bytes.copy(bytes, 0, 0, this.used);
    this.bytes = bytes;
  }

  /** Writes a term's UTF-8 into the scratch buffer; its length. */
  private toScratch(term: string): number {
    const length = Buffer.byteLength(term, 'utf8');
    if (length > this.scratch.length) this.scratch = Buffer.alloc(Math.max(length, 2 * this.scratch.length));
    return this.scratch.write(term, 0, length, 'utf8');
  }

  private equalsAscii(start: number, term: string): boolean {
    const bytes = this.bytes;
    for (let i = 0; i < term.length; i++) if (bytes[start + i] !== term.charCodeAt(i)) return false;
    return true;
  }
}

function isAscii(term: string): boolean {
  for (let i = 0; i < term.length; i++) if (term.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** FNV-1a over an ASCII string's bytes (its char codes), equal to hashBytes() of its UTF-8. */
function hashAscii(term: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < term.length; i++) h = Math.imul(h ^ term.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

function hashBytes(bytes: Uint8Array, start: number, length: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < start + length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}

function tableSizeFor(terms: number): number {
  let size = 16;
  while (size < 2 * terms) size *= 2;
  return size;
}

function grow<T extends Int32Array | Uint32Array>(a: T, size: number): T {
  const out = new (a.constructor as new (n: number) => T)(size);
  out.set(a);
  return out;
}
