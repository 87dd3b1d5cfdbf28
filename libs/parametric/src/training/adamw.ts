// AdamW (decoupled weight decay) over a list of float64 parameter arrays.
export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private t = 0;

  constructor(private readonly params: readonly Float64Array[], private readonly options: AdamWOptions) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  /** One update from `grads` (same order and shapes as the params); `lr` overrides the schedule. */
  step(grads: readonly Float64Array[], lr = this.options.lr): void {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = this.options;
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (let n = 0; n < this.params.length; n++) {
      const p = this.params[n];
      const g = grads[n];
      const m = this.m[n];
      const v = this.v[n];
      for (let i = 0; i < p.length; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        p[i] -= lr * ((m[i] / c1) / (Math.sqrt(v[i] / c2) + eps) + weightDecay * p[i]);
      }
    }
  }
}
