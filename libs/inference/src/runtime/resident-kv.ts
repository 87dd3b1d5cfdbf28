// KV that stays where the execution provider put it between decode steps: the present.*
// outputs of one step, fed back as the next step's past_key_values.* without a host copy
// (GPU memory on WebGPU; on the CPU the same path holds host tensors).
import { pastKeyName, pastValueName, presentKeyName, presentValueName } from '../graph/llama-graph.builder';
import type { KvState } from './kv-state';
import type { DecoderSession, DeviceValue } from './onnx-session.registry';

export class ResidentKv {
  constructor(
    /** The session whose outputs these are (only it may be fed them). */
    readonly session: DecoderSession,
    readonly seq: number,
    readonly numLayers: number,
    readonly kvHeads: number,
    readonly headDim: number,
    private readonly values: Record<string, DeviceValue>,
  ) {}

  /** Where the tensors live: 'cpu' or 'gpu-buffer'. */
  get location(): string {
    return this.values[presentKeyName(0)]?.location ?? 'cpu';
  }

  pastFeeds(): Record<string, DeviceValue> {
    const feeds: Record<string, DeviceValue> = {};
    for (let l = 0; l < this.numLayers; l++) {
      feeds[pastKeyName(l)] = this.values[presentKeyName(l)];
      feeds[pastValueName(l)] = this.values[presentValueName(l)];
    }
    return feeds;
  }

  /** Copies the KV to the host (e.g. to store it as a cache). */
  async toHost(): Promise<KvState> {
    const layers = [];
    for (let l = 0; l < this.numLayers; l++) {
      const key = (await this.values[presentKeyName(l)].toHost()).data as Float32Array;
      const value = (await this.values[presentValueName(l)].toHost()).data as Float32Array;
      layers.push({ key, value });
    }
    return { numLayers: this.numLayers, kvHeads: this.kvHeads, headDim: this.headDim, seq: this.seq, layers };
  }

  dispose(): void {
    for (const v of Object.values(this.values)) v.dispose();
  }
}
