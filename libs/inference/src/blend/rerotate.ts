// Moving cached keys to other RoPE positions. RoPE rotates each (i, i + d/2) pair of a key
// by pos·θ_i, so a key computed at position p is the key at p + δ after one more rotation
// by the difference of the two angles. The angles are taken exactly as ropeTables()
// computes them (float32-rounded pos·θ_i), so a moved key equals the key a prefill at the
// new offset computes, to float rounding. Values carry no position and are shared.
import { LlamaConfig, ropeInverseFrequencies } from '../model/model-config';
import type { KvState } from '../runtime/kv-state';

/** KV of `kv.seq` tokens computed at positions from.. , moved to positions to.. . */
export function rerotateKv(kv: KvState, config: LlamaConfig, from: number, to: number): KvState {
  if (from === to || kv.seq === 0) return kv;
  if (kv.headDim !== config.headDim) throw new RangeError(`rerotateKv: head dim ${kv.headDim} does not fit the model's ${config.headDim}`);
  const inv = Float32Array.from(ropeInverseFrequencies(config));
  const hd = kv.headDim;
  const half = hd / 2;
  const cos = new Float64Array(kv.seq * half);
  const sin = new Float64Array(kv.seq * half);
  for (let t = 0; t < kv.seq; t++) {
    for (let i = 0; i < half; i++) {
      const delta = Math.fround((to + t) * inv[i]) - Math.fround((from + t) * inv[i]);
      cos[t * half + i] = Math.cos(delta);
      sin[t * half + i] = Math.sin(delta);
    }
  }
  const layers = kv.layers.map((layer) => {
    const key = new Float32Array(layer.key.length);
    for (let h = 0; h < kv.kvHeads; h++) {
      for (let t = 0; t < kv.seq; t++) {
        const o = (h * kv.seq + t) * hd;
        for (let i = 0; i < half; i++) {
          const a = layer.key[o + i];
          const b = layer.key[o + i + half];
          const c = cos[t * half + i];
          const s = sin[t * half + i];
          key[o + i] = a * c - b * s;
          key[o + i + half] = b * c + a * s;
        }
      }
    }
    return { key, value: layer.value };
  });
  return { ...kv, layers };
}
