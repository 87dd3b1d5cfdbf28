// Builds the ONNX graph (opset 17, plus ONNX Runtime's com.microsoft ops where they save
// kernels: RotaryEmbedding, GroupQueryAttention, SkipSimplifiedLayerNormalization) of a
// Llama-family decoder from its config and weights. Interface matches HF/optimum decoder exports (input_ids,
// attention_mask, position_ids, past_key_values.{i}.key|value → logits,
// present.{i}.key|value) plus engram's parametric-memory inputs, per slot s and layer l:
//   mem.{s}.{l}.gate [R_s, d], mem.{s}.{l}.up [R_s, d], mem.{s}.{l}.down [d, R_s]  (R_s dynamic, may be 0)
// adding Σ_s down · (silu(gate·x) ⊙ (up·x)) to each FFN output, where x is the FFN's normed
// input. A slot holds one bank level's block: the sum over slots equals the blocks
// concatenated along R, and each input is a view of a fetched block (memory-feeds.ts), so
// attaching memory copies nothing. The memory matrices are multiplied as stored (Gemm
// with transB: no transpose of a weight-sized input per step). Weights become initializers pre-transposed
// to [in, out].
import { GraphBuilder } from '../onnx/graph.builder';
import { OnnxDataType } from '../onnx/onnx-model.encoder';
import { LlamaConfig, ropeTables } from '../model/model-config';
import type { LlamaWeights, Matrix } from '../model/llama-weights';
import { memoryInputName } from '../runtime/memory-feeds';

export interface LlamaGraphOptions {
  /** Add the parametric-memory inputs (default true). */
  memoryInputs?: boolean;
  /** Memory slots, one per bank level (default 4, the paper's depth; deeper banks share the last slot). */
  memorySlots?: number;
  /** Rows of the precomputed RoPE tables (default max_position_embeddings). */
  maxPositions?: number;
  /**
   * Add input `past_position_ids` [batch, past_sequence_length]: the position of each past
   * KV entry. The causal mask then compares positions (key j is seen by query i iff
   * pos(j) <= pos(i)) instead of indices, so past KV may hold any positions in any order
   * (re-rotated caches, selective recompute: kv-blend.ts). Default false (export I/O).
   */
  pastPositions?: boolean;
  /**
   * Probe graph: run layers 0..probeLayer-1 and only the K/V projections of layer
   * `probeLayer`; outputs `probe.key|value` [batch, kv_heads, sequence_length, head_dim]
   * (keys rotated) instead of logits and present KV. Past KV inputs for layers below it.
   */
  probeLayer?: number;
  /**
   * Attention as one ONNX Runtime `GroupQueryAttention` node per layer (KV concatenation,
   * GQA, scaling, mask, softmax and both products) instead of ~16 standard nodes; the mask
   * is still engram's own, fed as the node's attention bias. Default: on whenever the head
   * dimension is a multiple of 8 (the operator's requirement); off keeps the standard-op form.
   */
  fusedAttention?: boolean;
}

export const DEFAULT_MEMORY_SLOTS = 4;
/** Bumped when the graph's inputs or maths change (compiled graphs on disk are keyed by it). */
export const LLAMA_GRAPH_REVISION = 8;
export const pastKeyName = (layer: number): string => `past_key_values.${layer}.key`;
export const pastValueName = (layer: number): string => `past_key_values.${layer}.value`;
export const presentKeyName = (layer: number): string => `present.${layer}.key`;
export const presentValueName = (layer: number): string => `present.${layer}.value`;
export const PAST_POSITION_IDS = 'past_position_ids';
export const PROBE_KEY = 'probe.key';
export const PROBE_VALUE = 'probe.value';

const FLOAT = OnnxDataType.FLOAT;
const INT64 = OnnxDataType.INT64;
const MASKED = -1e9;

function transposed(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) out[c * m.rows + r] = m.data[r * m.cols + c];
  return out;
}

export function buildLlamaGraph(config: LlamaConfig, weights: LlamaWeights, options: LlamaGraphOptions = {}): GraphBuilder {
  const { hiddenSize: d, numHeads: H, numKvHeads: KVH, headDim: hd, numLayers: L, vocabSize: V } = config;
  const probe = options.probeLayer;
  if (probe !== undefined && !(Number.isInteger(probe) && probe >= 0 && probe < L)) throw new RangeError(`probeLayer ${probe} outside [0, ${L})`);
  const slots = probe === undefined && (options.memoryInputs ?? true) ? (options.memorySlots ?? DEFAULT_MEMORY_SLOTS) : 0;
  const group = H / KVH;
  const fused = (options.fusedAttention ?? true) && hd % 8 === 0;
  if (options.fusedAttention && !fused) throw new RangeError(`fusedAttention needs a head dimension that is a multiple of 8 (got ${hd})`);
  const g = new GraphBuilder(probe === undefined ? 'engram_llama' : 'engram_llama_probe');

  const inputIds = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', INT64, ['batch_size', 'sequence_length']);
  const pastPositions = options.pastPositions ? g.input(PAST_POSITION_IDS, INT64, ['batch_size', 'past_sequence_length']) : undefined;
  const pastLayers = probe ?? L;
  for (let l = 0; l < pastLayers; l++) {
    g.input(pastKeyName(l), FLOAT, ['batch_size', KVH, 'past_sequence_length', hd]);
    g.input(pastValueName(l), FLOAT, ['batch_size', KVH, 'past_sequence_length', hd]);
  }
  for (let s = 0; s < slots; s++) {
    for (let l = 0; l < L; l++) {
      g.input(memoryInputName(s, l, 'gate'), FLOAT, [`mem_rank.${s}`, d]);
      g.input(memoryInputName(s, l, 'up'), FLOAT, [`mem_rank.${s}`, d]);
      g.input(memoryInputName(s, l, 'down'), FLOAT, [d, `mem_rank.${s}`]);
    }
  }
  if (probe === undefined) {
    g.output('logits', FLOAT, ['batch_size', 'sequence_length', V]);
    for (let l = 0; l < L; l++) {
      g.output(presentKeyName(l), FLOAT, ['batch_size', KVH, 'total_sequence_length', hd]);
      g.output(presentValueName(l), FLOAT, ['batch_size', KVH, 'total_sequence_length', hd]);
    }
  } else {
    g.output(PROBE_KEY, FLOAT, ['batch_size', KVH, 'sequence_length', hd]);
    g.output(PROBE_VALUE, FLOAT, ['batch_size', KVH, 'sequence_length', hd]);
  }

  const linear = (x: string, name: string, m: Matrix, bias?: Float32Array): string => {
    const w = g.floatTensor(`${name}.weight_t`, [m.cols, m.rows], transposed(m));
    const y = g.op1('MatMul', [x, w]);
    return bias ? g.op1('Add', [y, g.floatTensor(`${name}.bias`, [m.rows], bias)]) : y;
  };
  const rmsNorm = (x: string, name: string, w: Float32Array): string => {
    return g.op1('SimplifiedLayerNormalization', [x, g.floatTensor(`${name}.weight`, [d], w)], { axis: -1, epsilon: { float: config.rmsNormEps } });
  };
  // The residual stream: h, plus the branch output not yet added to it. The add happens in
  // the next norm (one SkipSimplifiedLayerNormalization: the sum and its RMSNorm), not as an
  // Add node of its own.
  let pending: string | undefined;
  const residualNorm = (name: string, w: Float32Array): string => {
    if (pending === undefined) return rmsNorm(h, name, w);
    const out = g.fresh('normed');
    const sum = g.fresh('residual');
    g.contrib('SkipSimplifiedLayerNormalization', [pending, h, g.floatTensor(`${name}.weight`, [d], w)], { epsilon: { float: config.rmsNormEps } }, [out, '', '', sum]);
    h = sum;
    pending = undefined;
    return out;
  };
  const silu = (x: string): string => g.op1('Mul', [x, g.op1('Sigmoid', [x])]);

  // RoPE: cos/sin rows gathered by position_ids → [B, 1, S, hd].
  const maxPos = options.maxPositions ?? config.maxPositionEmbeddings;
  const tables = ropeTables(config, maxPos);
  // RoPE as one ONNX Runtime contrib node per q and k (rotate-half form, caches of the first
  // half of each row): on WebGPU the Slice/Neg/Concat/Mul/Add form was 7 kernels each.
  const half = hd / 2;
  const firstHalves = (t: Float32Array): Float32Array => {
    const out = new Float32Array(maxPos * half);
    for (let p = 0; p < maxPos; p++) out.set(t.subarray(p * hd, p * hd + half), p * half);
    return out;
  };
  const cosCache = g.floatTensor('rope.cos_cache', [maxPos, half], firstHalves(tables.cos));
  const sinCache = g.floatTensor('rope.sin_cache', [maxPos, half], firstHalves(tables.sin));
  const rope = (x: string, out?: string): string => g.contrib1('RotaryEmbedding', [x, positionIds, cosCache, sinCache], { interleaved: 0 }, out);

  // Additive mask [B, 1, S, T]: query i (absolute P+i) sees key j iff j <= P+i and mask[j];
  // with past positions: iff pos(j) <= position_ids[i] and mask[j].
  const totalLen = g.op1('Gather', [g.op1('Shape', [attentionMask]), g.int64([1], true)]);
  let causal: string;
  if (pastPositions) {
    const keyPos = g.op1('Unsqueeze', [g.op1('Concat', [pastPositions, positionIds], { axis: 1 }), g.int64([1, 2])]); // [B, 1, 1, T]
    const queryPos = g.op1('Unsqueeze', [positionIds, g.int64([1, 3])]); // [B, 1, S, 1]
    causal = g.op1('LessOrEqual', [keyPos, queryPos]);
  } else {
    const seqLen = g.op1('Gather', [g.op1('Shape', [inputIds]), g.int64([1], true)]);
    const pastLen = g.op1('Sub', [totalLen, seqLen]);
    const zero = g.int64([0], true);
    const one = g.int64([1], true);
    const keyIdx = g.op1('Range', [zero, totalLen, one]);
    const queryIdx = g.op1('Unsqueeze', [g.op1('Add', [g.op1('Range', [zero, seqLen, one]), pastLen]), g.int64([1])]);
    causal = g.op1('LessOrEqual', [keyIdx, queryIdx]);
  }
  const padding = g.op1('Unsqueeze', [g.op1('Cast', [attentionMask], { to: OnnxDataType.BOOL }), g.int64([1, 2])]);
  const maskBias = g.op1('Where', [g.op1('And', [causal, padding]), g.float(0), g.float(MASKED)]);

  // GroupQueryAttention's own masking is causal by index (query i sees keys 0..P+i) within
  // seqlens_k + 1 keys: with seqlens_k = T − 1 for every row it hides nothing engram's mask
  // shows, as long as new tokens come in ascending positions (kv-blend.ts feeds them so).
  let seqlensK = '';
  let totalLen32 = '';
  if (fused) {
    totalLen32 = g.op1('Cast', [totalLen], { to: OnnxDataType.INT32 });
    const batch = g.op1('Slice', [g.op1('Shape', [inputIds]), g.int64([0]), g.int64([1])]);
    seqlensK = g.op1('Expand', [g.op1('Sub', [totalLen32, g.op1('Cast', [g.int64([1], true)], { to: OnnxDataType.INT32 })]), batch]);
  }

  const shapeBSHD = (heads: number): string => g.int64([0, 0, heads, hd]);
  const toHeads = (x: string, heads: number, out?: string): string =>
    g.op1('Transpose', [g.op1('Reshape', [x, shapeBSHD(heads)])], { perm: [0, 2, 1, 3] }, out);

  // Tokens × features view of an activation, for the memory's Gemms, and the [B, S, d] shape back.
  const rows = slots > 0 ? g.int64([-1, d]) : '';
  const shapeBSD = slots > 0 ? g.op1('Concat', [g.op1('Shape', [inputIds]), g.int64([d])], { axis: 0 }) : '';

  let h = g.op1('Gather', [g.floatTensor('model.embed_tokens.weight', [V, d], weights.embed.data), inputIds]);
  for (let l = 0; l < L; l++) {
    const lw = weights.layers[l];
    const p = `model.layers.${l}`;
    const x = residualNorm(`${p}.input_layernorm`, lw.inputNorm);
    if (l === probe) {
      rope(toHeads(linear(x, `${p}.self_attn.k_proj`, lw.k, lw.kBias), KVH), PROBE_KEY);
      toHeads(linear(x, `${p}.self_attn.v_proj`, lw.v, lw.vBias), KVH, PROBE_VALUE);
      return g;
    }
    if (fused) {
      // BSD in and out, KV in BNSH as the graph's past/present; RoPE by position_ids before.
      const [attn] = g.contrib(
        'GroupQueryAttention',
        [
          rope(linear(x, `${p}.self_attn.q_proj`, lw.q, lw.qBias)),
          rope(linear(x, `${p}.self_attn.k_proj`, lw.k, lw.kBias)),
          linear(x, `${p}.self_attn.v_proj`, lw.v, lw.vBias),
          pastKeyName(l),
          pastValueName(l),
          seqlensK,
          totalLen32,
          '',
          '',
          '',
          maskBias,
        ],
        { num_heads: H, kv_num_heads: KVH },
        [g.fresh('attn'), presentKeyName(l), presentValueName(l)],
      );
      pending = linear(attn, `${p}.self_attn.o_proj`, lw.o, lw.oBias);
    } else {
      const q = rope(toHeads(linear(x, `${p}.self_attn.q_proj`, lw.q, lw.qBias), H));
      const k = rope(toHeads(linear(x, `${p}.self_attn.k_proj`, lw.k, lw.kBias), KVH));
      const v = toHeads(linear(x, `${p}.self_attn.v_proj`, lw.v, lw.vBias), KVH);
      const keys = g.op1('Concat', [pastKeyName(l), k], { axis: 2 }, presentKeyName(l));
      const values = g.op1('Concat', [pastValueName(l), v], { axis: 2 }, presentValueName(l));
      // GQA without copying K/V: fold the query heads of a group into the sequence axis.
      const qScaled = g.op1('Mul', [q, g.float(1 / Math.sqrt(hd))]);
      const qGrouped = group === 1 ? qScaled : g.op1('Reshape', [qScaled, g.int64([0, KVH, -1, hd])]);
      let scores = g.op1('MatMul', [qGrouped, g.op1('Transpose', [keys], { perm: [0, 1, 3, 2] })]);
      if (group !== 1) scores = g.op1('Reshape', [scores, g.int64([0, H, -1, 0])]);
      let probs = g.op1('Softmax', [g.op1('Add', [scores, maskBias])], { axis: -1 });
      if (group !== 1) probs = g.op1('Reshape', [probs, g.int64([0, KVH, -1, 0])]);
      let context = g.op1('MatMul', [probs, values]);
      if (group !== 1) context = g.op1('Reshape', [context, g.int64([0, H, -1, hd])]);
      const merged = g.op1('Reshape', [g.op1('Transpose', [context], { perm: [0, 2, 1, 3] }), g.int64([0, 0, H * hd])]);
      pending = linear(merged, `${p}.self_attn.o_proj`, lw.o, lw.oBias);
    }

    const xf = residualNorm(`${p}.post_attention_layernorm`, lw.postNorm);
    const act = g.op1('Mul', [silu(linear(xf, `${p}.mlp.gate_proj`, lw.gate)), linear(xf, `${p}.mlp.up_proj`, lw.up)]);
    let ffn = linear(act, `${p}.mlp.down_proj`, lw.down);
    if (slots > 0) {
      // Gemm with transB multiplies the inputs as stored ([R, d] and [d, R]): no transpose of
      // a weight-sized input, and none of the activation either (the feature-major MatMuls of
      // revisions ≤ 7 cost two Transposes per layer, and WebGPU's optimiser made them four).
      const x2 = g.op1('Reshape', [xf, rows]); // [B·S, d]
      const contributions: string[] = [];
      for (let s = 0; s < slots; s++) {
        const gate = g.op1('Gemm', [x2, memoryInputName(s, l, 'gate')], { transB: 1 }); // [B·S, R]
        const up = g.op1('Gemm', [x2, memoryInputName(s, l, 'up')], { transB: 1 });
        contributions.push(g.op1('Gemm', [g.op1('Mul', [silu(gate), up]), memoryInputName(s, l, 'down')], { transB: 1 })); // [B·S, d]
      }
      // A chain of Adds, not one Sum: WebGPU has no Sum kernel, and a node left to the CPU
      // costs two device↔host copies per layer, each a GPU sync (10× slower decode on an H200).
      const sum = contributions.slice(1).reduce((acc, c) => g.op1('Add', [acc, c]), contributions[0]);
      ffn = g.op1('Add', [ffn, g.op1('Reshape', [sum, shapeBSD])]);
    }
    pending = ffn;
  }
  const final = residualNorm('model.norm', weights.finalNorm);
  const head = g.floatTensor('lm_head.weight_t', [d, V], transposed(weights.lmHead));
  g.op1('MatMul', [final, head], {}, 'logits');
  return g;
}
