// Builds the ONNX graph (opset 17, standard ops only) of a BERT-style encoder with the
// interface of HF/optimum feature-extraction exports: input_ids, attention_mask
// (+ token_type_ids) [batch, seq] → last_hidden_state [batch, seq, hidden]. Post-LN
// layers: LayerNorm(x + SelfAttention(x)), LayerNorm(x + W2·gelu(W1·x)); padded keys are
// masked out of every attention row. Used for the tiny test encoders of the onnx embedder.
import { GraphBuilder } from '../onnx/graph.builder';
import { OnnxDataType } from '../onnx/onnx-model.encoder';
import type { Matrix } from '../model/llama-weights';

export interface BertEncoderConfig {
  vocabSize: number;
  hiddenSize: number;
  numHeads: number;
  numLayers: number;
  intermediateSize: number;
  maxPositions: number;
  /** Token type vocabulary; 0 → no token_type_ids input. */
  typeVocabSize: number;
  layerNormEps: number;
}

export interface BertLayerWeights {
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  qBias: Float32Array;
  kBias: Float32Array;
  vBias: Float32Array;
  oBias: Float32Array;
  attnNorm: { weight: Float32Array; bias: Float32Array };
  up: Matrix;
  upBias: Float32Array;
  down: Matrix;
  downBias: Float32Array;
  ffnNorm: { weight: Float32Array; bias: Float32Array };
}

/** Matrices are `[out, in]` row-major (the PyTorch Linear layout). */
export interface BertEncoderWeights {
  wordEmbeddings: Matrix;
  positionEmbeddings: Matrix;
  tokenTypeEmbeddings?: Matrix;
  embeddingNorm: { weight: Float32Array; bias: Float32Array };
  layers: BertLayerWeights[];
}

const FLOAT = OnnxDataType.FLOAT;
const INT64 = OnnxDataType.INT64;
const MASKED = -1e9;

function transposed(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) out[c * m.rows + r] = m.data[r * m.cols + c];
  return out;
}

export function buildBertEncoderGraph(config: BertEncoderConfig, weights: BertEncoderWeights): GraphBuilder {
  const { hiddenSize: d, numHeads: H, numLayers: L } = config;
  if (d % H !== 0) throw new Error(`hidden size ${d} must be a multiple of the head count ${H}`);
  const hd = d / H;
  const g = new GraphBuilder('engram_bert_encoder');

  const inputIds = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', INT64, ['batch_size', 'sequence_length']);
  const tokenTypeIds = config.typeVocabSize > 0 ? g.input('token_type_ids', INT64, ['batch_size', 'sequence_length']) : null;
  g.output('last_hidden_state', FLOAT, ['batch_size', 'sequence_length', d]);

  const linear = (x: string, name: string, m: Matrix, bias: Float32Array): string => {
    const y = g.op1('MatMul', [x, g.floatTensor(`${name}.weight_t`, [m.cols, m.rows], transposed(m))]);
    return g.op1('Add', [y, g.floatTensor(`${name}.bias`, [m.rows], bias)]);
  };
  const layerNorm = (x: string, name: string, w: { weight: Float32Array; bias: Float32Array }, out?: string): string =>
    g.op1(
      'LayerNormalization',
      [x, g.floatTensor(`${name}.weight`, [d], w.weight), g.floatTensor(`${name}.bias`, [d], w.bias)],
      { axis: -1, epsilon: { float: config.layerNormEps } },
      out,
    );
  // Exact GELU (BERT's "gelu"): 0.5·x·(1 + erf(x/√2)); opset 17 has no Gelu op.
  const gelu = (x: string): string =>
    g.op1('Mul', [g.op1('Mul', [x, g.float(0.5)]), g.op1('Add', [g.op1('Erf', [g.op1('Mul', [x, g.float(Math.SQRT1_2)])]), g.float(1)])]);

  // Embeddings: word + position (0..S-1) + token type.
  const seqLen = g.op1('Gather', [g.op1('Shape', [inputIds]), g.int64([1], true)]);
  const positions = g.op1('Range', [g.int64([0], true), seqLen, g.int64([1], true)]);
  const word = g.floatTensor('embeddings.word_embeddings.weight', [weights.wordEmbeddings.rows, d], weights.wordEmbeddings.data);
  const pos = g.floatTensor('embeddings.position_embeddings.weight', [weights.positionEmbeddings.rows, d], weights.positionEmbeddings.data);
  let h = g.op1('Add', [g.op1('Gather', [word, inputIds]), g.op1('Gather', [pos, positions])]);
  if (tokenTypeIds) {
    if (!weights.tokenTypeEmbeddings) throw new Error('token type embeddings are missing');
    const types = g.floatTensor('embeddings.token_type_embeddings.weight', [weights.tokenTypeEmbeddings.rows, d], weights.tokenTypeEmbeddings.data);
    h = g.op1('Add', [h, g.op1('Gather', [types, tokenTypeIds])]);
  }
  h = layerNorm(h, 'embeddings.LayerNorm', weights.embeddingNorm, L === 0 ? 'last_hidden_state' : undefined);

  // Additive key mask [B, 1, 1, S]: 0 where attention_mask is 1, -1e9 on padding.
  const keep = g.op1('Unsqueeze', [g.op1('Cast', [attentionMask], { to: OnnxDataType.BOOL }), g.int64([1, 2])]);
  const maskBias = g.op1('Where', [keep, g.float(0), g.float(MASKED)]);
  const toHeads = (x: string): string => g.op1('Transpose', [g.op1('Reshape', [x, g.int64([0, 0, H, hd])])], { perm: [0, 2, 1, 3] });

  for (let l = 0; l < L; l++) {
    const lw = weights.layers[l];
    const p = `encoder.layer.${l}`;
    const q = toHeads(linear(h, `${p}.attention.self.query`, lw.q, lw.qBias));
    const k = toHeads(linear(h, `${p}.attention.self.key`, lw.k, lw.kBias));
    const v = toHeads(linear(h, `${p}.attention.self.value`, lw.v, lw.vBias));
    const scores = g.op1('Mul', [g.op1('MatMul', [q, g.op1('Transpose', [k], { perm: [0, 1, 3, 2] })]), g.float(1 / Math.sqrt(hd))]);
    const probs = g.op1('Softmax', [g.op1('Add', [scores, maskBias])], { axis: -1 });
    const context = g.op1('Reshape', [g.op1('Transpose', [g.op1('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), g.int64([0, 0, d])]);
    h = layerNorm(g.op1('Add', [h, linear(context, `${p}.attention.output.dense`, lw.o, lw.oBias)]), `${p}.attention.output.LayerNorm`, lw.attnNorm);
    const ffn = linear(gelu(linear(h, `${p}.intermediate.dense`, lw.up, lw.upBias)), `${p}.output.dense`, lw.down, lw.downBias);
    h = layerNorm(g.op1('Add', [h, ffn]), `${p}.output.LayerNorm`, lw.ffnNorm, l === L - 1 ? 'last_hidden_state' : undefined);
  }
  return g;
}
