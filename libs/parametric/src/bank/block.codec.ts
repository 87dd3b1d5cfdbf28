// One memory block <-> the payload bytes of its slot (per layer gate [r,d], up [r,d],
// down [d,r], little-endian f32 or IEEE f16), plus the concatenation along R that turns
// one block per level into one block (for the TypeScript pass and the gradient graph).
import { concatMemoryBlocks, floatToHalf, halfToFloat, type MemoryBlock } from '@engram/inference';
import type { BankDtype } from './bank-layout';

export function zeroBlock(rank: number, hidden: number, layers: number): MemoryBlock {
  const n = layers * rank * hidden;
  return { rank, gate: new Float32Array(n), up: new Float32Array(n), down: new Float32Array(n) };
}

export function encodeBlock(block: MemoryBlock, hidden: number, layers: number, dtype: BankDtype, out: Buffer): void {
  const per = block.rank * hidden;
  let pos = 0;
  const put = (src: Float32Array) => {
    if (dtype === 'f32') {
      for (let i = 0; i < src.length; i++, pos += 4) out.writeFloatLE(src[i], pos);
    } else {
      for (let i = 0; i < src.length; i++, pos += 2) out.writeUInt16LE(floatToHalf(src[i]), pos);
    }
  };
  for (let l = 0; l < layers; l++) {
    put(block.gate.subarray(l * per, (l + 1) * per));
    put(block.up.subarray(l * per, (l + 1) * per));
    put(block.down.subarray(l * per, (l + 1) * per));
  }
}

export function decodeBlock(payload: Buffer, rank: number, hidden: number, layers: number, dtype: BankDtype): MemoryBlock {
  const block = zeroBlock(rank, hidden, layers);
  const per = rank * hidden;
  if (dtype === 'f32' && payload.byteOffset % 4 === 0) {
    const all = new Float32Array(payload.buffer, payload.byteOffset, 3 * layers * per);
    for (let l = 0; l < layers; l++) {
      block.gate.set(all.subarray((3 * l) * per, (3 * l + 1) * per), l * per);
      block.up.set(all.subarray((3 * l + 1) * per, (3 * l + 2) * per), l * per);
      block.down.set(all.subarray((3 * l + 2) * per, (3 * l + 3) * per), l * per);
    }
    return block;
  }
  if (dtype === 'f16' && payload.byteOffset % 2 === 0) {
    const halves = new Uint16Array(payload.buffer, payload.byteOffset, 3 * layers * per);
    const table = halfTable();
    for (let l = 0; l < layers; l++) {
      const o = 3 * l * per;
      for (let i = 0; i < per; i++) {
        block.gate[l * per + i] = table[halves[o + i]];
        block.up[l * per + i] = table[halves[o + per + i]];
        block.down[l * per + i] = table[halves[o + 2 * per + i]];
      }
    }
    return block;
  }
  const get = (i: number) => (dtype === 'f16' ? halfToFloat(payload.readUInt16LE(i * 2)) : payload.readFloatLE(i * 4));
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < per; i++) {
      block.gate[l * per + i] = get((3 * l) * per + i);
      block.up[l * per + i] = get((3 * l + 1) * per + i);
      block.down[l * per + i] = get((3 * l + 2) * per + i);
    }
  }
  return block;
}

/** Concatenates blocks along R (the single-block form the TypeScript pass and the gradient graph take). */
export function concatBlocks(blocks: readonly MemoryBlock[], hidden: number, layers: number): MemoryBlock {
  return concatMemoryBlocks(blocks, hidden, layers);
}

/** Splits a concatenated [L,R,·] memory (e.g. a gradient) back into per-block pieces. */
export function splitBlocks(m: { gate: ArrayLike<number>; up: ArrayLike<number>; down: ArrayLike<number> }, ranks: readonly number[], hidden: number, layers: number): Array<{ gate: Float64Array; up: Float64Array; down: Float64Array }> {
  const R = ranks.reduce((a, b) => a + b, 0);
  let r0 = 0;
  return ranks.map((r) => {
    const gate = new Float64Array(layers * r * hidden);
    const up = new Float64Array(layers * r * hidden);
    const down = new Float64Array(layers * hidden * r);
    for (let l = 0; l < layers; l++) {
      for (let j = 0; j < r * hidden; j++) {
        gate[l * r * hidden + j] = m.gate[(l * R + r0) * hidden + j];
        up[l * r * hidden + j] = m.up[(l * R + r0) * hidden + j];
      }
      for (let i = 0; i < hidden; i++) for (let j = 0; j < r; j++) down[(l * hidden + i) * r + j] = m.down[(l * hidden + i) * R + r0 + j];
    }
    r0 += r;
    return { gate, up, down };
  });
}

// ---- IEEE 754 half precision (conversion shared with safetensors) ----

let HALF_TABLE: Float32Array | null = null;

/** All 65,536 half values as float32 (256 KiB, built once): decoding is one lookup. */
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

