// A decoder's KV cache for one sequence (batch 1): per layer key and value tensors laid
// out [kv_heads, seq, head_dim] (the graph's [1, kv_heads, seq, head_dim] without batch).

export interface KvLayer {
  key: Float32Array;
  value: Float32Array;
}

export interface KvState {
  numLayers: number;
  kvHeads: number;
  headDim: number;
  seq: number;
  layers: KvLayer[];
}

export function emptyKv(numLayers: number, kvHeads: number, headDim: number): KvState {
  return {
    numLayers,
    kvHeads,
    headDim,
    seq: 0,
    layers: Array.from({ length: numLayers }, () => ({ key: new Float32Array(0), value: new Float32Array(0) })),
  };
}

export function kvBytes(kv: KvState): number {
  return kv.layers.reduce((a, l) => a + l.key.byteLength + l.value.byteLength, 0);
}

function sliceTensor(t: Float32Array, heads: number, seq: number, hd: number, from: number, to: number): Float32Array {
  const len = to - from;
  const out = new Float32Array(heads * len * hd);
  for (let h = 0; h < heads; h++) out.set(t.subarray((h * seq + from) * hd, (h * seq + to) * hd), h * len * hd);
  return out;
}

/** Positions [from, to) of the sequence axis. */
export function sliceKv(kv: KvState, from: number, to: number): KvState {
  if (from < 0 || to > kv.seq || from > to) throw new RangeError(`sliceKv: [${from}, ${to}) outside [0, ${kv.seq})`);
  if (from === 0 && to === kv.seq) return kv;
  return {
    ...kv,
    seq: to - from,
    layers: kv.layers.map((l) => ({
      key: sliceTensor(l.key, kv.kvHeads, kv.seq, kv.headDim, from, to),
      value: sliceTensor(l.value, kv.kvHeads, kv.seq, kv.headDim, from, to),
    })),
  };
}

/** Concatenates along the sequence axis. */
export function concatKv(parts: readonly KvState[]): KvState {
  if (parts.length === 0) throw new RangeError('concatKv: nothing to concatenate');
  if (parts.length === 1) return parts[0];
  const [first] = parts;
  for (const p of parts) {
    if (p.numLayers !== first.numLayers || p.kvHeads !== first.kvHeads || p.headDim !== first.headDim) {
      throw new RangeError('concatKv: parts have different layer/head shapes');
    }
  }
  const seq = parts.reduce((a, p) => a + p.seq, 0);
  const { kvHeads: H, headDim: hd } = first;
  const layers = first.layers.map((_, l) => {
    const key = new Float32Array(H * seq * hd);
    const value = new Float32Array(H * seq * hd);
    for (let h = 0; h < H; h++) {
      let at = 0;
      for (const p of parts) {
        key.set(p.layers[l].key.subarray(h * p.seq * hd, (h + 1) * p.seq * hd), (h * seq + at) * hd);
        value.set(p.layers[l].value.subarray(h * p.seq * hd, (h + 1) * p.seq * hd), (h * seq + at) * hd);
        at += p.seq;
      }
    }
    return { key, value };
  });
  return { ...first, seq, layers };
}
