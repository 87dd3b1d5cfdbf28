// The one place that creates onnxruntime-node sessions. Sessions are memoized by
// model key + provider + options; a failed load is evicted (the next call retries);
// disposeAll() releases everything on shutdown. Outputs can be kept where the provider
// put them (DeviceValue: GPU memory on WebGPU, a host tensor on CPU) and fed back.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { assertProviderAvailable, EXECUTION_PROVIDERS, ExecutionProvider, OUTPUT_LOCATION, outputLocations, webgpuUnavailable } from './execution-providers';
import { GraphBuilder } from '../onnx/graph.builder';
import { readDeclaredIo } from '../onnx/onnx-io.reader';
import { encodeOnnxModel, OnnxDataType } from '../onnx/onnx-model.encoder';
import type { HostTensor } from './tensor';

/** y = x + x: the smallest graph that makes a provider initialize its device. */
function probeModel(): Uint8Array {
  const g = new GraphBuilder('engram_provider_probe');
  g.input('x', OnnxDataType.FLOAT, [1]);
  g.output('y', OnnxDataType.FLOAT, [1]);
  g.op1('Add', ['x', 'x'], {}, 'y');
  return encodeOnnxModel(g.model());
}

const DOWNLOAD_TYPES: Readonly<Record<string, OnnxDataType>> = { float32: OnnxDataType.FLOAT, float16: OnnxDataType.FLOAT16 };

/** y_i = x_i for `count` tensors, inputs on the device, outputs on the host: how gpu-buffer tensors are read back, all in one run (one GPU sync). */
function downloadModel(type: string, rank: number, count: number): Uint8Array {
  const elemType = DOWNLOAD_TYPES[type];
  if (elemType === undefined) throw new InferenceError(InferenceErrorCode.InputMismatch, `cannot read a ${type} device tensor back (float32 and float16 only)`);
  const g = new GraphBuilder('engram_device_download');
  for (let i = 0; i < count; i++) {
    const dims = Array.from({ length: rank }, (_, d) => `x${i}_d${d}`);
    g.input(`x${i}`, elemType, dims);
    g.output(`y${i}`, elemType, dims);
    g.op1('Identity', [`x${i}`], {}, `y${i}`);
  }
  return encodeOnnxModel(g.model());
}

/** Reads device tensors (location 'gpu-buffer') back to the host, in as few runs as their element types and ranks allow. */
export type DeviceDownload = (ts: readonly ort.Tensor[]) => Promise<HostTensor[]>;

const isHost = (t: ort.Tensor): boolean => t.location === 'cpu' || t.location === 'cpu-pinned';
const hostView = (t: ort.Tensor): HostTensor => ({ type: t.type as HostTensor['type'], data: t.data as Float32Array, dims: t.dims });

/** Host copies of `ts`: host tensors as they are, device ones through `download` in one batch. */
async function hostOf(ts: readonly ort.Tensor[], download?: DeviceDownload): Promise<HostTensor[]> {
  const out = ts.map((t) => (isHost(t) ? hostView(t) : undefined));
  const onDevice = ts.map((t, i) => (out[i] ? -1 : i)).filter((i) => i >= 0);
  if (onDevice.length === 0) return out as HostTensor[];
  // Never Tensor.getData() on a device tensor: onnxruntime-node 1.30 aborts the process there.
  if (!download) throw new InferenceError(InferenceErrorCode.InputMismatch, `a ${ts[onDevice[0]].location} tensor without a session to read it back`);
  const copies = await download(onDevice.map((i) => ts[i]));
  onDevice.forEach((i, j) => (out[i] = copies[j]));
  return out as HostTensor[];
}

/**
 * An output left where the execution provider put it (device memory on a GPU provider),
 * to be fed to a later run of a session on the same provider without a host round trip.
 * Dispose it when it is no longer needed (frees the GPU buffer; a no-op on the CPU).
 */
export class DeviceValue {
  private disposed = false;

  /** @internal constructed by DecoderSession only. */
  constructor(
    readonly tensor: ort.Tensor,
    private readonly download?: DeviceDownload,
  ) {}

  get dims(): readonly number[] {
    return this.tensor.dims;
  }

  get type(): HostTensor['type'] {
    return this.tensor.type as HostTensor['type'];
  }

  /** 'cpu' on the CPU provider, 'gpu-buffer' when it lives in GPU memory. */
  get location(): string {
    return this.tensor.location;
  }

  async toHost(): Promise<HostTensor> {
    return (await DeviceValue.toHostAll([this]))[0];
  }

  /** Host copies of several device values (of one session) in one read-back. */
  static async toHostAll(values: readonly DeviceValue[]): Promise<HostTensor[]> {
    if (values.some((v) => v.disposed)) throw new InferenceError(InferenceErrorCode.InputMismatch, 'device value was disposed');
    return hostOf(
      values.map((v) => v.tensor),
      values[0]?.download,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.tensor.location !== 'cpu' && this.tensor.location !== 'cpu-pinned') this.tensor.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

export type Feed = HostTensor | DeviceValue;


export interface SessionOptions {
  provider?: ExecutionProvider;
  intraOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * ORT profiling: the path prefix of the JSON trace (one event per node run) the session
   * writes when it is released. Diagnostics only (bench/device/step-profile); '' = off.
   */
  profile?: string;
}

export interface ModelSource {
  /** Identity of the model (fingerprint or path); part of the memo key. */
  key: string;
  path?: string;
  bytes?: Uint8Array;
  /** Produces the bytes lazily (only on a memo miss); undefined → load `path`. */
  build?: () => Uint8Array | undefined;
}

export interface IoSpec {
  name: string;
  type: string;
  shape: readonly (number | string)[];
}

export class DecoderSession {
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  private readonly inputNames: ReadonlySet<string>;
  private released = false;

  constructor(
    readonly key: string,
    private readonly session: ort.InferenceSession,
    /** The execution provider the session runs on. */
    readonly provider: ExecutionProvider = 'cpu',
    private readonly download?: DeviceDownload,
  ) {
    const spec = (m: ort.InferenceSession.ValueMetadata): IoSpec =>
      m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] };
    this.inputs = session.inputMetadata.map(spec);
    this.outputs = session.outputMetadata.map(spec);
    this.inputNames = new Set(this.inputs.map((i) => i.name));
  }

  hasInput(name: string): boolean {
    return this.inputNames.has(name);
  }

  /** Checks names, element types and fixed dims, then runs; every output comes back on the host. */
  async run(feeds: Record<string, Feed>, outputNames?: readonly string[]): Promise<Record<string, HostTensor>> {
    return (await this.runKeeping(feeds, new Set(), outputNames)).host;
  }

  /**
   * Like run(), but the outputs named in `keep` stay where the provider put them (GPU
   * memory on WebGPU) as DeviceValues; feed them to a later run and dispose them after.
   */
  async runKeeping(
    feeds: Record<string, Feed>,
    keep: ReadonlySet<string>,
    outputNames?: readonly string[],
  ): Promise<{ host: Record<string, HostTensor>; device: Record<string, DeviceValue> }> {
    if (this.released) throw new InferenceError(InferenceErrorCode.SessionLoadFailed, `session ${this.key} was released`);
    this.check(feeds);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (t instanceof DeviceValue) {
        if (t.isDisposed) throw new InferenceError(InferenceErrorCode.InputMismatch, `input "${name}" is a disposed device value`);
        ortFeeds[name] = t.tensor;
      } else {
        ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims as number[]);
      }
    }
    const out = outputNames ? await this.session.run(ortFeeds, outputNames as string[]) : await this.session.run(ortFeeds);
    const host: Record<string, HostTensor> = {};
    const device: Record<string, DeviceValue> = {};
    const toHost = Object.entries(out).filter(([name]) => !keep.has(name));
    for (const [name, t] of Object.entries(out)) if (keep.has(name)) device[name] = new DeviceValue(t, this.download);
    const copies = await hostOf(
      toHost.map(([, t]) => t),
      this.download,
    );
    toHost.forEach(([name, t], i) => {
      host[name] = copies[i];
      if (t.location === 'gpu-buffer') t.dispose();
    });
    return { host, device };
  }

  private check(feeds: Record<string, Feed>): void {
    const problems: string[] = [];
    for (const spec of this.inputs) {
      const t = feeds[spec.name];
      if (!t) {
        problems.push(`missing input "${spec.name}"`);
        continue;
      }
      if (spec.type !== t.type) problems.push(`input "${spec.name}" is ${t.type}, expected ${spec.type}`);
      if (spec.shape.length > 0 && spec.shape.length !== t.dims.length) {
        problems.push(`input "${spec.name}" has rank ${t.dims.length} ${JSON.stringify(t.dims)}, expected ${JSON.stringify(spec.shape)}`);
      } else {
        spec.shape.forEach((d, i) => {
          if (typeof d === 'number' && d >= 0 && t.dims[i] !== d) {
            problems.push(`input "${spec.name}" dim ${i} is ${t.dims[i]}, expected ${d} (${JSON.stringify(spec.shape)})`);
          }
        });
      }
      const n = t.dims.reduce((a, b) => a * b, 1);
      if (!(t instanceof DeviceValue) && n !== t.data.length) problems.push(`input "${spec.name}" has ${t.data.length} values for dims ${JSON.stringify(t.dims)}`);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.hasInput(name)) problems.push(`unknown input "${name}" (model inputs: ${this.inputs.map((i) => i.name).join(', ')})`);
    }
    if (problems.length > 0) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `model ${this.key}: ${problems.join('; ')}`);
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

/** The output names a model declares (bytes, or the file at `source.path`); [] when they cannot be read (ORT then reports the model). */
function declaredOutputs(bytes: Uint8Array | undefined, source: ModelSource): string[] {
  try {
    return readDeclaredIo(bytes ?? readFileSync(source.path ?? source.key)).outputs.map((v) => v.name);
  } catch {
    return [];
  }
}

export class OnnxSessionRegistry {
  private readonly sessions = new Map<string, Promise<DecoderSession>>();
  private webgpuProbe?: Promise<void>;
  /** provider|type|rank|count → the session that copies that many such device tensors to the host. */
  private readonly downloaders = new Map<string, Promise<ort.InferenceSession>>();

  private static memoKey(source: ModelSource, o: Required<SessionOptions>): string {
    return `${source.key}|${o.provider}|${o.intraOpThreads}|${o.graphOptimization}|${o.profile}`;
  }

  acquire(source: ModelSource, options: SessionOptions = {}): Promise<DecoderSession> {
    const o: Required<SessionOptions> = {
      provider: options.provider ?? 'cpu',
      intraOpThreads: options.intraOpThreads ?? 0,
      graphOptimization: options.graphOptimization ?? 'all',
      profile: options.profile ?? '',
    };
    const key = OnnxSessionRegistry.memoKey(source, o);
    const existing = this.sessions.get(key);
    if (existing) return existing;
    const loading = this.load(source, o).catch((err: unknown) => {
      this.sessions.delete(key); // never cache a failure
      throw err;
    });
    this.sessions.set(key, loading);
    return loading;
  }

  private async load(source: ModelSource, o: Required<SessionOptions>): Promise<DecoderSession> {
    assertProviderAvailable(o.provider);
    if (o.provider === 'webgpu') await this.probeWebGpu();
    const bytes = source.bytes ?? source.build?.();
    const ortOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [...EXECUTION_PROVIDERS[o.provider]],
      graphOptimizationLevel: o.graphOptimization,
      preferredOutputLocation: outputLocations(o.provider, OUTPUT_LOCATION[o.provider] === 'cpu' ? [] : declaredOutputs(bytes, source)),
      ...(o.intraOpThreads > 0 ? { intraOpNumThreads: o.intraOpThreads } : {}),
      ...(o.profile ? { enableProfiling: true, profileFilePrefix: o.profile } : {}),
    };
    try {
      const session = bytes
        ? await ort.InferenceSession.create(bytes, ortOptions)
        : await ort.InferenceSession.create(source.path ?? source.key, ortOptions);
      const download = OUTPUT_LOCATION[o.provider] === 'cpu' ? undefined : (ts: readonly ort.Tensor[]) => this.download(ts, o.provider);
      return new DecoderSession(source.key, session, o.provider, download);
    } catch (err) {
      throw new InferenceError(
        InferenceErrorCode.SessionLoadFailed,
        `could not load model ${source.key} on ${o.provider}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /**
   * Copies device tensors to the host through Identity sessions on their provider: one run
   * per element type and rank (a decoder's KV: one run, one GPU sync, for every layer).
   */
  private async download(ts: readonly ort.Tensor[], provider: ExecutionProvider): Promise<HostTensor[]> {
    const out: HostTensor[] = new Array(ts.length);
    const groups = new Map<string, number[]>();
    ts.forEach((t, i) => {
      const k = `${t.type}|${t.dims.length}`;
      groups.set(k, [...(groups.get(k) ?? []), i]);
    });
    for (const idx of groups.values()) {
      const first = ts[idx[0]];
      const session = await this.downloader(provider, first.type, first.dims.length, idx.length);
      const result = await session.run(Object.fromEntries(idx.map((i, j) => [`x${j}`, ts[i]])));
      idx.forEach((i, j) => (out[i] = hostView(result[`y${j}`])));
    }
    return out;
  }

  private downloader(provider: ExecutionProvider, type: string, rank: number, count: number): Promise<ort.InferenceSession> {
    const key = `${provider}|${type}|${rank}|${count}`;
    let session = this.downloaders.get(key);
    if (!session) {
      session = ort.InferenceSession.create(downloadModel(type, rank, count), {
        executionProviders: [...EXECUTION_PROVIDERS[provider]],
        preferredOutputLocation: 'cpu',
      });
      session.catch(() => this.downloaders.delete(key)); // never cache a failure
      this.downloaders.set(key, session);
    }
    return session;
  }

  /**
   * Creates a one-node session on WebGPU once per registry: without an adapter (no GPU,
   * no Vulkan loader or driver) it fails with PROVIDER_UNAVAILABLE naming the fix, before
   * any model graph is built.
   */
  private probeWebGpu(): Promise<void> {
    this.webgpuProbe ??= (async () => {
      try {
        const session = await ort.InferenceSession.create(probeModel(), { executionProviders: ['webgpu'] });
        await session.release();
      } catch (err) {
        throw webgpuUnavailable(err);
      }
    })();
    return this.webgpuProbe;
  }

  get size(): number {
    return this.sessions.size;
  }

  async evict(modelKey: string): Promise<void> {
    for (const [key, p] of [...this.sessions]) {
      if (!key.startsWith(`${modelKey}|`)) continue;
      this.sessions.delete(key);
      await p.then((s) => s.release()).catch(() => undefined);
    }
  }

  async disposeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    const downloaders = [...this.downloaders.values()];
    this.sessions.clear();
    this.downloaders.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => undefined)));
    await Promise.all(downloaders.map((p) => p.then((s) => s.release()).catch(() => undefined)));
  }
}
