// In-memory Llama configs and seeded initial weights for anchors the bench and the tests
// train themselves (no model directory, no tokenizer file).
import { gaussian, mulberry32, type LlamaConfig } from '@engram/inference';
import type { Params64 } from './llama-backprop';

export interface TinyLlamaShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads?: number;
  intermediate?: number;
  maxPositions?: number;
  tie?: boolean;
}

export function tinyLlamaConfig(shape: TinyLlamaShape): LlamaConfig {
  return {
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize: shape.vocab,
    hiddenSize: shape.hidden,
    intermediateSize: shape.intermediate ?? shape.hidden * 2,
    numLayers: shape.layers,
    numHeads: shape.heads,
    numKvHeads: shape.kvHeads ?? shape.heads,
    headDim: shape.hidden / shape.heads,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: shape.maxPositions ?? 256,
    tieWordEmbeddings: shape.tie ?? false,
    bosTokenId: null,
    eosTokenIds: [],
  };
}

/** GPT-2-style init: N(0, 0.02)-ish scaled by fan-in, residual projections shrunk by depth. */
export function initParams64(config: LlamaConfig, seed: number, options: { normJitter?: number } = {}): Params64 {
  const normal = gaussian(mulberry32(seed));
  const { hiddenSize: d, intermediateSize: ff, vocabSize: V, numHeads: H, numKvHeads: KVH, headDim: hd, numLayers: L } = config;
  const rand = (n: number, std: number) => Float64Array.from({ length: n }, () => std * normal());
  const norm = (n: number) => Float64Array.from({ length: n }, () => 1 + (options.normJitter ?? 0) * normal());
  const resid = 1 / Math.sqrt(2 * L);
  const embed = rand(V * d, 1);
  return {
    embed,
    lmHead: config.tieWordEmbeddings ? embed : rand(V * d, 1 / Math.sqrt(d)),
    finalNorm: norm(d),
    layers: Array.from({ length: L }, () => ({
      inputNorm: norm(d),
      q: rand(H * hd * d, 1 / Math.sqrt(d)),
      k: rand(KVH * hd * d, 1 / Math.sqrt(d)),
      v: rand(KVH * hd * d, 1 / Math.sqrt(d)),
      o: rand(d * H * hd, resid / Math.sqrt(H * hd)),
      postNorm: norm(d),
      gate: rand(ff * d, 1 / Math.sqrt(d)),
      up: rand(ff * d, 1 / Math.sqrt(d)),
      down: rand(d * ff, resid / Math.sqrt(ff)),
    })),
  };
}
