// Full-parameter training of a (tiny) anchor with the same backprop the block writer
// uses: next-token loss, AdamW, linear warm-up then cosine decay. Used by the bench to
// train its anchor and the dense baseline on CPU.
import { mulberry32, type LlamaConfig } from '@engram/inference';
import { AdamW } from './adamw';
import { forwardBackward, paramArrays, zerosLike, type Params64 } from './llama-backprop';

export interface AnchorTrainingOptions {
  steps: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  seed?: number;
  onProgress?: (step: number, steps: number, loss: number) => void;
}

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
      const seq = sequences[Math.floor(rnd() * sequences.length)];
      loss += forwardBackward(config, params, seq, undefined, { anchorGrad: grad, scale: 1 / batch }).loss / batch;
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
