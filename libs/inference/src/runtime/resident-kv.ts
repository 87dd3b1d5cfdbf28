// KV that stays where the execution provider put it between decode steps: the present.*
// outputs of one step, fed back as the next step's past_key_values.* without a host copy
// (GPU memory on WebGPU; on the CPU the same path holds host tensors).
import { pastKeyName, pastValueName, presentKeyName, presentValueName } from '../graph/llama-graph.builder';
import type { KvState } from './kv-state';
import { DeviceValue, type DecoderSession } from './onnx-session.registry';

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

  /** Copies the KV to the host (e.g. to store it as a cache), every layer in one read-back. */
  async toHost(): Promise<KvState> {
    const names: string[] = [];
    for (let l = 0; l < this.numLayers; l++) names.push(presentKeyName(l), presentValueName(l));
    const copies = await DeviceValue.toHostAll(names.map((n) => this.values[n]));
    const layers = [];
    for (let l = 0; l < this.numLayers; l++) layers.push({ key: copies[2 * l].data as Float32Array, value: copies[2 * l + 1].data as Float32Array });
    return { numLayers: this.numLayers, kvHeads: this.kvHeads, headDim: this.headDim, seq: this.seq, layers };
  }

  dispose(): void {
    for (const v of Object.values(this.values)) v.dispose();
  }
}
