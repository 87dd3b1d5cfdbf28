// Next-token choice: greedy (temperature 0) or temperature + nucleus (top-p) sampling
// from a seeded generator, so a seed reproduces a completion.
import { mulberry32 } from '../tiny/seeded-random';

export interface SamplingOptions {
  temperature?: number;
  topP?: number;
  seed?: number;
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export class Sampler {
  private readonly rand: () => number;
  private readonly temperature: number;
  private readonly topP: number;

  constructor(options: SamplingOptions = {}) {
    this.temperature = options.temperature ?? 1;
    this.topP = options.topP ?? 1;
    if (!(this.temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${this.temperature}`);
    if (!(this.topP > 0 && this.topP <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${this.topP}`);
    this.rand = mulberry32(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  next(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    let max = -Infinity;
    for (const v of logits) if (v > max) max = v;
    const probs = new Float64Array(logits.length);
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      probs[i] = Math.exp((logits[i] - max) / this.temperature);
      sum += probs[i];
    }
    let order = Array.from(probs.keys());
    if (this.topP < 1) {
      order.sort((a, b) => probs[b] - probs[a]);
      let cum = 0;
      let keep = 0;
      while (keep < order.length && cum < this.topP * sum) cum += probs[order[keep++]];
      order = order.slice(0, Math.max(1, keep));
    }
    const total = order.reduce((a, i) => a + probs[i], 0);
    let r = this.rand() * total;
    for (const i of order) {
      r -= probs[i];
      if (r <= 0) return i;
    }
    return order[order.length - 1];
  }
}
