// The side-effect boundary of the inference runtime (ONNX Runtime sessions, model files):
// services reach models only through here, so they can be tested with a mock.
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import {
  blendPrefill,
  BlendOptions,
  BlendResult,
  BlendSegment,
  generate,
  generateFrom,
  GenerateOptions,
  GenerateResult,
  InferenceError,
  InferenceErrorCode,
  LanguageModel,
  ModelDirectory,
  ModelHost,
  openModelDirectory,
} from '@engram/inference';

@Injectable()
export class ModelRuntime implements OnModuleDestroy {
  private host?: ModelHost;

  constructor(@Inject(ENGRAM_CONFIG) private readonly config: EngramConfig) {}

  /** Reads and validates a model directory (config, tokenizer, weights) and fingerprints it. */
  /**
   * A relative path is resolved under ENGRAM_MODELS_DIR (never against the server's working
   * directory) and may not climb out of it; an operator may still give an absolute path.
   */
  inspect(dir: string): ModelDirectory {
    const base = resolve(this.config.modelsDir);
    const full = isAbsolute(dir) ? resolve(dir) : resolve(base, dir);
    if (!isAbsolute(dir) && (full === base || relative(base, full).startsWith('..'))) {
      throw new InferenceError(InferenceErrorCode.ModelNotFound, `"${dir}" is not a model directory under ENGRAM_MODELS_DIR (relative paths resolve there); give a folder inside it, or an absolute path`);
    }
    try {
      return openModelDirectory(full);
    } catch (error) {
      if (error instanceof InferenceError && error.code === InferenceErrorCode.ModelNotFound && !isAbsolute(dir)) {
        throw new InferenceError(InferenceErrorCode.ModelNotFound, `no model directory "${dir}" under ENGRAM_MODELS_DIR (relative paths resolve there, not against the server's working directory)`);
      }
      throw error;
    }
  }

  /** The loaded model of a registered directory; refuses files that changed since import. */
  async load(model: { name: string; directory: string; fingerprint: string }): Promise<LanguageModel> {
    this.host ??= new ModelHost({
      provider: this.config.inferenceProvider,
      intraOpThreads: this.config.inferenceThreads,
      compiledDir: join(this.config.dataDir, 'models'),
      ...(this.config.inferenceAttention === 'auto' ? {} : { attention: this.config.inferenceAttention }),
    });
    let loaded: LanguageModel;
    try {
      loaded = await this.host.load(model.directory);
    } catch (error) {
      // Tenants chat with a model by name: where its files are on the server is not theirs to read.
      if (error instanceof InferenceError && error.message.includes(model.directory)) {
        throw new InferenceError(error.code, `model "${model.name}" cannot be loaded: ${error.message.split(`model directory ${model.directory}`).join('its directory').split(model.directory).join('its directory')}; an operator must fix or import it again`, { cause: error });
      }
      throw error;
    }
    if (loaded.fingerprint !== model.fingerprint) {
      throw new InferenceError(
        InferenceErrorCode.ModelInvalid,
        `the files of model "${model.name}" changed since it was imported (fingerprint ${loaded.fingerprint.slice(0, 12)}, registered ${model.fingerprint.slice(0, 12)}); import it again under a new name`,
      );
    }
    return loaded;
  }

  generate(model: LanguageModel, promptTokens: readonly number[], options: GenerateOptions): Promise<GenerateResult> {
    return generate(model, promptTokens, options);
  }

  /** Prefill over several cached segments placed anywhere in the prompt (kv-blend). */
  blendPrefill(model: LanguageModel, promptTokens: readonly number[], segments: readonly BlendSegment[], options: BlendOptions): Promise<BlendResult> {
    return blendPrefill(model, promptTokens, segments, options);
  }

  /** Generates from a prompt already prefilled (e.g. by blendPrefill). */
  generateFrom(model: LanguageModel, prefilled: BlendResult, usage: { promptTokens: number; cachedTokens: number }, options: GenerateOptions & { startedAt?: number }): Promise<GenerateResult> {
    return generateFrom(model, prefilled, usage, options);
  }

  async onModuleDestroy(): Promise<void> {
    await this.host?.dispose();
    this.host = undefined;
  }
}
