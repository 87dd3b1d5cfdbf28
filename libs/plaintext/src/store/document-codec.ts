// The snapshot form of a document store (`documents.bin`, ADR 0115): a header, every
// column of every slot (dropped ones included, so slot numbers survive), then the interned
// tables as JSON lines. Encoded in bounded pieces, so that a caller writing a store of a
// million documents can yield to the event loop between them.
import { DocumentColumns, DocumentTables, NONE } from './document-columns';

const MAGIC = 0x32434f44; // "DOC2"
/** Slots per column piece, and table entries per text piece. */
const SLOTS_PER_PIECE = 1 << 16;
const ENTRIES_PER_PIECE = 1 << 14;
const TABLES = ['sessions', 'kinds', 'roles', 'states', 'tags', 'metadata'] as const;
const HEADER_WORDS = 2 + TABLES.length;

/** What a decoded store is made of; DocumentStore.restore() takes it in. */
export interface DecodedDocuments {
  readonly slots: number;
  readonly columns: DocumentColumns;
  readonly live: Uint8Array<ArrayBuffer>;
  readonly sessionOfSlot: Int32Array<ArrayBuffer>;
  readonly tables: { readonly [K in (typeof TABLES)[number]]: unknown[] };
}

function copyOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

export function* encodeDocumentStore(slots: number, columns: DocumentColumns, live: Uint8Array, sessionOfSlot: Int32Array, tables: DocumentTables): Generator<Buffer> {
  const header = new Uint32Array(HEADER_WORDS);
  header[0] = MAGIC;
  header[1] = slots;
  TABLES.forEach((name, i) => (header[2 + i] = tables[name].size));
  yield Buffer.from(header.buffer);
  // Copies, not views: the pieces may be written after the caller moved on.
  for (const column of [...columns.all(), sessionOfSlot, live]) {
    for (let from = 0; from < slots; from += SLOTS_PER_PIECE) yield copyOf(column.subarray(from, Math.min(slots, from + SLOTS_PER_PIECE)));
  }
  for (const name of TABLES) {
    const values = tables[name].values as unknown[];
    for (let from = 0; from < values.length; from += ENTRIES_PER_PIECE) {
      let text = '';
      for (let i = from; i < Math.min(values.length, from + ENTRIES_PER_PIECE); i++) text += JSON.stringify(values[i]) + '\n';
      yield Buffer.from(text, 'utf8');
    }
  }
}

/** The parts encodeDocumentStore() wrote; throws on bytes that are not a document store. */
export function decodeDocumentStore(data: Buffer): DecodedDocuments {
  if (data.length < 4 * HEADER_WORDS) throw new Error('not a document store');
  const word = (i: number) => data.readUInt32LE(4 * i);
  if (word(0) !== MAGIC) throw new Error('not a document store');
  const slots = word(1);
  const counts = TABLES.map((_, i) => word(2 + i));
  let at = 4 * HEADER_WORDS;
  const columnBytes = slots * (DocumentColumns.BYTES_PER_SLOT + 4 + 1);
  if (data.length < at + columnBytes) throw new Error('document store is truncated');
  const columns = new DocumentColumns(Math.max(1, slots));
  const read = (into: Float64Array | Int32Array | Uint8Array): void => {
    const bytes = slots * into.BYTES_PER_ELEMENT;
    Buffer.from(into.buffer, into.byteOffset, bytes).set(data.subarray(at, at + bytes));
    at += bytes;
  };
  for (const column of columns.all()) read(column);
  const sessionOfSlot = new Int32Array(Math.max(1, slots));
  read(sessionOfSlot);
  const live = new Uint8Array(Math.max(1, slots));
  read(live);
  const total = counts.reduce((a, b) => a + b, 0);
  const lines = data.subarray(at).toString('utf8').split('\n');
  if (lines.length !== total + 1 || lines[total] !== '') throw new Error('document store tables do not match their counts');
  const tables = {} as { [K in (typeof TABLES)[number]]: unknown[] };
  let line = 0;
  TABLES.forEach((name, i) => {
    tables[name] = lines.slice(line, line + counts[i]).map((text) => JSON.parse(text) as unknown);
    line += counts[i];
  });
  const idColumns: [Int32Array, number][] = [
    [columns.kind, counts[1]],
    [columns.role, counts[2]],
    [columns.state, counts[3]],
    [columns.tags, counts[4]],
    [columns.metadata, counts[5]],
    [sessionOfSlot, counts[0]],
  ];
  for (let slot = 0; slot < slots; slot++) {
    if (live[slot] > 1 || (live[slot] === 1 && !Number.isFinite(columns.label[slot]))) throw new Error(`bad document at slot ${slot}`);
    for (const [column, count] of idColumns) {
      const id = column[slot];
      if (id < NONE || id >= count) throw new Error(`bad document at slot ${slot}`);
    }
  }
  return { slots, columns, live, sessionOfSlot, tables };
}
