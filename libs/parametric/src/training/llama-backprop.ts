// Forward + hand-derived backward pass of the Llama family (the same maths as
// @engram/inference's graph and referenceForward), in float64, batch of one sequence,
// causal, no past. It produces next-token loss and gradients for the memory inputs
// (mem_gate / mem_up / mem_down) and, when asked, for every anchor parameter.
// ADR 0301 explains why this is TypeScript and not an ONNX backward graph.
import { ropeTables, type LlamaConfig, type LlamaWeights } from '@engram/inference';

/** Float64 copy of a Llama checkpoint; the layout mirrors LlamaWeights (row-major, [out, in]). */
export interface Params64 {
  embed: Float64Array; // [V, d]
  lmHead: Float64Array; // [V, d] (the same array as embed when tied)
  finalNorm: Float64Array;
  layers: Layer64[];
}

export interface Layer64 {
  inputNorm: Float64Array;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  o: Float64Array;
  qBias?: Float64Array;
  kBias?: Float64Array;
  vBias?: Float64Array;
  oBias?: Float64Array;
  postNorm: Float64Array;
  gate: Float64Array;
  up: Float64Array;
  down: Float64Array;
}

/** Memory inputs in float64: per layer gate [R, d], up [R, d], down [d, R], stacked over L. */
export interface Memory64 {
  rank: number;
  gate: Float64Array;
  up: Float64Array;
  down: Float64Array;
}

export interface BackpropOptions {
  /** Accumulate anchor gradients into this (same shapes as the params); omit to keep the anchor frozen. */
  anchorGrad?: Params64;
  /** Accumulate memory gradients into this. */
  memoryGrad?: Memory64;
  /** Multiplier on the loss (e.g. 1/batch). */
  scale?: number;
}

const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);

export function toParams64(w: LlamaWeights): Params64 {
  const embed = f64(w.embed.data);
  return {
    embed,
    lmHead: w.lmHead === w.embed ? embed : f64(w.lmHead.data),
    finalNorm: f64(w.finalNorm),
    layers: w.layers.map((l) => ({
      inputNorm: f64(l.inputNorm),
      q: f64(l.q.data),
      k: f64(l.k.data),
      v: f64(l.v.data),
      o: f64(l.o.data),
      qBias: l.qBias && f64(l.qBias),
      kBias: l.kBias && f64(l.kBias),
      vBias: l.vBias && f64(l.vBias),
      oBias: l.oBias && f64(l.oBias),
      postNorm: f64(l.postNorm),
      gate: f64(l.gate.data),
      up: f64(l.up.data),
      down: f64(l.down.data),
    })),
  };
}

export function toLlamaWeights(config: LlamaConfig, p: Params64): LlamaWeights {
  const { hiddenSize: d, intermediateSize: ff, vocabSize: V, numHeads: H, numKvHeads: KVH, headDim: hd } = config;
  const m = (data: Float64Array, rows: number, cols: number) => ({ data: Float32Array.from(data), rows, cols });
  const v = (a?: Float64Array) => a && Float32Array.from(a);
  const embed = m(p.embed, V, d);
  return {
    embed,
    lmHead: p.lmHead === p.embed ? embed : m(p.lmHead, V, d),
    finalNorm: Float32Array.from(p.finalNorm),
    layers: p.layers.map((l) => ({
      inputNorm: Float32Array.from(l.inputNorm),
      q: m(l.q, H * hd, d),
      k: m(l.k, KVH * hd, d),
      v: m(l.v, KVH * hd, d),
      o: m(l.o, d, H * hd),
      qBias: v(l.qBias),
      kBias: v(l.kBias),
      vBias: v(l.vBias),
      oBias: v(l.oBias),
      postNorm: Float32Array.from(l.postNorm),
      gate: m(l.gate, ff, d),
      up: m(l.up, ff, d),
      down: m(l.down, d, ff),
    })),
  };
}

/** A zero-filled structure of the same shapes (ties preserved). */
export function zerosLike(p: Params64): Params64 {
  const z = (a: Float64Array) => new Float64Array(a.length);
  const zo = (a?: Float64Array) => a && z(a);
  const embed = z(p.embed);
  return {
    embed,
    lmHead: p.lmHead === p.embed ? embed : z(p.lmHead),
    finalNorm: z(p.finalNorm),
    layers: p.layers.map((l) => ({
      inputNorm: z(l.inputNorm),
      q: z(l.q),
      k: z(l.k),
      v: z(l.v),
      o: z(l.o),
      qBias: zo(l.qBias),
      kBias: zo(l.kBias),
      vBias: zo(l.vBias),
      oBias: zo(l.oBias),
      postNorm: z(l.postNorm),
      gate: z(l.gate),
      up: z(l.up),
      down: z(l.down),
    })),
  };
}

/** Every parameter array once (a tied lm head is not listed twice). */
export function paramArrays(p: Params64): Float64Array[] {
  const out: Float64Array[] = [p.embed];
  if (p.lmHead !== p.embed) out.push(p.lmHead);
  out.push(p.finalNorm);
  for (const l of p.layers) {
    for (const a of [l.inputNorm, l.q, l.k, l.v, l.o, l.qBias, l.kBias, l.vBias, l.oBias, l.postNorm, l.gate, l.up, l.down]) if (a) out.push(a);
  }
  return out;
}

// ---- dense kernels (row-major) ----

/** C[m,n] = A[m,k] · B[n,k]^T (+ bias[n]). */
function mmNT(A: Float64Array, B: Float64Array, m: number, k: number, n: number, bias?: Float64Array): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ao = i * k;
    for (let j = 0; j < n; j++) {
      const bo = j * k;
      let acc = bias ? bias[j] : 0;
      for (let t = 0; t < k; t++) acc += A[ao + t] * B[bo + t];
      C[i * n + j] = acc;
    }
  }
  return C;
}

/** C[m,k] += dY[m,n] · B[n,k]. */
function mmNNAcc(C: Float64Array, dY: Float64Array, B: Float64Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const co = i * k;
    for (let j = 0; j < n; j++) {
      const g = dY[i * n + j];
      if (g === 0) continue;
      const bo = j * k;
      for (let t = 0; t < k; t++) C[co + t] += g * B[bo + t];
    }
  }
}

/** G[n,k] += dY[m,n]^T · X[m,k]. */
function mmTNAcc(G: Float64Array, dY: Float64Array, X: Float64Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const xo = i * k;
    for (let j = 0; j < n; j++) {
      const g = dY[i * n + j];
      if (g === 0) continue;
      const go = j * k;
      for (let t = 0; t < k; t++) G[go + t] += g * X[xo + t];
    }
  }
}

function rmsNorm(x: Float64Array, w: Float64Array, S: number, d: number, eps: number): { y: Float64Array; inv: Float64Array } {
  const y = new Float64Array(S * d);
  const inv = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[s * d + i] ** 2;
    const r = 1 / Math.sqrt(ss / d + eps);
    inv[s] = r;
    for (let i = 0; i < d; i++) y[s * d + i] = x[s * d + i] * r * w[i];
  }
  return { y, inv };
}

/** dx += rmsnorm'(dy); dw += … when given. */
function rmsNormBack(dy: Float64Array, x: Float64Array, w: Float64Array, inv: Float64Array, S: number, d: number, dx: Float64Array, dw?: Float64Array): void {
  for (let s = 0; s < S; s++) {
    const r = inv[s];
    let dot = 0;
    for (let i = 0; i < d; i++) dot += dy[s * d + i] * w[i] * x[s * d + i];
    const c = (r * r * r * dot) / d;
    for (let i = 0; i < d; i++) {
      const o = s * d + i;
      dx[o] += r * dy[o] * w[i] - x[o] * c;
      if (dw) dw[i] += dy[o] * x[o] * r;
    }
  }
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function swiglu(g: Float64Array, u: Float64Array): Float64Array {
  const a = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) a[i] = g[i] * sigmoid(g[i]) * u[i];
  return a;
}

/** From d act: dg, du of act = silu(g) ⊙ u. */
function swigluBack(dact: Float64Array, g: Float64Array, u: Float64Array): { dg: Float64Array; du: Float64Array } {
  const dg = new Float64Array(g.length);
  const du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const sg = sigmoid(g[i]);
    const silu = g[i] * sg;
    du[i] = dact[i] * silu;
    dg[i] = dact[i] * u[i] * sg * (1 + g[i] * (1 - sg));
  }
  return { dg, du };
}

function rope(x: Float64Array, S: number, heads: number, hd: number, cos: Float32Array, sin: Float32Array, inverse: boolean): void {
  // Forward: x' = x·cos + rot(x)·sin with rot(x) = (-x2, x1). Its transpose (for the
  // backward pass) is the same rotation with -sin.
  const half = hd / 2;
  const sign = inverse ? -1 : 1;
  for (let s = 0; s < S; s++) {
    for (let h = 0; h < heads; h++) {
      const o = (s * heads + h) * hd;
      for (let i = 0; i < half; i++) {
        const a = x[o + i];
        const b = x[o + i + half];
        const c1 = cos[s * hd + i];
        const s1 = sign * sin[s * hd + i];
        const c2 = cos[s * hd + i + half];
        const s2 = sign * sin[s * hd + i + half];
        x[o + i] = a * c1 - b * s1;
        x[o + i + half] = b * c2 + a * s2;
      }
    }
  }
}

/** The model's own next-token distributions [S, V] (last row zero): soft targets that say "change nothing". */
export function nextTokenDistributions(config: LlamaConfig, p: Params64, ids: readonly number[], memory?: Memory64): Float64Array {
  const V = config.vocabSize;
  const logits = forwardBackward(config, p, ids, memory, { keepLogits: true, forwardOnly: true }).logits!;
  const out = new Float64Array(ids.length * V);
  for (let s = 0; s + 1 < ids.length; s++) {
    const o = s * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += out[o + j] = Math.exp(logits[o + j] - max);
    for (let j = 0; j < V; j++) out[o + j] /= sum;
  }
  return out;
}

export interface BackpropResult {
  /** Mean next-token loss (nats) over the scored positions. */
  loss: number;
  /** Number of scored positions. */
  count: number;
  /** [S, V] logits when requested. */
  logits?: Float64Array;
}

/**
 * Runs the sequence `ids`, scores positions s with target ids[s+1] (all, or those where
 * `lossMask[s+1]` is set), and — when gradient sinks are given — back-propagates.
 */
export function forwardBackward(
  config: LlamaConfig,
  p: Params64,
  ids: readonly number[],
  memory: Memory64 | undefined,
  options: BackpropOptions & {
    lossMask?: readonly boolean[];
    keepLogits?: boolean;
    forwardOnly?: boolean;
    /** [S, V] target distributions per position (row s = next-token distribution after s) instead of ids[s+1]. */
    softTargets?: Float64Array;
  } = {},
): BackpropResult {
  const { hiddenSize: d, numHeads: H, numKvHeads: KVH, headDim: hd, numLayers: L, vocabSize: V, intermediateSize: ff, rmsNormEps: eps } = config;
  const S = ids.length;
  const qd = H * hd;
  const kd = KVH * hd;
  const group = H / KVH;
  const scale = 1 / Math.sqrt(hd);
  const { cos, sin } = ropeTables(config, S);
  const R = memory?.rank ?? 0;

  interface Saved {
    hIn: Float64Array;
    xn: Float64Array;
    inv1: Float64Array;
    q: Float64Array;
    k: Float64Array;
    v: Float64Array;
    P: Float64Array; // [H, S, S]
    a: Float64Array;
    h1: Float64Array;
    xn2: Float64Array;
    inv2: Float64Array;
    g: Float64Array;
    u: Float64Array;
    act: Float64Array;
    mg?: Float64Array;
    mu?: Float64Array;
    ma?: Float64Array;
  }
  const saved: Saved[] = [];

  let h = new Float64Array(S * d);
  for (let s = 0; s < S; s++) h.set(p.embed.subarray(ids[s] * d, (ids[s] + 1) * d), s * d);

  for (let l = 0; l < L; l++) {
    const w = p.layers[l];
    const { y: xn, inv: inv1 } = rmsNorm(h, w.inputNorm, S, d, eps);
    const q = mmNT(xn, w.q, S, d, qd, w.qBias);
    const k = mmNT(xn, w.k, S, d, kd, w.kBias);
    const v = mmNT(xn, w.v, S, d, kd, w.vBias);
    rope(q, S, H, hd, cos, sin, false);
    rope(k, S, KVH, hd, cos, sin, false);
    const P = new Float64Array(H * S * S);
    const a = new Float64Array(S * qd);
    for (let hh = 0; hh < H; hh++) {
      const kh = Math.floor(hh / group);
      for (let s = 0; s < S; s++) {
        const row = (hh * S + s) * S;
        let max = -Infinity;
        for (let t = 0; t <= s; t++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[s * qd + hh * hd + i] * k[t * kd + kh * hd + i];
          P[row + t] = dot * scale;
          if (P[row + t] > max) max = P[row + t];
        }
        let sum = 0;
        for (let t = 0; t <= s; t++) {
          P[row + t] = Math.exp(P[row + t] - max);
          sum += P[row + t];
        }
        for (let t = 0; t <= s; t++) {
          const pr = (P[row + t] /= sum);
          for (let i = 0; i < hd; i++) a[s * qd + hh * hd + i] += pr * v[t * kd + kh * hd + i];
        }
      }
    }
    const o = mmNT(a, w.o, S, qd, d, w.oBias);
    const h1 = new Float64Array(S * d);
    for (let i = 0; i < S * d; i++) h1[i] = h[i] + o[i];
    const { y: xn2, inv: inv2 } = rmsNorm(h1, w.postNorm, S, d, eps);
    const g = mmNT(xn2, w.gate, S, d, ff);
    const u = mmNT(xn2, w.up, S, d, ff);
    const act = swiglu(g, u);
    const f = mmNT(act, w.down, S, ff, d);
    const sv: Saved = { hIn: h, xn, inv1, q, k, v, P, a, h1, xn2, inv2, g, u, act };
    if (memory && R > 0) {
      const Mg = memory.gate.subarray(l * R * d, (l + 1) * R * d);
      const Mu = memory.up.subarray(l * R * d, (l + 1) * R * d);
      const Md = memory.down.subarray(l * d * R, (l + 1) * d * R);
      const mg = mmNT(xn2, Mg, S, d, R);
      const mu = mmNT(xn2, Mu, S, d, R);
      const ma = swiglu(mg, mu);
      const fm = mmNT(ma, Md, S, R, d);
      for (let i = 0; i < S * d; i++) f[i] += fm[i];
      sv.mg = mg;
      sv.mu = mu;
      sv.ma = ma;
    }
    const h2 = new Float64Array(S * d);
    for (let i = 0; i < S * d; i++) h2[i] = h1[i] + f[i];
    saved.push(sv);
    h = h2;
  }
  const { y: xf, inv: invF } = rmsNorm(h, p.finalNorm, S, d, eps);
  const logits = mmNT(xf, p.lmHead, S, d, V);

  // Loss and d logits.
  const mask = options.lossMask;
  let count = 0;
  for (let s = 0; s + 1 < S; s++) if (!mask || mask[s + 1]) count++;
  let loss = 0;
  const dlogits = new Float64Array(S * V);
  const lscale = (options.scale ?? 1) / Math.max(count, 1);
  for (let s = 0; s + 1 < S; s++) {
    if (mask && !mask[s + 1]) continue;
    const o = s * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
    for (let j = 0; j < V; j++) dlogits[o + j] = (Math.exp(logits[o + j] - max) / sum) * lscale;
    const soft = options.softTargets;
    if (soft) {
      // Cross-entropy against a distribution (e.g. the anchor's own): −Σ p·log q.
      for (let j = 0; j < V; j++) {
        const pj = soft[o + j];
        if (pj === 0) continue;
        loss += pj * (Math.log(sum) + max - logits[o + j]);
        dlogits[o + j] -= pj * lscale;
      }
    } else {
      const target = ids[s + 1];
      loss += Math.log(sum) + max - logits[o + target];
      dlogits[o + target] -= lscale;
    }
  }
  const result: BackpropResult = { loss: loss / Math.max(count, 1), count, logits: options.keepLogits ? logits : undefined };
  if (options.forwardOnly || (!options.anchorGrad && !options.memoryGrad)) return result;

  const ag = options.anchorGrad;
  const mgrad = options.memoryGrad;
  const dxf = new Float64Array(S * d);
  mmNNAcc(dxf, dlogits, p.lmHead, S, V, d);
  if (ag) mmTNAcc(ag.lmHead, dlogits, xf, S, V, d);
  let dh = new Float64Array(S * d);
  rmsNormBack(dxf, h, p.finalNorm, invF, S, d, dh, ag?.finalNorm);

  for (let l = L - 1; l >= 0; l--) {
    const w = p.layers[l];
    const sv = saved[l];
    const gl = ag?.layers[l];
    // FFN: h2 = h1 + f(xn2)
    const df = dh;
    const dxn2 = new Float64Array(S * d);
    const dact = new Float64Array(S * ff);
    mmNNAcc(dact, df, w.down, S, d, ff);
    if (gl) mmTNAcc(gl.down, df, sv.act, S, d, ff);
    const { dg, du } = swigluBack(dact, sv.g, sv.u);
    mmNNAcc(dxn2, dg, w.gate, S, ff, d);
    mmNNAcc(dxn2, du, w.up, S, ff, d);
    if (gl) {
      mmTNAcc(gl.gate, dg, sv.xn2, S, ff, d);
      mmTNAcc(gl.up, du, sv.xn2, S, ff, d);
    }
    if (memory && R > 0 && sv.ma && sv.mg && sv.mu) {
      const Mg = memory.gate.subarray(l * R * d, (l + 1) * R * d);
      const Mu = memory.up.subarray(l * R * d, (l + 1) * R * d);
      const Md = memory.down.subarray(l * d * R, (l + 1) * d * R);
      const dma = new Float64Array(S * R);
      mmNNAcc(dma, df, Md, S, d, R);
      const m = swigluBack(dma, sv.mg, sv.mu);
      mmNNAcc(dxn2, m.dg, Mg, S, R, d);
      mmNNAcc(dxn2, m.du, Mu, S, R, d);
      if (mgrad) {
        mmTNAcc(mgrad.down.subarray(l * d * R, (l + 1) * d * R), df, sv.ma, S, d, R);
        mmTNAcc(mgrad.gate.subarray(l * R * d, (l + 1) * R * d), m.dg, sv.xn2, S, R, d);
        mmTNAcc(mgrad.up.subarray(l * R * d, (l + 1) * R * d), m.du, sv.xn2, S, R, d);
      }
    }
    const dh1 = Float64Array.from(dh);
    rmsNormBack(dxn2, sv.h1, w.postNorm, sv.inv2, S, d, dh1, gl?.postNorm);
    // Attention: h1 = hIn + o(a)
    const da = new Float64Array(S * qd);
    mmNNAcc(da, dh1, w.o, S, d, qd);
    if (gl) {
      mmTNAcc(gl.o, dh1, sv.a, S, d, qd);
      if (gl.oBias) for (let s = 0; s < S; s++) for (let i = 0; i < d; i++) gl.oBias[i] += dh1[s * d + i];
    }
    const dq = new Float64Array(S * qd);
    const dk = new Float64Array(S * kd);
    const dv = new Float64Array(S * kd);
    const dP = new Float64Array(S);
    for (let hh = 0; hh < H; hh++) {
      const kh = Math.floor(hh / group);
      for (let s = 0; s < S; s++) {
        const row = (hh * S + s) * S;
        let dot = 0;
        for (let t = 0; t <= s; t++) {
          let acc = 0;
          for (let i = 0; i < hd; i++) acc += da[s * qd + hh * hd + i] * sv.v[t * kd + kh * hd + i];
          dP[t] = acc;
          dot += sv.P[row + t] * acc;
          const pr = sv.P[row + t];
          for (let i = 0; i < hd; i++) dv[t * kd + kh * hd + i] += pr * da[s * qd + hh * hd + i];
        }
        for (let t = 0; t <= s; t++) {
          const ds = sv.P[row + t] * (dP[t] - dot) * scale;
          if (ds === 0) continue;
          for (let i = 0; i < hd; i++) {
            dq[s * qd + hh * hd + i] += ds * sv.k[t * kd + kh * hd + i];
            dk[t * kd + kh * hd + i] += ds * sv.q[s * qd + hh * hd + i];
          }
        }
      }
    }
    rope(dq, S, H, hd, cos, sin, true);
    rope(dk, S, KVH, hd, cos, sin, true);
    const dxn = new Float64Array(S * d);
    mmNNAcc(dxn, dq, w.q, S, qd, d);
    mmNNAcc(dxn, dk, w.k, S, kd, d);
    mmNNAcc(dxn, dv, w.v, S, kd, d);
    if (gl) {
      mmTNAcc(gl.q, dq, sv.xn, S, qd, d);
      mmTNAcc(gl.k, dk, sv.xn, S, kd, d);
      mmTNAcc(gl.v, dv, sv.xn, S, kd, d);
      const addBias = (b: Float64Array | undefined, g: Float64Array, n: number) => {
        if (b) for (let s = 0; s < S; s++) for (let i = 0; i < n; i++) b[i] += g[s * n + i];
      };
      addBias(gl.qBias, dq, qd);
      addBias(gl.kBias, dk, kd);
      addBias(gl.vBias, dv, kd);
    }
    const dIn = Float64Array.from(dh1);
    rmsNormBack(dxn, sv.hIn, w.inputNorm, sv.inv1, S, d, dIn, gl?.inputNorm);
    dh = dIn;
  }
  if (ag) for (let s = 0; s < S; s++) for (let i = 0; i < d; i++) ag.embed[ids[s] * d + i] += dh[s * d + i];
  return result;
}
