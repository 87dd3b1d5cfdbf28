// Plain TypeScript forward pass of the Llama family (naive loops, float64 accumulators):
// the numerical reference the ONNX graph is tested against. Batch of one.
import { LlamaConfig, ropeTables } from '../model/model-config';
import type { LlamaWeights, Matrix } from '../model/llama-weights';

export interface ReferenceKv {
  /** Per layer, [kvHeads, seq, headDim]. */
  keys: Float32Array[];
  values: Float32Array[];
  seq: number;
}

export interface ReferenceMemory {
  /** Width R; per layer gate [R, d], up [R, d], down [d, R] (row-major slices of the L-stacked inputs). */
  rank: number;
  gate: Float32Array; // [L, R, d]
  up: Float32Array; // [L, R, d]
  down: Float32Array; // [L, d, R]
}

export interface ReferenceInput {
  inputIds: readonly number[];
  positionIds?: readonly number[];
  past?: ReferenceKv;
  /** One flag per key position (past + new); default all attended. */
  attentionMask?: readonly number[];
  memory?: ReferenceMemory;
}

export interface ReferenceOutput {
  logits: Float32Array; // [seq, vocab]
  present: ReferenceKv;
}

function matVec(m: Matrix, x: Float32Array, bias?: Float32Array): Float32Array {
  const out = new Float32Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let acc = 0;
    const off = r * m.cols;
    for (let c = 0; c < m.cols; c++) acc += m.data[off + c] * x[c];
    out[r] = acc + (bias ? bias[r] : 0);
  }
  return out;
}

function rmsNorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * inv * w[i];
  return out;
}

const silu = (x: number): number => x / (1 + Math.exp(-x));

export function referenceForward(config: LlamaConfig, w: LlamaWeights, input: ReferenceInput): ReferenceOutput {
  const { hiddenSize: d, numHeads: H, numKvHeads: KVH, headDim: hd, numLayers: L, vocabSize: V } = config;
  const S = input.inputIds.length;
  const P = input.past?.seq ?? 0;
  const T = P + S;
  const positions = input.positionIds ?? Array.from({ length: S }, (_, i) => P + i);
  const maxPos = Math.max(...positions) + 1;
  const { cos, sin } = ropeTables(config, maxPos);
  const mask = input.attentionMask ?? new Array<number>(T).fill(1);
  const group = H / KVH;
  const half = hd / 2;
  const scale = 1 / Math.sqrt(hd);

  let hidden: Float32Array[] = input.inputIds.map((id) => w.embed.data.slice(id * d, (id + 1) * d));
  const present: ReferenceKv = { keys: [], values: [], seq: T };

  const rope = (vec: Float32Array, heads: number, pos: number): void => {
    for (let h = 0; h < heads; h++) {
      const o = h * hd;
      const rotated = new Float32Array(hd);
      for (let i = 0; i < half; i++) {
        rotated[i] = -vec[o + i + half];
        rotated[i + half] = vec[o + i];
      }
      for (let i = 0; i < hd; i++) vec[o + i] = vec[o + i] * cos[pos * hd + i] + rotated[i] * sin[pos * hd + i];
    }
  };

  for (let l = 0; l < L; l++) {
    const lw = w.layers[l];
    const K = new Float32Array(KVH * T * hd);
    const Vv = new Float32Array(KVH * T * hd);
    if (input.past) {
      for (let h = 0; h < KVH; h++) {
        K.set(input.past.keys[l].subarray(h * P * hd, (h + 1) * P * hd), h * T * hd);
        Vv.set(input.past.values[l].subarray(h * P * hd, (h + 1) * P * hd), h * T * hd);
      }
    }
    const queries: Float32Array[] = [];
    for (let s = 0; s < S; s++) {
      const x = rmsNorm(hidden[s], lw.inputNorm, config.rmsNormEps);
      const q = matVec(lw.q, x, lw.qBias);
      const k = matVec(lw.k, x, lw.kBias);
      const v = matVec(lw.v, x, lw.vBias);
      rope(q, H, positions[s]);
      rope(k, KVH, positions[s]);
      for (let h = 0; h < KVH; h++) {
        K.set(k.subarray(h * hd, (h + 1) * hd), (h * T + P + s) * hd);
        Vv.set(v.subarray(h * hd, (h + 1) * hd), (h * T + P + s) * hd);
      }
      queries.push(q);
    }
    present.keys.push(K);
    present.values.push(Vv);
    const next: Float32Array[] = [];
    for (let s = 0; s < S; s++) {
      const attn = new Float32Array(H * hd);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / group);
        const scores = new Float64Array(T);
        let max = -Infinity;
        for (let t = 0; t < T; t++) {
          if (t > P + s || !mask[t]) {
            scores[t] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += queries[s][h * hd + i] * K[(kvh * T + t) * hd + i];
          scores[t] = dot * scale;
          if (scores[t] > max) max = scores[t];
        }
        let sum = 0;
        for (let t = 0; t < T; t++) {
          scores[t] = scores[t] === -Infinity ? 0 : Math.exp(scores[t] - max);
          sum += scores[t];
        }
        for (let t = 0; t < T; t++) {
          const p = scores[t] / sum;
          if (p === 0) continue;
          for (let i = 0; i < hd; i++) attn[h * hd + i] += p * Vv[(kvh * T + t) * hd + i];
        }
      }
      const o = matVec(lw.o, attn, lw.oBias);
      const h1 = new Float32Array(d);
      for (let i = 0; i < d; i++) h1[i] = hidden[s][i] + o[i];
      const x = rmsNorm(h1, lw.postNorm, config.rmsNormEps);
      const g = matVec(lw.gate, x);
      const u = matVec(lw.up, x);
      const act = new Float32Array(g.length);
      for (let i = 0; i < g.length; i++) act[i] = silu(g[i]) * u[i];
      const ffn = matVec(lw.down, act);
      const mem = input.memory;
      if (mem && mem.rank > 0) {
        const R = mem.rank;
        const mg = { data: mem.gate.subarray(l * R * d, (l + 1) * R * d), rows: R, cols: d };
        const mu = { data: mem.up.subarray(l * R * d, (l + 1) * R * d), rows: R, cols: d };
        const md = { data: mem.down.subarray(l * d * R, (l + 1) * d * R), rows: d, cols: R };
        const gg = matVec(mg, x);
        const uu = matVec(mu, x);
        for (let i = 0; i < R; i++) gg[i] = silu(gg[i]) * uu[i];
        const extra = matVec(md, gg);
        for (let i = 0; i < d; i++) ffn[i] += extra[i];
      }
      for (let i = 0; i < d; i++) h1[i] += ffn[i];
      next.push(h1);
    }
    hidden = next;
  }
  const logits = new Float32Array(S * V);
  for (let s = 0; s < S; s++) {
    const x = rmsNorm(hidden[s], w.finalNorm, config.rmsNormEps);
    logits.set(matVec(w.lmHead, x), s * V);
  }
  return { logits, present };
}
