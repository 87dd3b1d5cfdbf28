// The one place that creates onnxruntime-node sessions. Sessions are memoized by
// model key + provider + options; a failed load is evicted (the next call retries);
// disposeAll() releases everything on shutdown.
import * as ort from 'onnxruntime-node';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { assertProviderAvailable, EXECUTION_PROVIDERS, ExecutionProvider } from './execution-providers';
import type { HostTensor } from './tensor';

export interface SessionOptions {
  provider?: ExecutionProvider;
  intraOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
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

  constructor(readonly key: string, private readonly session: ort.InferenceSession) {
    const spec = (m: ort.InferenceSession.ValueMetadata): IoSpec =>
      m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] };
    this.inputs = session.inputMetadata.map(spec);
    this.outputs = session.outputMetadata.map(spec);
    this.inputNames = new Set(this.inputs.map((i) => i.name));
  }

  hasInput(name: string): boolean {
    return this.inputNames.has(name);
  }

  /** Checks names, element types and fixed dims, then runs. */
  async run(feeds: Record<string, HostTensor>, outputNames?: readonly string[]): Promise<Record<string, HostTensor>> {
    if (this.released) throw new InferenceError(InferenceErrorCode.SessionLoadFailed, `session ${this.key} was released`);
    this.check(feeds);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims as number[]);
    const out = outputNames ? await this.session.run(ortFeeds, outputNames as string[]) : await this.session.run(ortFeeds);
    const result: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { type: t.type as HostTensor['type'], data: t.data as Float32Array, dims: t.dims };
    }
    return result;
  }

  private check(feeds: Record<string, HostTensor>): void {
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
      if (n !== t.data.length) problems.push(`input "${spec.name}" has ${t.data.length} values for dims ${JSON.stringify(t.dims)}`);
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

export class OnnxSessionRegistry {
  private readonly sessions = new Map<string, Promise<DecoderSession>>();

  private static memoKey(source: ModelSource, o: Required<SessionOptions>): string {
    return `${source.key}|${o.provider}|${o.intraOpThreads}|${o.graphOptimization}`;
  }

  acquire(source: ModelSource, options: SessionOptions = {}): Promise<DecoderSession> {
    const o: Required<SessionOptions> = {
      provider: options.provider ?? 'cpu',
      intraOpThreads: options.intraOpThreads ?? 0,
      graphOptimization: options.graphOptimization ?? 'all',
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
    const ortOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [...EXECUTION_PROVIDERS[o.provider]],
      graphOptimizationLevel: o.graphOptimization,
      ...(o.intraOpThreads > 0 ? { intraOpNumThreads: o.intraOpThreads } : {}),
    };
    const bytes = source.bytes ?? source.build?.();
    try {
      const session = bytes
        ? await ort.InferenceSession.create(bytes, ortOptions)
        : await ort.InferenceSession.create(source.path ?? source.key, ortOptions);
      return new DecoderSession(source.key, session);
    } catch (err) {
      throw new InferenceError(
        InferenceErrorCode.SessionLoadFailed,
        `could not load model ${source.key} on ${o.provider}: ${(err as Error).message}`,
        { cause: err },
      );
    }
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
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => undefined)));
  }
}
