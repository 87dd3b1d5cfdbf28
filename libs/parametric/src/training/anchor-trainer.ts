// Full-parameter training of a (tiny) anchor with the same backprop the block writer
// uses: next-token loss (optionally on chosen targets only), AdamW, linear warm-up then
// cosine decay. Used by the benches to train their anchor and the dense baseline on CPU.
import { encodeOnnxModel, floatTensor, int64Tensor, mulberry32, OnnxSessionRegistry, type HostTensor, type LlamaConfig } from '@engram/inference';
import { AdamW } from './adamw';
import { forwardBackward, paramArrays, toLlamaWeights, zerosLike, type Params64 } from './llama-backprop';
import { anchorWeightInputs, buildMemoryGradientGraph } from './memory-gradient.graph';

export interface AnchorTrainingOptions {
  steps: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  seed?: number;
  /**
   * Per sequence (same index as `sequences`), which targets the loss scores, as
   * `forwardBackward`'s `lossMask`: `mask[s]` set scores the prediction of `ids[s]` from
   * the tokens before it (`mask[0]` is ignored). Missing or undefined: every target.
   * A sequence's loss is the mean over its scored targets; sequences weigh the same.
   */
  lossMasks?: ReadonlyArray<readonly boolean[] | undefined>;
  onProgress?: (step: number, steps: number, loss: number) => void;
}

/** Graph lengths of `trainAnchorOnnx`: sequences are padded up to a multiple of this. */
export const ANCHOR_TRAIN_LENGTH_STEP = 32;

/** Trains `params` in place on `sequences`; returns the mean loss of the last tenth of the steps. */
export function trainAnchor(config: LlamaConfig, params: Params64, sequences: readonly number[][], options: AnchorTrainingOptions): number {
  const rnd = mulberry32(options.seed ?? 1);
  const batch = options.batch ?? 16;
  const lr = options.lr ?? 3e-3;
  const warmup = options.warmup ?? Math.min(50, Math.floor(options.steps / 10));
  const arrays = paramArrays(params);
  const opt = new AdamW(arrays, { lr, weightDecay: options.weightDecay ?? 0.01 });
  const losses: number[] = [];
  for (let step = 0; step < options.steps; step++) {
    const grad = zerosLike(params);
    let loss = 0;
    for (let b = 0; b < batch; b++) {
      const i = Math.floor(rnd() * sequences.length);
      loss += forwardBackward(config, params, sequences[i], undefined, { anchorGrad: grad, scale: 1 / batch, lossMask: options.lossMasks?.[i] }).loss / batch;
    }
    const progress = step / options.steps;
    const rate = step < warmup ? (lr * (step + 1)) / warmup : lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    opt.step(paramArrays(grad), rate);
    losses.push(loss);
    options.onProgress?.(step + 1, options.steps, loss);
  }
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/**
 * trainAnchor with gradients from the ONNX gradient graph (`anchorGradients`) on ONNX
 * Runtime: the weights are fed as inputs every call. The graph has a static length, so a
 * sequence runs in the graph of its length rounded up to `ANCHOR_TRAIN_LENGTH_STEP` (one
 * session per length in use, built on first use): a mix of short and long sequences does
 * not pay the longest one's cost for every sequence. Padding is never scored and, the
 * attention being causal, changes nothing before it. Same schedule, same sampling, same
 * AdamW as the TypeScript version.
 */
export async function trainAnchorOnnx(config: LlamaConfig, params: Params64, sequences: readonly number[][], options: AnchorTrainingOptions): Promise<number> {
  const rnd = mulberry32(options.seed ?? 1);
  const batch = options.batch ?? 16;
  const lr = options.lr ?? 3e-3;
  const warmup = options.warmup ?? Math.min(50, Math.floor(options.steps / 10));
  const arrays = paramArrays(params);
  const opt = new AdamW(arrays, { lr, weightDecay: options.weightDecay ?? 0.01 });
  const { vocabSize: V, numLayers: L, hiddenSize: d } = config;
  const lengthOf = (n: number): number => Math.ceil(n / ANCHOR_TRAIN_LENGTH_STEP) * ANCHOR_TRAIN_LENGTH_STEP;
  // Rank-1 memory with a zero down projection: no effect, and the graph keeps static shapes.
  const zeroMem = new Float32Array(L * d);
  const registry = new OnnxSessionRegistry();
  const losses: number[] = [];
  try {
    const sessionFor = (S: number) =>
      registry.acquire(
        { key: `anchor-train:${S}`, build: () => encodeOnnxModel(buildMemoryGradientGraph(config, toLlamaWeights(config, params), { seqLen: S, rank: 1, anchorGradients: true }).model()) },
        { intraOpThreads: 1 },
      );
    for (let step = 0; step < options.steps; step++) {
      const weights = anchorWeightInputs(toLlamaWeights(config, params));
      const grads = arrays.map((a) => new Float64Array(a.length));
      let loss = 0;
      for (let b = 0; b < batch; b++) {
        const i = Math.floor(rnd() * sequences.length);
        const seq = sequences[i];
        const mask = options.lossMasks?.[i];
        const S = lengthOf(seq.length);
        const session = await sessionFor(S);
        const onehot = new Float32Array(S * V);
        for (let s = 0; s + 1 < seq.length; s++) if (!mask || mask[s + 1]) onehot[s * V + seq[s + 1]] = 1;
        const feeds: Record<string, HostTensor> = {
          input_ids: int64Tensor(Array.from({ length: S }, (_, i) => (i < seq.length ? seq[i] : 0)), [S]),
          target_onehot: floatTensor(onehot, [S, V]),
          mem_gate: floatTensor(zeroMem, [L, 1, d]),
          mem_up: floatTensor(zeroMem, [L, 1, d]),
          mem_down: floatTensor(zeroMem, [L, d, 1]),
        };
        for (const w of weights) feeds[w.name] = floatTensor(w.data, w.dims);
        const out = await session.run(feeds);
        loss += (out.loss.data as Float32Array)[0] / batch;
        weights.forEach((w, i) => {
          const g = out[`grad.${w.name}`].data as Float32Array;
          const acc = grads[i];
          for (let j = 0; j < acc.length; j++) acc[j] += g[j] / batch;
        });
      }
      const progress = step / options.steps;
      const rate = step < warmup ? (lr * (step + 1)) / warmup : lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
      opt.step(grads, rate);
      losses.push(loss);
      options.onProgress?.(step + 1, options.steps, loss);
    }
  } finally {
    await registry.disposeAll();
  }
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}
