// Where d loss / d memory comes from during writing: the TypeScript backward pass, or the
// ONNX gradient graph (memory-gradient.graph.ts) on ONNX Runtime. Both add scale·grad
// into a float64 accumulator and return the sequence's loss.
import { encodeOnnxModel, floatTensor, int64Tensor, OnnxSessionRegistry, type DecoderSession, type SessionOptions } from '@engram/inference';
import { forwardBackward, toLlamaWeights, type Memory64 } from './llama-backprop';
import { buildMemoryGradientGraph } from './memory-gradient.graph';
import type { AnchorModel } from './block-trainer';

export type GradientEngineKind = 'typescript' | 'onnx';

export interface MemoryGradientEngine {
  readonly kind: GradientEngineKind;
  /**
   * `soft`: [len, V] target distributions instead of the next tokens (locality replay).
   * `firstTarget`: index of the first token scored (default 1: every next token; 2 leaves
   * out the prediction made from the first token alone). Returns the mean loss over the
   * scored tokens (0 when none is scored).
   */
  accumulate(ids: readonly number[], memory: Memory64, grad: Memory64, scale: number, soft?: Float64Array, firstTarget?: number): Promise<number>;
  dispose(): Promise<void>;
}

/** forwardBackward's loss mask for a first scored token (undefined = all scored). */
export function firstTargetMask(length: number, firstTarget = 1): boolean[] | undefined {
  return firstTarget <= 1 ? undefined : Array.from({ length }, (_, i) => i >= firstTarget);
}

export function typescriptGradient(anchor: AnchorModel): MemoryGradientEngine {
  return {
    kind: 'typescript',
    accumulate: async (ids, memory, grad, scale, soft, firstTarget) =>
      forwardBackward(anchor.config, anchor.params, ids, memory, { memoryGrad: grad, scale, softTargets: soft, lossMask: firstTargetMask(ids.length, firstTarget) }).loss,
    dispose: async () => undefined,
  };
}

/**
 * One static-shape session (maxSeq tokens, rank R). Shorter sequences are padded at the
 * end with unscored positions; causal attention keeps the padding from touching them.
 */
export class OnnxMemoryGradient implements MemoryGradientEngine {
  readonly kind = 'onnx' as const;

  private constructor(
    private readonly anchor: AnchorModel,
    private readonly session: DecoderSession,
    private readonly registry: OnnxSessionRegistry,
    readonly maxSeq: number,
    readonly rank: number,
  ) {}

  static async create(anchor: AnchorModel, options: { maxSeq: number; rank: number; session?: SessionOptions }): Promise<OnnxMemoryGradient> {
    const registry = new OnnxSessionRegistry();
    const key = `memgrad:${anchor.fingerprint}:${options.maxSeq}:${options.rank}`;
    const session = await registry.acquire(
      { key, build: () => encodeOnnxModel(buildMemoryGradientGraph(anchor.config, toLlamaWeights(anchor.config, anchor.params), { seqLen: options.maxSeq, rank: options.rank }).model()) },
      options.session ?? { intraOpThreads: 1 },
    );
    return new OnnxMemoryGradient(anchor, session, registry, options.maxSeq, options.rank);
  }

  async accumulate(ids: readonly number[], memory: Memory64, grad: Memory64, scale: number, soft?: Float64Array, firstTarget = 1): Promise<number> {
    const { vocabSize: V, numLayers: L, hiddenSize: d } = this.anchor.config;
    const S = this.maxSeq;
    if (ids.length > S) throw new RangeError(`sequence of ${ids.length} tokens exceeds the gradient graph's ${S}`);
    if (memory.rank !== this.rank) throw new RangeError(`memory rank ${memory.rank}, the gradient graph was built for ${this.rank}`);
    const from = Math.max(1, firstTarget) - 1; // row s scores token s + 1
    if (from + 1 >= ids.length) return 0; // nothing scored (the graph would divide by a zero count)
    const padded = Array.from({ length: S }, (_, i) => (i < ids.length ? ids[i] : 0));
    const onehot = new Float32Array(S * V);
    if (soft) onehot.set(soft.subarray(from * V, (ids.length - 1) * V), from * V);
    else for (let s = from; s + 1 < ids.length; s++) onehot[s * V + ids[s + 1]] = 1;
    const out = await this.session.run({
      input_ids: int64Tensor(padded, [S]),
      target_onehot: floatTensor(onehot, [S, V]),
      mem_gate: floatTensor(Float32Array.from(memory.gate), [L, this.rank, d]),
      mem_up: floatTensor(Float32Array.from(memory.up), [L, this.rank, d]),
      mem_down: floatTensor(Float32Array.from(memory.down), [L, d, this.rank]),
    });
    const add = (acc: Float64Array, g: Float32Array) => {
      for (let i = 0; i < acc.length; i++) acc[i] += scale * g[i];
    };
    add(grad.gate, out.grad_mem_gate.data as Float32Array);
    add(grad.up, out.grad_mem_up.data as Float32Array);
    add(grad.down, out.grad_mem_down.data as Float32Array);
    return (out.loss.data as Float32Array)[0];
  }

  async dispose(): Promise<void> {
    await this.registry.disposeAll();
  }
}
