// The per-slot columns of a document store and its interned tables (ADR 0115).
import { Interner } from './interner';

/** Id of an absent string/list/object in an id column. */
export const NONE = -1;

/** The per-slot columns; numbers are NaN where the attribute is absent, ids NONE. */
export class DocumentColumns {
  label: Float64Array;
  position: Float64Array;
  observedAt: Float64Array;
  validFrom: Float64Array;
  validTo: Float64Array;
  importance: Float64Array;
  kind: Int32Array;
  role: Int32Array;
  state: Int32Array;
  tags: Int32Array;
  metadata: Int32Array;

  constructor(capacity: number) {
    this.label = new Float64Array(capacity);
    this.position = new Float64Array(capacity);
    this.observedAt = new Float64Array(capacity);
    this.validFrom = new Float64Array(capacity);
    this.validTo = new Float64Array(capacity);
    this.importance = new Float64Array(capacity);
    this.kind = new Int32Array(capacity);
    this.role = new Int32Array(capacity);
    this.state = new Int32Array(capacity);
    this.tags = new Int32Array(capacity);
    this.metadata = new Int32Array(capacity);
  }

  get capacity(): number {
    return this.label.length;
  }

  /** The columns in their snapshot order. */
  all(): (Float64Array | Int32Array)[] {
    return [this.label, this.position, this.observedAt, this.validFrom, this.validTo, this.importance, this.kind, this.role, this.state, this.tags, this.metadata];
  }

  grow(capacity: number): void {
    const next = new DocumentColumns(capacity);
    const mine = this.all();
    next.all().forEach((column, i) => column.set(mine[i]));
    Object.assign(this, next);
  }

  /** Bytes per slot over all columns. */
  static readonly BYTES_PER_SLOT = 6 * 8 + 5 * 4;
}

/** The interned tables of a store. */
export interface DocumentTables {
  readonly sessions: Interner<string>;
  readonly kinds: Interner<string>;
  readonly roles: Interner<string>;
  readonly states: Interner<string>;
  readonly tags: Interner<readonly string[]>;
  readonly metadata: Interner<Readonly<Record<string, unknown>>>;
}

