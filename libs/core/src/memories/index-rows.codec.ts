// The rows a cube index serves results from, saved beside its snapshot so that a cold
// load reads no row from PostgreSQL (only the changes after the snapshot). One JSON row a
// line, prefixed by its label; a loaded table keeps the bytes and parses a row only when a
// result needs it, so the rows of a loaded cube are one buffer, not objects in the heap.
import { MemoryRecord } from '@engram/persistence';

export const ROWS_FILE = 'rows.jsonl';
const HEADER = '{"format":"engram-index-rows/1"}\n';
const NEWLINE = 0x0a;
const TAB = 0x09;

/** What the index manager needs of its rows: a map by label. */
export interface IndexRows {
  get(label: number): MemoryRecord | undefined;
  has(label: number): boolean;
  set(label: number, row: MemoryRecord): void;
  delete(label: number): boolean;
  readonly size: number;
}

/** Rows from a saved file, parsed on first use; rows set or deleted later live beside it. */
export class SavedRows implements IndexRows {
  /** Byte range of each saved row still current, by label. */
  private readonly ranges = new Map<number, number>();
  private readonly changed = new Map<number, MemoryRecord>();

  constructor(private readonly data: Buffer, starts: Map<number, number>) {
    this.ranges = starts;
  }

  get size(): number {
    return this.ranges.size + this.changed.size;
  }

  get(label: number): MemoryRecord | undefined {
    const own = this.changed.get(label);
    if (own) return own;
    const start = this.ranges.get(label);
    if (start === undefined) return undefined;
    return reviveRow(JSON.parse(this.data.toString('utf8', start, this.lineEnd(start))) as Record<string, unknown>);
  }

  has(label: number): boolean {
    return this.changed.has(label) || this.ranges.has(label);
  }

  set(label: number, row: MemoryRecord): void {
    this.ranges.delete(label);
    this.changed.set(label, row);
  }

  delete(label: number): boolean {
    return this.changed.delete(label) || this.ranges.delete(label);
  }

  /** The lines of the file: saved rows copied as bytes, changed ones written anew. */
  *lines(): Generator<Buffer | string> {
    for (const [label, start] of this.ranges) yield this.data.subarray(rowStart(this.data, start, label), this.lineEnd(start) + 1);
    for (const [label, row] of this.changed) yield `${label}\t${JSON.stringify(row)}\n`;
  }

  private lineEnd(start: number): number {
    const end = this.data.indexOf(NEWLINE, start);
    return end < 0 ? this.data.length : end;
  }
}

/** Where the label prefix of the row starting (after its tab) at `start` begins. */
function rowStart(data: Buffer, start: number, label: number): number {
  return start - 1 - String(label).length;
}

export function encodeIndexRows(rows: IndexRows): Buffer {
  const parts: (Buffer | string)[] = [HEADER];
  if (rows instanceof SavedRows) parts.push(...rows.lines());
  else for (const [label, row] of rows as unknown as Map<number, MemoryRecord>) parts.push(`${label}\t${JSON.stringify(row)}\n`);
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/** The saved rows, or null when the file is absent or not one of ours. */
export function decodeIndexRows(data: Buffer | undefined): SavedRows | null {
  if (!data || data.length < HEADER.length || data.toString('utf8', 0, HEADER.length) !== HEADER) return null;
  const starts = new Map<number, number>();
  for (let at = HEADER.length; at < data.length; ) {
    const tab = data.indexOf(TAB, at);
    const end = data.indexOf(NEWLINE, at);
    if (tab < 0 || end < 0 || tab > end) return null;
    const label = Number(data.toString('latin1', at, tab));
    if (!Number.isSafeInteger(label)) return null;
    starts.set(label, tab + 1);
    at = end + 1;
  }
  return new SavedRows(data, starts);
}

/** Keys of MemoryRecord that hold dates (named *At, and the validity bounds). */
function isDateKey(key: string): boolean {
  return key.endsWith('At') || key === 'validFrom' || key === 'validTo';
}

function reviveRow(row: Record<string, unknown>): MemoryRecord {
  for (const key of Object.keys(row)) {
    const value = row[key];
    if (typeof value === 'string' && isDateKey(key)) row[key] = new Date(value);
  }
  return row as unknown as MemoryRecord;
}
