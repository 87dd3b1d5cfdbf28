// Loads and shape-checks the HF tensor names of a Llama-family checkpoint into float32.
import { InferenceError, InferenceErrorCode } from '../inference.error';
import type { SafetensorsFile, TensorInfo } from '../safetensors/safetensors.reader';
import type { LlamaConfig } from './model-config';

export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface LlamaLayerWeights {
  inputNorm: Float32Array;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  oBias?: Float32Array;
  postNorm: Float32Array;
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

export interface LlamaWeights {
  embed: Matrix;
  layers: LlamaLayerWeights[];
  finalNorm: Float32Array;
  /** The output projection [vocab, hidden]; the embedding matrix itself when tied. */
  lmHead: Matrix;
}

/** Tensor lookup over one or more safetensors shards. */
export interface TensorSource {
  has(name: string): boolean;
  info(name: string): TensorInfo;
  float32(name: string): Float32Array;
}

export function shardedSource(files: readonly SafetensorsFile[]): TensorSource {
  const owner = new Map<string, SafetensorsFile>();
  for (const f of files) for (const n of f.names()) owner.set(n, f);
  const get = (name: string): SafetensorsFile => {
    const f = owner.get(name);
    if (!f) throw new InferenceError(InferenceErrorCode.ModelInvalid, `weights: missing tensor "${name}"`);
    return f;
  };
  return {
    has: (name) => owner.has(name),
    info: (name) => get(name).info(name),
    float32: (name) => get(name).float32(name),
  };
}

export function loadLlamaWeights(config: LlamaConfig, src: TensorSource): LlamaWeights {
  const expectShape = (name: string, shape: number[]): Float32Array => {
    const info = src.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new InferenceError(
        InferenceErrorCode.ModelInvalid,
        `weights: tensor "${name}" has shape ${JSON.stringify(info.shape)}, config.json implies ${JSON.stringify(shape)}`,
      );
    }
    return src.float32(name);
  };
  const matrix = (name: string, rows: number, cols: number): Matrix => ({ data: expectShape(name, [rows, cols]), rows, cols });
  const optional = (name: string, size: number): Float32Array | undefined => (src.has(name) ? expectShape(name, [size]) : undefined);
  const { hiddenSize: d, numHeads, numKvHeads, headDim, intermediateSize: inter, vocabSize } = config;
  const qOut = numHeads * headDim;
  const kvOut = numKvHeads * headDim;
  const embed = matrix('model.embed_tokens.weight', vocabSize, d);
  const layers: LlamaLayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    layers.push({
      inputNorm: expectShape(`${p}.input_layernorm.weight`, [d]),
      q: matrix(`${p}.self_attn.q_proj.weight`, qOut, d),
      k: matrix(`${p}.self_attn.k_proj.weight`, kvOut, d),
      v: matrix(`${p}.self_attn.v_proj.weight`, kvOut, d),
      o: matrix(`${p}.self_attn.o_proj.weight`, d, qOut),
      qBias: optional(`${p}.self_attn.q_proj.bias`, qOut),
      kBias: optional(`${p}.self_attn.k_proj.bias`, kvOut),
      vBias: optional(`${p}.self_attn.v_proj.bias`, kvOut),
      oBias: optional(`${p}.self_attn.o_proj.bias`, d),
      postNorm: expectShape(`${p}.post_attention_layernorm.weight`, [d]),
      gate: matrix(`${p}.mlp.gate_proj.weight`, inter, d),
      up: matrix(`${p}.mlp.up_proj.weight`, inter, d),
      down: matrix(`${p}.mlp.down_proj.weight`, d, inter),
    });
  }
  const finalNorm = expectShape('model.norm.weight', [d]);
  const lmHead = config.tieWordEmbeddings || !src.has('lm_head.weight') ? embed : matrix('lm_head.weight', vocabSize, d);
  if (!config.tieWordEmbeddings && !src.has('lm_head.weight')) {
    throw new InferenceError(InferenceErrorCode.ModelInvalid, 'weights: missing tensor "lm_head.weight" and tie_word_embeddings is false');
  }
  return { embed, layers, finalNorm, lmHead };
}
