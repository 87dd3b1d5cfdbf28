// Parametric memory → graph feeds without copying. The graph (llama-graph.builder) takes,
// per memory slot and layer, gate [r, d], up [r, d] and down [d, r]; a block stores each
// layer's matrices contiguously, so every feed is a subarray view of the block as fetched
// from the bank. Attaching a path of blocks (one per bank level) therefore costs tensor
// wrappers only; the graph sums the slots' SwiGLU contributions, which equals one block
// concatenated along R.
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { floatTensor, HostTensor } from './tensor';

/** Parametric memory: R extra SwiGLU neurons per layer. */
export interface MemoryBlock {
  rank: number;
  gate: Float32Array; // [L, R, d]
  up: Float32Array; // [L, R, d]
  down: Float32Array; // [L, d, R]
}

/**
 * What a forward pass runs with: one block, or the blocks of a routed path (one per bank
 * level), whose contributions add up. Read-only once attached: feeds are views of it.
 */
export type AttachedMemory = MemoryBlock | readonly MemoryBlock[];

export type MemoryPart = 'gate' | 'up' | 'down';

export const memoryInputName = (slot: number, layer: number, part: MemoryPart): string => `mem.${slot}.${layer}.${part}`;

const EMPTY = new Float32Array(0);

export function memoryBlocks(memory: AttachedMemory | undefined): readonly MemoryBlock[] {
  if (!memory) return [];
  return Array.isArray(memory) ? memory : [memory as MemoryBlock];
}

/** Width R of the attached memory (the sum of its blocks' ranks). */
export function memoryRank(memory: AttachedMemory | undefined): number {
  return memoryBlocks(memory).reduce((a, b) => a + b.rank, 0);
}

/** Concatenates blocks along R: gate/up rows stack per layer, down columns append per row. */
export function concatMemoryBlocks(blocks: readonly MemoryBlock[], hidden: number, layers: number): MemoryBlock {
  const R = blocks.reduce((a, b) => a + b.rank, 0);
  const n = layers * R * hidden;
  const out: MemoryBlock = { rank: R, gate: new Float32Array(n), up: new Float32Array(n), down: new Float32Array(n) };
  let r0 = 0;
  for (const b of blocks) {
    const r = b.rank;
    if (r === 0) continue;
    for (let l = 0; l < layers; l++) {
      out.gate.set(b.gate.subarray(l * r * hidden, (l + 1) * r * hidden), (l * R + r0) * hidden);
      out.up.set(b.up.subarray(l * r * hidden, (l + 1) * r * hidden), (l * R + r0) * hidden);
      // Plain index loops: a subarray per row would allocate L·d views per block.
      const src = b.down;
      const dst = out.down;
      for (let i = 0; i < hidden; i++) {
        const s0 = (l * hidden + i) * r;
        const d0 = (l * hidden + i) * R + r0;
        for (let j = 0; j < r; j++) dst[d0 + j] = src[s0 + j];
      }
    }
    r0 += r;
  }
  return out;
}

/**
 * The memory feeds of a graph with `slots` memory slots: one non-empty block per slot (a
 * view per layer and matrix, no copy); empty slots get R = `emptyRank` (0, or 1 neuron of
 * zeros, which adds exactly nothing, where a provider cannot multiply zero-sized matrices).
 * More non-empty blocks than slots (a bank deeper than the graph) share the last slot,
 * concatenated (a copy).
 */
export function memoryFeeds(memory: AttachedMemory | undefined, slots: number, layers: number, hidden: number, emptyRank: 0 | 1 = 0): Record<string, HostTensor> {
  let blocks = memoryBlocks(memory).filter((b) => b.rank > 0);
  for (const b of blocks) {
    const n = layers * b.rank * hidden;
    if (b.gate.length !== n || b.up.length !== n || b.down.length !== n) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `memory block of rank ${b.rank} does not fit ${layers} layers × hidden ${hidden}`);
    }
  }
  if (blocks.length > slots) {
    if (slots === 0) throw new InferenceError(InferenceErrorCode.InputMismatch, 'the model has no memory inputs');
    blocks = [...blocks.slice(0, slots - 1), concatMemoryBlocks(blocks.slice(slots - 1), hidden, layers)];
  }
  const feeds: Record<string, HostTensor> = {};
  const empty = emptyRank === 0 ? EMPTY : new Float32Array(hidden);
  for (let s = 0; s < slots; s++) {
    const b = blocks[s];
    const r = b?.rank ?? emptyRank;
    const per = r * hidden;
    for (let l = 0; l < layers; l++) {
      feeds[memoryInputName(s, l, 'gate')] = floatTensor(b ? b.gate.subarray(l * per, (l + 1) * per) : empty, [r, hidden]);
      feeds[memoryInputName(s, l, 'up')] = floatTensor(b ? b.up.subarray(l * per, (l + 1) * per) : empty, [r, hidden]);
      feeds[memoryInputName(s, l, 'down')] = floatTensor(b ? b.down.subarray(l * per, (l + 1) * per) : empty, [hidden, r]);
    }
  }
  return feeds;
}
