import { existsSync, statSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { OnnxSentenceEmbedder, OnnxSessionRegistry, UseLiteEmbedder } from '@engram/inference';
import { Embedder, EmbeddingRequestError, HashEmbedder, OpenAiEmbedder } from '@engram/plaintext';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';

/** A cube's embedder, as chosen in `settings.embedder` at creation. */
export type EmbedderSettings =
  | { type: 'hash'; dimension: number }
  | { type: 'openai'; baseUrl: string; model: string; dimension: number }
  | { type: 'onnx'; path: string }
  | { type: 'use-lite' };

export const DEFAULT_EMBEDDER: Extract<EmbedderSettings, { type: 'hash' }> = { type: 'hash', dimension: 256 };

function allowedKeys(spec: Record<string, unknown>, keys: string[], fail: (p: string) => EngramError, type: string): void {
  const unknown = Object.keys(spec).filter((k) => !keys.includes(k));
  if (unknown.length) throw fail(`unknown field(s) for the ${type} embedder: ${unknown.join(', ')}`);
}

function dimensionOf(value: unknown, fallback: number | null, fail: (p: string) => EngramError): number {
  const dimension = value ?? fallback;
  if (!Number.isInteger(dimension) || (dimension as number) < 8 || (dimension as number) > 8192) {
    throw fail('settings.embedder.dimension must be an integer between 8 and 8192');
  }
  return dimension as number;
}

/**
 * Reads and validates `settings.embedder`: "hash", { type: "hash", dimension },
 * { type: "openai", baseUrl, model, dimension }, { type: "onnx", path } (a model
 * directory on the server; its dimension comes from the model) or "use-lite" (Universal
 * Sentence Encoder Lite, 512-d, built in and offline).
 */
export function parseEmbedderSettings(value: unknown, modelsRoot: string | null = null): EmbedderSettings {
  if (value === undefined || value === null) return DEFAULT_EMBEDDER;
  const fail = (problem: string) => EngramError.validation([{ field: 'settings.embedder', problems: [problem] }]);
  if (typeof value === 'string') return parseEmbedderSettings({ type: value }, modelsRoot);
  if (typeof value !== 'object' || Array.isArray(value)) throw fail('settings.embedder must be an object such as { "type": "hash" }');
  const spec = value as Record<string, unknown>;
  switch (spec.type) {
    case 'hash':
      allowedKeys(spec, ['type', 'dimension'], fail, 'hash');
      return { type: 'hash', dimension: dimensionOf(spec.dimension, DEFAULT_EMBEDDER.dimension, fail) };
    case 'openai': {
      allowedKeys(spec, ['type', 'baseUrl', 'model', 'dimension'], fail, 'openai');
      let url: URL | null = null;
      try {
        url = typeof spec.baseUrl === 'string' ? new URL(spec.baseUrl) : null;
      } catch {
        url = null;
      }
      if (!url || !['http:', 'https:'].includes(url.protocol)) throw fail('settings.embedder.baseUrl must be an http(s) URL of an OpenAI-compatible server');
      if (typeof spec.model !== 'string' || !spec.model.trim() || spec.model.length > 200) throw fail('settings.embedder.model must name the embedding model');
      return { type: 'openai', baseUrl: spec.baseUrl as string, model: spec.model, dimension: dimensionOf(spec.dimension, null, fail) };
    }
    case 'onnx': {
      allowedKeys(spec, ['type', 'path'], fail, 'onnx');
      if (typeof spec.path !== 'string' || !spec.path.trim()) throw fail('settings.embedder.path must name a model directory (model.onnx + tokenizer.json)');
      // Tenants name models inside the operator's models folder, never arbitrary server paths.
      const path = modelsRoot !== null && !isAbsolute(spec.path) ? resolve(modelsRoot, spec.path) : resolve(spec.path);
      if (!existsSync(path) || !statSync(path).isDirectory()) throw fail(`settings.embedder.path ${JSON.stringify(spec.path)} is not an existing directory`);
      if (modelsRoot !== null) {
        const root = existsSync(modelsRoot) ? realpathSync(modelsRoot) : resolve(modelsRoot);
        const real = realpathSync(path);
        if (real !== root && !real.startsWith(root + sep)) {
          throw fail(`settings.embedder.path must be a model directory inside the models folder (ENGRAM_MODELS_DIR)`);
        }
      }
      return { type: 'onnx', path };
    }
    case 'use-lite':
      allowedKeys(spec, ['type'], fail, 'use-lite');
      return { type: 'use-lite' };
    default:
      throw fail(`settings.embedder.type must be one of: hash, use-lite, openai, onnx (got ${JSON.stringify(spec.type)})`);
  }
}

/** One embedder instance per distinct settings; embedders are stateless and shared. */
@Injectable()
export class EmbedderRegistry implements OnModuleDestroy {
  private readonly cache = new Map<string, Embedder>();
  /** ONNX sessions of `onnx` embedders, released on shutdown. */
  private readonly sessions = new OnnxSessionRegistry();

  constructor(@Inject(ENGRAM_CONFIG) private readonly config: EngramConfig) {}

  forSettings(settings: Record<string, unknown>): Embedder {
    const spec = this.parse(settings.embedder);
    const key = JSON.stringify(spec);
    let embedder = this.cache.get(key);
    if (!embedder) {
      embedder = this.create(spec);
      this.cache.set(key, embedder);
    }
    return embedder;
  }

  /** Validates `settings.embedder` as this server will use it (models folder included); throws a 400. */
  parse(value: unknown): EmbedderSettings {
    return parseEmbedderSettings(value, this.config.modelsDir);
  }

  /** Embeds texts; a remote embedder that fails becomes a 503 that says which one. */
  async embed(embedder: Embedder, texts: string[]): Promise<Float32Array[]> {
    try {
      return await embedder.embed(texts);
    } catch (error) {
      if (error instanceof EmbeddingRequestError) {
        throw new EngramError(ErrorCode.Unavailable, `the cube's embedder is unavailable: ${error.message}; nothing was stored`);
      }
      throw error;
    }
  }

  private create(spec: EmbedderSettings): Embedder {
    switch (spec.type) {
      case 'hash':
        return new HashEmbedder({ dimension: spec.dimension });
      case 'openai':
        return new OpenAiEmbedder({ baseUrl: spec.baseUrl, model: spec.model, dimension: spec.dimension, apiKey: this.config.openaiApiKey ?? undefined });
      case 'onnx':
        return OnnxSentenceEmbedder.open(spec.path, {
          registry: this.sessions,
          session: { provider: this.config.inferenceProvider, intraOpThreads: this.config.inferenceThreads },
        });
      case 'use-lite':
        // Loads its weights on the first embed; one instance per process (this cache).
        return new UseLiteEmbedder({
          registry: this.sessions,
          session: { provider: this.config.inferenceProvider, intraOpThreads: this.config.inferenceThreads },
        });
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.cache.clear();
    await this.sessions.disposeAll();
  }
}
