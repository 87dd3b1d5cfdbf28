// A table of distinct values, each stored once and named by a small integer: what a
// document store keeps per document instead of its own strings, tag lists and metadata
// objects (ADR 0115). Values are keyed by their JSON text, so equal lists or objects share
// one entry; entries are never removed (a cube's kinds, tag sets and metadata shapes
// repeat, and a snapshot writes the table out whole).

export class Interner<T> {
  private readonly ids = new Map<string, number>();
  readonly values: T[] = [];
  private keyChars = 0;

  get size(): number {
    return this.values.length;
  }

  /** The id of a value, adding it on first sight. */
  intern(value: T, key: string = typeof value === 'string' ? value : JSON.stringify(value)): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(key, id);
      this.keyChars += key.length;
    }
    return id;
  }

  /** The id of a value already in the table, undefined otherwise. */
  find(key: string): number | undefined {
    return this.ids.get(key);
  }

  /** Bytes the table holds, estimated from the keys' lengths (string, map entry, value). */
  approximateBytes(): number {
    return 64 + 2 * this.keyChars + 96 * this.values.length;
  }
}
