// The int8 HNSW graph as one buffer (`graph.bin`, ADR 0114), loaded as typed-array views
// over that buffer: no per-node object is made, so a cold load of a big cube is a file read.
// Little-endian; every section starts on a 4-byte boundary.
//   header   16 × int32: magic, version, dimension, m, m0, efConstruction, nodes, entry,
//            maxLevel, upperUsed, tombstones, rng, 4 reserved
//   links0   nodes × (m0 + 1) int32       level-0 lists: count, then links
//   upperAt  nodes int32                  offset of a node's upper lists in `upper`
//   upper    upperUsed int32              (m + 1) ints per upper level of a node
//   level    nodes bytes (padded)         top level of each node
//   state    nodes bytes (padded)         0 absent, 1 live, 2 removed (a tombstone)
//   tombstone vectors: slots int32 × t, scales float32 × t, codes t × dimension bytes
// The live nodes' vectors are not here: they are the int8 store's (vectors.bin). A
// tombstone's are, since the documents no longer name it but the graph still routes
// through it.
import { GraphArrays, HnswParams, Int8Hnsw } from './int8-hnsw';
import { QuantizedVectorStore } from './quantized-vector.store';

const MAGIC = 0x31484745; // "EGH1"
const VERSION = 1;
const HEADER_INTS = 16;

const pad4 = (n: number): number => (n + 3) & ~3;

export function encodeGraph(graph: Int8Hnsw): Buffer {
  const a = graph.arrays();
  const store = graph.store;
  const dim = store.dimension;
  // Only up to the last node in use: capacity beyond it is empty.
  let nodes = a.state.length;
  while (nodes > 0 && a.state[nodes - 1] === 0) nodes--;
  const tombs: number[] = [];
  for (let i = 0; i < nodes; i++) if (a.state[i] === 2) tombs.push(i);
  const m0 = graph.m0;
  const sizes = [HEADER_INTS * 4, nodes * (m0 + 1) * 4, nodes * 4, a.upperUsed * 4, pad4(nodes), pad4(nodes), tombs.length * 8, pad4(tombs.length * dim)];
  const out = Buffer.alloc(sizes.reduce((x, y) => x + y, 0));
  const ab = out.buffer;
  let off = out.byteOffset;
  const header = new Int32Array(ab, off, HEADER_INTS);
  header.set([MAGIC, VERSION, dim, graph.params.m, m0, graph.params.efConstruction, nodes, a.entry, a.maxLevel, a.upperUsed, tombs.length, a.rng | 0]);
  off += sizes[0];
  new Int32Array(ab, off, nodes * (m0 + 1)).set(a.links0.subarray(0, nodes * (m0 + 1)));
  off += sizes[1];
  new Int32Array(ab, off, nodes).set(a.upperAt.subarray(0, nodes));
  off += sizes[2];
  new Int32Array(ab, off, a.upperUsed).set(a.upper.subarray(0, a.upperUsed));
  off += sizes[3];
  new Uint8Array(ab, off, nodes).set(a.level.subarray(0, nodes));
  off += sizes[4];
  new Uint8Array(ab, off, nodes).set(a.state.subarray(0, nodes));
  off += sizes[5];
  const slots = new Int32Array(ab, off, tombs.length);
  const scales = new Float32Array(ab, off + tombs.length * 4, tombs.length);
  const codes = new Int8Array(ab, off + tombs.length * 8, tombs.length * dim);
  const storeScales = store.scaleArray;
  const storeCodes = store.codeArray;
  tombs.forEach((slot, i) => {
    slots[i] = slot;
    scales[i] = Math.abs(storeScales[slot]);
    codes.set(storeCodes.subarray(slot * dim, (slot + 1) * dim), i * dim);
  });
  return out;
}

/**
 * A graph over `store` from a buffer written by encodeGraph; its tombstones' vectors go into
 * the store as removed slots. The caller has restored the live slots' vectors already.
 * Throws on a buffer that does not describe a consistent graph of these parameters.
 */
export function decodeGraph(data: Buffer, store: QuantizedVectorStore, params: HnswParams): Int8Hnsw {
  // Typed-array views need aligned offsets; a Buffer sliced from a pool may not be.
  const buf = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
  if (buf.length < HEADER_INTS * 4) throw new Error('graph file too short');
  const ab = buf.buffer;
  let off = buf.byteOffset;
  const h = new Int32Array(ab, off, HEADER_INTS);
  const [magic, version, dim, m, m0, , nodes, entry, maxLevel, upperUsed, tombCount, rng] = h;
  if (magic !== MAGIC || version !== VERSION) throw new Error('not an int8 graph file');
  if (dim !== store.dimension) throw new Error(`graph of dimension ${dim}, expected ${store.dimension}`);
  if (m !== params.m || m0 !== 2 * m) throw new Error(`graph of m ${m}, expected ${params.m}`);
  const sizes = [HEADER_INTS * 4, nodes * (m0 + 1) * 4, nodes * 4, upperUsed * 4, pad4(nodes), pad4(nodes), tombCount * 8, pad4(tombCount * dim)];
  if (nodes < 0 || upperUsed < 0 || tombCount < 0 || sizes.reduce((x, y) => x + y, 0) !== buf.length) throw new Error('graph file size does not match its header');
  off += sizes[0];
  const links0 = new Int32Array(ab, off, nodes * (m0 + 1));
  off += sizes[1];
  const upperAt = new Int32Array(ab, off, nodes);
  off += sizes[2];
  const upper = new Int32Array(ab, off, upperUsed);
  off += sizes[3];
  const level = new Uint8Array(ab, off, nodes);
  off += sizes[4];
  const state = new Uint8Array(ab, off, nodes);
  off += sizes[5];
  const tombSlots = new Int32Array(ab, off, tombCount);
  const tombScales = new Float32Array(ab, off + tombCount * 4, tombCount);
  const tombCodes = new Int8Array(ab, off + tombCount * 8, tombCount * dim);
  validate({ links0, upperAt, upper, upperUsed, level, state, entry, maxLevel, rng }, m, nodes);
  for (let i = 0; i < tombCount; i++) {
    const slot = tombSlots[i];
    if (slot < 0 || slot >= nodes || state[slot] !== 2) throw new Error('tombstone vector of a node that is not removed');
    store.setRemoved(slot, tombCodes, i * dim, tombScales[i]);
  }
  return new Int8Hnsw(store, params, nodes, { links0, upperAt, upper, upperUsed, level, state, entry, maxLevel, rng: rng >>> 0 });
}

/** Every link points at a node in the graph, every count and offset is in range. */
function validate(a: GraphArrays, m: number, nodes: number): void {
  const m0 = 2 * m;
  if (nodes > 0 && (a.entry < 0 || a.entry >= nodes || a.state[a.entry] === 0 || a.level[a.entry] !== a.maxLevel)) throw new Error('bad entry point');
  for (let i = 0; i < nodes; i++) {
    if (a.state[i] > 2) throw new Error('bad node state');
    if (a.state[i] === 0) continue;
    checkList(a, a.links0, i * (m0 + 1), m0, 0, nodes);
    const level = a.level[i];
    if (level === 0) continue;
    if (level > a.maxLevel || a.upperAt[i] < 0 || a.upperAt[i] + level * (m + 1) > a.upperUsed) throw new Error('bad upper lists');
    for (let l = 0; l < level; l++) checkList(a, a.upper, a.upperAt[i] + l * (m + 1), m, l + 1, nodes);
  }
}

/** A list at a level links only nodes that reach that level. */
function checkList(a: GraphArrays, list: Int32Array, at: number, max: number, lc: number, nodes: number): void {
  const n = list[at];
  if (n < 0 || n > max) throw new Error('bad link count');
  for (let j = 1; j <= n; j++) {
    const e = list[at + j];
    if (e < 0 || e >= nodes || a.state[e] === 0 || a.level[e] < lc) throw new Error('link to a node outside the graph');
  }
}
