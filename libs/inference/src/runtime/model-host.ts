// Holds the loaded models of a process: one LanguageModel per (directory, provider,
// options), concurrent loads shared, failures not cached, everything released on
// shutdown. A NestJS provider can wrap it and call dispose() in onModuleDestroy.
import { resolve } from 'node:path';
import { LanguageModel, loadLanguageModel, LoadModelOptions } from './language-model';
import { OnnxSessionRegistry } from './onnx-session.registry';

export class ModelHost {
  readonly sessions = new OnnxSessionRegistry();
  private readonly models = new Map<string, Promise<LanguageModel>>();

  constructor(private readonly defaults: LoadModelOptions = {}) {}

  load(dir: string, options: LoadModelOptions = {}): Promise<LanguageModel> {
    const o = { ...this.defaults, ...options };
    const key = JSON.stringify([resolve(dir), o.provider ?? 'cpu', o.intraOpThreads ?? 0, o.graphOptimization ?? 'all', o.prefillChunk ?? 512, o.attention ?? 'auto']);
    let loading = this.models.get(key);
    if (!loading) {
      loading = loadLanguageModel(dir, this.sessions, o).catch((err: unknown) => {
        this.models.delete(key);
        throw err;
      });
      this.models.set(key, loading);
    }
    return loading;
  }

  /** Loaded models by fingerprint (e.g. to serve a registered model id). */
  async loaded(): Promise<LanguageModel[]> {
    const settled = await Promise.allSettled(this.models.values());
    return settled.filter((s): s is PromiseFulfilledResult<LanguageModel> => s.status === 'fulfilled').map((s) => s.value);
  }

  async dispose(): Promise<void> {
    this.models.clear();
    await this.sessions.disposeAll();
  }
}
