// An ONNX graph, emitted with @engram/inference's GraphBuilder, that runs the anchor
// forward with memory inputs AND the backward pass to the memory inputs: outputs the mean
// next-token loss and d loss / d mem_gate, mem_up, mem_down (anchor frozen: its weights
// are initializers). Static shapes (one sequence of `seqLen` tokens, rank R), no KV cache.
// The backward ops mirror training/llama-backprop.ts step for step; a spec checks the two
// against each other and against finite differences.
import { GraphBuilder, OnnxDataType, ropeTables, type LlamaConfig, type LlamaWeights, type Matrix } from '@engram/inference';

export interface MemoryGradientGraphOptions {
  seqLen: number;
  rank: number;
  /**
   * Also train the anchor: its weights become graph inputs (named like the initializers:
   * `embed`, `layer0.q`, …, `final_norm`, `lm_head`) and the graph outputs `grad.<name>`
   * for each. `weights` then only gives shapes and which optional tensors exist.
   */
  anchorGradients?: boolean;
}

export const GRADIENT_INPUTS = ['input_ids', 'target_onehot', 'mem_gate', 'mem_up', 'mem_down'] as const;
export const GRADIENT_OUTPUTS = ['loss', 'grad_mem_gate', 'grad_mem_up', 'grad_mem_down'] as const;

function transposed(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) out[c * m.rows + r] = m.data[r * m.cols + c];
  return out;
}

/**
 * Names, shapes and data of the anchor-weight inputs of a graph built with
 * `anchorGradients`, in the order of `paramArrays` (so gradients line up with AdamW).
 */
export function anchorWeightInputs(w: LlamaWeights): Array<{ name: string; dims: number[]; data: Float32Array }> {
  const out: Array<{ name: string; dims: number[]; data: Float32Array }> = [];
  const m = (name: string, x: Matrix) => out.push({ name, dims: [x.rows, x.cols], data: x.data });
  const v = (name: string, x: Float32Array | undefined) => x && out.push({ name, dims: [x.length], data: x });
  m('embed', w.embed);
  if (w.lmHead !== w.embed) m('lm_head', w.lmHead);
  v('final_norm', w.finalNorm);
  w.layers.forEach((lw, l) => {
    const p = `layer${l}`;
    v(`${p}.in_norm`, lw.inputNorm);
    m(`${p}.q`, lw.q);
    m(`${p}.k`, lw.k);
    m(`${p}.v`, lw.v);
    m(`${p}.o`, lw.o);
    v(`${p}.q.bias`, lw.qBias);
    v(`${p}.k.bias`, lw.kBias);
    v(`${p}.v.bias`, lw.vBias);
    v(`${p}.o.bias`, lw.oBias);
    v(`${p}.post_norm`, lw.postNorm);
    m(`${p}.gate`, lw.gate);
    m(`${p}.up`, lw.up);
    m(`${p}.down`, lw.down);
  });
  return out;
}

export function buildMemoryGradientGraph(config: LlamaConfig, w: LlamaWeights, options: MemoryGradientGraphOptions): GraphBuilder {
  const { hiddenSize: d, numHeads: H, numKvHeads: KVH, headDim: hd, numLayers: L, vocabSize: V, intermediateSize: ff, rmsNormEps: eps } = config;
  const S = options.seqLen;
  const R = options.rank;
  const qd = H * hd;
  const kd = KVH * hd;
  const group = H / KVH;
  const half = hd / 2;
  const g = new GraphBuilder('engram_memory_gradient');
  const FLOAT = OnnxDataType.FLOAT;

  const ids = g.input('input_ids', OnnxDataType.INT64, [S]);
  const onehot = g.input('target_onehot', FLOAT, [S, V]);
  const memGate = g.input('mem_gate', FLOAT, [L, R, d]);
  const memUp = g.input('mem_up', FLOAT, [L, R, d]);
  const memDown = g.input('mem_down', FLOAT, [L, d, R]);

  const op = (type: string, inputs: string[], attrs: Record<string, number | number[]> = {}) => g.op1(type, inputs, attrs);
  const mul = (...xs: string[]) => xs.reduce((a, b) => op('Mul', [a, b]));
  const add = (...xs: string[]) => xs.reduce((a, b) => op('Add', [a, b]));
  const sub = (a: string, b: string) => op('Sub', [a, b]);
  const mm = (a: string, b: string) => op('MatMul', [a, b]);
  const tr = (x: string, perm: number[]) => op('Transpose', [x], { perm });
  const reshape = (x: string, shape: number[]) => op('Reshape', [x, g.int64(shape)]);
  const rsum = (x: string, axes: number[], keep: 0 | 1) => op('ReduceSum', [x, g.int64(axes)], { keepdims: keep });
  // Weights are memoised by name: the backward pass reuses the forward's. Frozen anchor:
  // initializers (the transposes precomputed); trained anchor: graph inputs.
  const trainW = options.anchorGradients ?? false;
  const named = new Map<string, string>();
  const once = (name: string, make: () => string) => named.get(name) ?? (named.set(name, make()), named.get(name)!);
  const mat = (name: string, m: Matrix) => once(name, () => (trainW ? g.input(name, FLOAT, [m.rows, m.cols]) : g.floatTensor(name, [m.rows, m.cols], m.data)));
  const matT = (name: string, m: Matrix) =>
    once(`${name}T`, () => (trainW ? g.op1('Transpose', [mat(name, m)], { perm: [1, 0] }) : g.floatTensor(`${name}T`, [m.cols, m.rows], transposed(m))));
  const vec = (name: string, v: Float32Array) => once(name, () => (trainW ? g.input(name, FLOAT, [v.length]) : g.floatTensor(name, [v.length], v)));
  const grads = new Map<string, string[]>();
  /** Records a gradient contribution; built only when the anchor is trained (no dead nodes otherwise). */
  const acc = (name: string, t: () => string) => {
    if (trainW) grads.set(name, [...(grads.get(name) ?? []), t()]);
  };
  const lmName = w.lmHead === w.embed ? 'embed' : 'lm_head';

  const rms = (x: string, weight: string) => {
    const inv = op('Div', [g.float(1), op('Sqrt', [add(op('ReduceMean', [mul(x, x)], { axes: [-1], keepdims: 1 }), g.float(eps))])]);
    return { y: mul(x, inv, weight), inv };
  };
  /** dx = inv·(dy⊙w) − x·inv³/d·Σ(dy⊙w⊙x). */
  const rmsBack = (dy: string, x: string, weight: string, inv: string) => {
    const dyw = mul(dy, weight);
    const dot = rsum(mul(dyw, x), [-1], 1);
    return sub(mul(inv, dyw), mul(x, mul(inv, inv, inv, g.float(1 / d)), dot));
  };
  /** rmsBack plus, when training the anchor, d weight = Σ_s dy ⊙ x ⊙ inv. */
  const rmsBackW = (name: string, dy: string, x: string, weight: string, inv: string) => {
    acc(name, () => rsum(mul(dy, x, inv), [0], 0));
    return rmsBack(dy, x, weight, inv);
  };
  const silu = (x: string) => {
    const s = op('Sigmoid', [x]);
    return { s, y: mul(x, s) };
  };
  /** From d act of act = silu(a) ⊙ b: (da, db). */
  const swigluBack = (dact: string, a: string, b: string, sig: string) => {
    const dsilu = mul(sig, add(g.float(1), mul(a, sub(g.float(1), sig))));
    return { da: mul(dact, b, dsilu), db: mul(dact, a, sig) };
  };

  const tables = ropeTables(config, S);
  const negSin = Float32Array.from(tables.sin, (v) => -v);
  const cos = g.floatTensor('rope.cos', [S, 1, hd], tables.cos);
  const sin = g.floatTensor('rope.sin', [S, 1, hd], tables.sin);
  const sinBack = g.floatTensor('rope.sin_back', [S, 1, hd], negSin);
  /** x·cos + rot(x)·sin on [S, heads, hd]; with sinBack it is the transpose (the backward). */
  const rope = (x: string, s: string) => {
    const axis = g.int64([2]);
    const x1 = op('Slice', [x, g.int64([0]), g.int64([half]), axis]);
    const x2 = op('Slice', [x, g.int64([half]), g.int64([hd]), axis]);
    const rot = op('Concat', [op('Neg', [x2]), x1], { axis: 2 });
    return add(mul(x, cos), mul(rot, s));
  };
  const mask = new Float32Array(S * S);
  for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) mask[i * S + j] = -1e9;
  const causal = g.floatTensor('causal_mask', [S, S], mask);
  const kvIndex = g.int64(Array.from({ length: H }, (_, h) => Math.floor(h / group)));
  const scale = g.float(1 / Math.sqrt(hd));

  interface Saved {
    xn: string;
    a: string;
    act: string;
    hIn: string;
    inv1: string;
    qh: string;
    keh: string;
    vh: string;
    P: string;
    h1: string;
    xn2: string;
    inv2: string;
    gg: string;
    uu: string;
    sg: string;
    mg: string;
    mu: string;
    msg: string;
    ma: string;
    Mg: string;
    Mu: string;
    Md: string;
  }
  const saved: Saved[] = [];
  let h = op('Gather', [mat('embed', w.embed), ids], { axis: 0 });
  for (let l = 0; l < L; l++) {
    const lw = w.layers[l];
    const p = `layer${l}`;
    const n1 = rms(h, vec(`${p}.in_norm`, lw.inputNorm));
    const proj = (name: string, m: Matrix, bias: Float32Array | undefined) => {
      const y = mm(n1.y, matT(`${p}.${name}`, m));
      return bias ? add(y, vec(`${p}.${name}.bias`, bias)) : y;
    };
    const q = rope(reshape(proj('q', lw.q, lw.qBias), [S, H, hd]), sin);
    const k = rope(reshape(proj('k', lw.k, lw.kBias), [S, KVH, hd]), sin);
    const v = reshape(proj('v', lw.v, lw.vBias), [S, KVH, hd]);
    const qh = tr(q, [1, 0, 2]);
    const keh = tr(op('Gather', [k, kvIndex], { axis: 1 }), [1, 0, 2]);
    const vh = tr(op('Gather', [v, kvIndex], { axis: 1 }), [1, 0, 2]);
    const P = op('Softmax', [add(mul(mm(qh, tr(keh, [0, 2, 1])), scale), causal)], { axis: -1 });
    const a = reshape(tr(mm(P, vh), [1, 0, 2]), [S, qd]);
    let o = mm(a, matT(`${p}.o`, lw.o));
    if (lw.oBias) o = add(o, vec(`${p}.o.bias`, lw.oBias));
    const h1 = add(h, o);
    const n2 = rms(h1, vec(`${p}.post_norm`, lw.postNorm));
    const gg = mm(n2.y, matT(`${p}.gate`, lw.gate));
    const uu = mm(n2.y, matT(`${p}.up`, lw.up));
    const sgl = silu(gg);
    const act = mul(sgl.y, uu);
    const f = mm(act, matT(`${p}.down`, lw.down));
    const li = g.int64([l], true);
    const Mg = op('Gather', [memGate, li], { axis: 0 }); // [R, d]
    const Mu = op('Gather', [memUp, li], { axis: 0 });
    const Md = op('Gather', [memDown, li], { axis: 0 }); // [d, R]
    const mg = mm(n2.y, tr(Mg, [1, 0]));
    const mu = mm(n2.y, tr(Mu, [1, 0]));
    const ms = silu(mg);
    const ma = mul(ms.y, mu);
    const fm = mm(ma, tr(Md, [1, 0]));
    saved.push({ xn: n1.y, a, act, hIn: h, inv1: n1.inv, qh, keh, vh, P, h1, xn2: n2.y, inv2: n2.inv, gg, uu, sg: sgl.s, mg, mu, msg: ms.s, ma, Mg, Mu, Md });
    h = add(h1, f, fm);
  }
  const finalNorm = vec('final_norm', w.finalNorm);
  const nf = rms(h, finalNorm);
  const logits = mm(nf.y, matT(lmName, w.lmHead));
  const count = rsum(onehot, [0, 1], 0);
  g.op1('Div', [op('Neg', [rsum(mul(onehot, op('LogSoftmax', [logits], { axis: -1 })), [0, 1], 0)]), count], {}, 'loss');
  const scored = rsum(onehot, [-1], 1);
  const dlogits = op('Div', [sub(mul(op('Softmax', [logits], { axis: -1 }), scored), onehot), count]);
  acc(lmName, () => mm(tr(dlogits, [1, 0]), nf.y));
  let dh = rmsBackW('final_norm', mm(dlogits, mat(lmName, w.lmHead)), h, finalNorm, nf.inv);

  const gradGate: string[] = [];
  const gradUp: string[] = [];
  const gradDown: string[] = [];
  for (let l = L - 1; l >= 0; l--) {
    const lw = w.layers[l];
    const p = `layer${l}`;
    const sv = saved[l];
    // FFN and memory FFN: h2 = h1 + f(xn2) + fm(xn2)
    const df = dh;
    const ffnB = swigluBack(mm(df, mat(`${p}.down`, lw.down)), sv.gg, sv.uu, sv.sg);
    const memB = swigluBack(mm(df, sv.Md), sv.mg, sv.mu, sv.msg);
    gradDown[l] = mm(tr(df, [1, 0]), sv.ma);
    gradGate[l] = mm(tr(memB.da, [1, 0]), sv.xn2);
    gradUp[l] = mm(tr(memB.db, [1, 0]), sv.xn2);
    acc(`${p}.down`, () => mm(tr(df, [1, 0]), sv.act));
    acc(`${p}.gate`, () => mm(tr(ffnB.da, [1, 0]), sv.xn2));
    acc(`${p}.up`, () => mm(tr(ffnB.db, [1, 0]), sv.xn2));
    const dxn2 = add(mm(ffnB.da, mat(`${p}.gate`, lw.gate)), mm(ffnB.db, mat(`${p}.up`, lw.up)), mm(memB.da, sv.Mg), mm(memB.db, sv.Mu));
    const dh1 = add(dh, rmsBackW(`${p}.post_norm`, dxn2, sv.h1, vec(`${p}.post_norm`, lw.postNorm), sv.inv2));
    acc(`${p}.o`, () => mm(tr(dh1, [1, 0]), sv.a));
    if (lw.oBias) acc(`${p}.o.bias`, () => rsum(dh1, [0], 0));
    // Attention: h1 = hIn + o(a)
    const dah = tr(reshape(mm(dh1, mat(`${p}.o`, lw.o)), [S, H, hd]), [1, 0, 2]);
    const dP = mm(dah, tr(sv.vh, [0, 2, 1]));
    const dvh = mm(tr(sv.P, [0, 2, 1]), dah);
    const dS = mul(sv.P, sub(dP, rsum(mul(sv.P, dP), [-1], 1)), scale);
    const dq = tr(mm(dS, sv.keh), [1, 0, 2]); // [S, H, hd]
    const dkExp = tr(mm(tr(dS, [0, 2, 1]), sv.qh), [1, 0, 2]);
    const dvExp = tr(dvh, [1, 0, 2]);
    const dk = rsum(reshape(dkExp, [S, KVH, group, hd]), [2], 0);
    const dv = rsum(reshape(dvExp, [S, KVH, group, hd]), [2], 0);
    const dqr = reshape(rope(dq, sinBack), [S, qd]);
    const dkr = reshape(rope(dk, sinBack), [S, kd]);
    const dvr = reshape(dv, [S, kd]);
    acc(`${p}.q`, () => mm(tr(dqr, [1, 0]), sv.xn));
    acc(`${p}.k`, () => mm(tr(dkr, [1, 0]), sv.xn));
    acc(`${p}.v`, () => mm(tr(dvr, [1, 0]), sv.xn));
    if (lw.qBias) acc(`${p}.q.bias`, () => rsum(dqr, [0], 0));
    if (lw.kBias) acc(`${p}.k.bias`, () => rsum(dkr, [0], 0));
    if (lw.vBias) acc(`${p}.v.bias`, () => rsum(dvr, [0], 0));
    const dxn = add(mm(dqr, mat(`${p}.q`, lw.q)), mm(dkr, mat(`${p}.k`, lw.k)), mm(dvr, mat(`${p}.v`, lw.v)));
    dh = add(dh1, rmsBackW(`${p}.in_norm`, dxn, sv.hIn, vec(`${p}.in_norm`, lw.inputNorm), sv.inv1));
  }
  if (trainW) {
    // Embedding rows: one-hot(ids)ᵀ · d h0 (plus the tied head's share, already in `grads`).
    const oneHotIds = op('OneHot', [ids, g.int64([V]), g.floatTensor('onehot_values', [2], Float32Array.of(0, 1))], { axis: -1 });
    acc('embed', () => mm(tr(oneHotIds, [1, 0]), dh));
    for (const input of anchorWeightInputs(w)) {
      const parts = grads.get(input.name) ?? [];
      const out = `grad.${input.name}`;
      if (parts.length === 0) g.op1('Mul', [named.get(input.name)!, g.float(0)], {}, out);
      else if (parts.length === 1) g.op1('Identity', parts, {}, out);
      else g.op1('Sum', parts, {}, out);
      g.output(out, FLOAT, input.dims);
    }
  }
  const stack = (parts: string[], out: string) => g.op1('Concat', parts.map((x) => op('Unsqueeze', [x, g.int64([0])])), { axis: 0 }, out);
  stack(gradGate, 'grad_mem_gate');
  stack(gradUp, 'grad_mem_up');
  stack(gradDown, 'grad_mem_down');
  g.output('loss', FLOAT, []);
  g.output('grad_mem_gate', FLOAT, [L, R, d]);
  g.output('grad_mem_up', FLOAT, [L, R, d]);
  g.output('grad_mem_down', FLOAT, [L, d, R]);
  return g;
}
