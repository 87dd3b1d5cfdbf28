// Builds Universal Sentence Encoder Lite as one ONNX graph (opset 17, standard ops), the
// same computation as the TF.js graph it ships as (tensor2tensor "Kona" transformer):
//   x = 2·embedding[id] + timing(position)          (sinusoid: sin | cos halves)
//   layer 0 (256 → 512): x = W_r·x + Attn(LN(x)),  x = x + FFN(LN(x))
//   layer 1 (512):       x = x + Attn(LN(x)),      x = x + FFN(LN(x))
//   pooled = mean of x over the tokens; out = l2normalize(tanh(W·pooled + b))
// Pre-LN (eps 1e-6), 4 heads, ReLU FFN, no final norm. Inputs input_ids and attention_mask
// [batch, seq] (padding anywhere after a row's tokens); output embedding [batch, 512].
import { GraphBuilder } from '../onnx/graph.builder';
import { OnnxDataType } from '../onnx/onnx-model.encoder';
import type { UseLiteWeights } from '../embedding/use-lite/use-lite.weights';

const FLOAT = OnnxDataType.FLOAT;
const INT64 = OnnxDataType.INT64;
const MASKED = -1e9;
const LAYER_NORM_EPS = 1e-6;
const L2_EPS = 1e-12;

/** Bump when the graph computes something different for the same weights. */
export const USE_LITE_GRAPH_REVISION = 1;

/** timing[p] = [sin(p·inv_0..), cos(p·inv_0..)] for p < maxPositions, in float32 like TF. */
export function useLiteTimingTable(inverseTimescales: Float32Array, maxPositions: number): Float32Array {
  const half = inverseTimescales.length;
  const table = new Float32Array(maxPositions * 2 * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * inverseTimescales[i]);
      table[p * 2 * half + i] = Math.sin(angle);
      table[p * 2 * half + half + i] = Math.cos(angle);
    }
  }
  return table;
}

export function buildUseLiteEncoderGraph(weights: UseLiteWeights, maxPositions: number): GraphBuilder {
  const g = new GraphBuilder('engram_use_lite');
  const inputIds = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', INT64, ['batch_size', 'sequence_length']);
  g.output('embedding', FLOAT, ['batch_size', weights.outputSize]);

  const linear = (x: string, name: string, w: Float32Array, inSize: number, outSize: number, bias: Float32Array): string =>
    g.op1('Add', [g.op1('MatMul', [x, g.floatTensor(`${name}.weight`, [inSize, outSize], w)]), g.floatTensor(`${name}.bias`, [outSize], bias)]);
  const layerNorm = (x: string, name: string, size: number, n: { scale: Float32Array; bias: Float32Array }): string =>
    g.op1('LayerNormalization', [x, g.floatTensor(`${name}.scale`, [size], n.scale), g.floatTensor(`${name}.bias`, [size], n.bias)], {
      axis: -1,
      epsilon: { float: LAYER_NORM_EPS },
    });

  const E = weights.embeddingSize;
  const seqLen = g.op1('Gather', [g.op1('Shape', [inputIds]), g.int64([1], true)]);
  const positions = g.op1('Range', [g.int64([0], true), seqLen, g.int64([1], true)]);
  const table = g.floatTensor('timing_signal', [maxPositions, E], useLiteTimingTable(weights.inverseTimescales, maxPositions));
  const embeddings = g.floatTensor('embeddings', [weights.vocabRows, E], weights.embeddings);
  // The TF graph adds the timing signal to the embedded tokens and then adds the tokens
  // once more (Layer_0/add = tokens + AddTimingSignal(tokens)): the model was trained so.
  const tokens = g.op1('Gather', [embeddings, inputIds]);
  let x = g.op1('Add', [g.op1('Add', [tokens, tokens]), g.op1('Gather', [table, positions])]);

  // Additive key mask [B, 1, 1, S]: 0 on tokens, -1e9 on padding.
  const keep = g.op1('Unsqueeze', [g.op1('Cast', [attentionMask], { to: OnnxDataType.BOOL }), g.int64([1, 2])]);
  const maskBias = g.op1('Where', [keep, g.float(0), g.float(MASKED)]);

  weights.layers.forEach((lw, l) => {
    const { width, heads, ffn, outWidth } = weights.layerShapes[l];
    const hd = width / heads;
    const p = `layer_${l}`;
    const normed = layerNorm(x, `${p}.attention_norm`, width, lw.attnNorm);
    const qkv = linear(normed, `${p}.qkv`, lw.qkv, width, 3 * width, lw.qkvBias);
    const [q, k, v] = g.op('Split', [qkv, g.int64([width, width, width])], { axis: -1 }, 3);
    const toHeads = (t: string): string => g.op1('Transpose', [g.op1('Reshape', [t, g.int64([0, 0, heads, hd])])], { perm: [0, 2, 1, 3] });
    const scaledQ = g.op1('Mul', [toHeads(q), g.float(1 / Math.sqrt(hd))]);
    const kT = g.op1('Transpose', [g.op1('Reshape', [k, g.int64([0, 0, heads, hd])])], { perm: [0, 2, 3, 1] });
    const probs = g.op1('Softmax', [g.op1('Add', [g.op1('MatMul', [scaledQ, kT]), maskBias])], { axis: -1 });
    const context = g.op1('Reshape', [g.op1('Transpose', [g.op1('MatMul', [probs, toHeads(v)])], { perm: [0, 2, 1, 3] }), g.int64([0, 0, width])]);
    const attended = linear(context, `${p}.attention_out`, lw.out, width, outWidth, lw.outBias);
    const residual = lw.residual ? linear(x, `${p}.residual`, lw.residual.weight, width, outWidth, lw.residual.bias) : x;
    x = g.op1('Add', [attended, residual]);
    const hidden = g.op1('Relu', [linear(layerNorm(x, `${p}.ffn_norm`, outWidth, lw.ffnNorm), `${p}.ffn_up`, lw.up, outWidth, ffn, lw.upBias)]);
    x = g.op1('Add', [x, linear(hidden, `${p}.ffn_down`, lw.down, ffn, outWidth, lw.downBias)]);
  });

  // Mean over the tokens ([B, S, D] · mask / max(count, 1)), then the tanh head and L2.
  const maskF = g.op1('Cast', [attentionMask], { to: FLOAT });
  const summed = g.op1('ReduceSum', [g.op1('Mul', [x, g.op1('Unsqueeze', [maskF, g.int64([2])])]), g.int64([1])], { keepdims: 0 });
  const count = g.op1('Max', [g.op1('ReduceSum', [maskF, g.int64([1])], { keepdims: 1 }), g.float(1)]);
  const pooled = g.op1('Div', [summed, count]);
  const out = weights.outputSize;
  const y = g.op1('Tanh', [linear(pooled, 'head', weights.head, out, out, weights.headBias)]);
  const sq = g.op1('Max', [g.op1('ReduceSum', [g.op1('Mul', [y, y]), g.int64([1])], { keepdims: 1 }), g.float(L2_EPS)]);
  g.op1('Mul', [y, g.op1('Reciprocal', [g.op1('Sqrt', [sq])])], {}, 'embedding');
  return g;
}
