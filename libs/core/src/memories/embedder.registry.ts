import { existsSync, statSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { OnnxSentenceEmbedder, OnnxSessionRegistry, UseLiteEmbedder } from '@engram/inference';
import { Embedder, EmbeddingRequestError, HashEmbedder } from '@engram/plaintext';
import { EngramError, FieldProblem } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { checkTenantUrl, createOpenAiEmbedder, NO_OPENAI_ENDPOINTS, OpenAiEmbedderSettings, OpenAiEndpointPolicy, parseOpenAiSettings, SettingsOrigin } from './openai-embedder.settings';

/** A cube's embedder, as chosen in `settings.embedder` at creation. */
export type EmbedderSettings =
  | { type: 'hash'; dimension: number }
  | OpenAiEmbedderSettings
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

/** Whether `path` is an existing directory inside `modelsRoot` (symlinks resolved); null root: any directory. */
function isModelDirectory(path: string, modelsRoot: string | null): boolean {
  const inside = (candidate: string, root: string) => candidate === root || candidate.startsWith(root + sep);
  try {
    // Outside the folder, the file system is not even asked.
    const realRoot = modelsRoot === null ? null : existsSync(modelsRoot) ? realpathSync(modelsRoot) : resolve(modelsRoot);
    if (modelsRoot !== null && !inside(path, resolve(modelsRoot)) && !inside(path, realRoot!)) return false;
    if (!statSync(path).isDirectory()) return false;
    return realRoot === null || inside(realpathSync(path), realRoot);
  } catch {
    return false;
  }
}

/**
 * Reads and validates `settings.embedder`: "hash", { type: "hash", dimension },
 * { type: "openai", name } (an endpoint the operator named; or { type: "openai", baseUrl,
 * model, dimension } where allowed, see openai-embedder.settings.ts), { type: "onnx", path } (a model
 * directory on the server; its dimension comes from the model) or "use-lite" (Universal
 * Sentence Encoder Lite, 512-d, built in and offline).
 */
export function parseEmbedderSettings(
  value: unknown,
  modelsRoot: string | null = null,
  openai: OpenAiEndpointPolicy = NO_OPENAI_ENDPOINTS,
  origin: SettingsOrigin = 'request',
): EmbedderSettings {
  if (value === undefined || value === null) return DEFAULT_EMBEDDER;
  const fail = (problem: string) => EngramError.validation([{ field: 'settings.embedder', problems: [problem] }]);
  if (typeof value === 'string') return parseEmbedderSettings({ type: value }, modelsRoot, openai, origin);
  if (typeof value !== 'object' || Array.isArray(value)) throw fail('settings.embedder must be an object such as { "type": "hash" }');
  const spec = value as Record<string, unknown>;
  switch (spec.type) {
    case 'hash':
      allowedKeys(spec, ['type', 'dimension'], fail, 'hash');
      return { type: 'hash', dimension: dimensionOf(spec.dimension, DEFAULT_EMBEDDER.dimension, fail) };
    case 'openai':
      return parseOpenAiSettings(spec, openai, origin, fail);
    case 'onnx': {
      allowedKeys(spec, ['type', 'path'], fail, 'onnx');
      if (typeof spec.path !== 'string' || !spec.path.trim()) throw fail('settings.embedder.path must name a model directory (model.onnx + tokenizer.json)');
      // Tenants name models inside the operator's models folder, never arbitrary server paths.
      // One answer for missing, not a directory and outside the folder: it must not tell
      // a tenant what exists elsewhere on the server.
      const path = modelsRoot !== null && !isAbsolute(spec.path) ? resolve(modelsRoot, spec.path) : resolve(spec.path);
      if (!isModelDirectory(path, modelsRoot)) {
        throw fail(`settings.embedder.path must name an existing model directory${modelsRoot !== null ? ' inside the models folder (ENGRAM_MODELS_DIR)' : ''}`);
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
export class EmbedderRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Embedders');
  private readonly cache = new Map<string, Embedder>();
  /** ONNX sessions of `onnx` embedders, released on shutdown. */
  private readonly sessions = new OnnxSessionRegistry();

  /** Who `openai` embedders may call (ADR 0104). */
  private readonly openai: OpenAiEndpointPolicy;

  constructor(@Inject(ENGRAM_CONFIG) private readonly config: EngramConfig) {
    this.openai = { endpoints: config.embedders, allowTenantUrls: config.allowTenantEmbedderUrls };
  }

  onModuleInit(): void {
    if (this.config.openaiApiKey !== null && Object.keys(this.config.embedders).length === 0) {
      this.logger.warn('ENGRAM_OPENAI_API_KEY is deprecated and sent nowhere: name the embedding endpoints in ENGRAM_EMBEDDERS (ADR 0104)');
    }
  }

  /** The embedder of a cube's (or a bank's) stored settings. */
  forSettings(settings: Record<string, unknown>): Embedder {
    const spec = this.stored(settings.embedder);
    const key = JSON.stringify(spec);
    let embedder = this.cache.get(key);
    if (!embedder) {
      embedder = this.create(spec);
      this.cache.set(key, embedder);
    }
    return embedder;
  }

  /**
   * Validates `settings.embedder` from a request (models folder, operator endpoints, the
   * tenant-URL switch, and for a tenant URL the addresses its host resolves to); throws a 400.
   */
  /**
   * Validates embedder settings a request names; `field` is where the request put them
   * (a cube's `settings.embedder`, a bank's `embedder`), and what its 400 names.
   */
  async validate(value: unknown, field = 'settings.embedder'): Promise<EmbedderSettings> {
    try {
      const settings = parseEmbedderSettings(value, this.config.modelsDir, this.openai, 'request');
      if (settings.type === 'openai') await checkTenantUrl(settings, this.openai);
      return settings;
    } catch (err) {
      throw field === 'settings.embedder' ? err : renamedField(err, 'settings.embedder', field);
    }
  }

  /**
   * The settings a new cube is stored with: when it names no embedder, the server's default
   * for new cubes (ENGRAM_NEW_CUBE_EMBEDDER) is written in, so the cube keeps it if that
   * default changes. No `embedder` at all still reads as hash (cubes made before, ADR 0106).
   */
  settingsForNewCube(settings: Record<string, unknown> | undefined): Record<string, unknown> {
    const given = settings ?? {};
    if (given.embedder !== undefined || this.config.newCubeEmbedder === 'hash') return given;
    return { ...given, embedder: this.config.newCubeEmbedder };
  }

  /** Reads back settings a cube or bank row holds (a legacy baseUrl an operator endpoint serves becomes that endpoint). */
  stored(value: unknown): EmbedderSettings {
    return parseEmbedderSettings(value, this.config.modelsDir, this.openai, 'stored');
  }

  /** Embeds texts; a remote embedder that fails becomes a 503 that says which one. */
  async embed(embedder: Embedder, texts: string[]): Promise<Float32Array[]> {
    try {
      return await embedder.embed(texts);
    } catch (error) {
      if (error instanceof EmbeddingRequestError) {
        // The detail (an error body, a socket error) stays in the server log; the message names endpoint and status only.
        if (error.detail) this.logger.debug(`${error.message}: ${error.detail.slice(0, 500)}`);
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
        return createOpenAiEmbedder(spec, this.openai);
      case 'onnx':
        return OnnxSentenceEmbedder.open(spec.path, {
          registry: this.sessions,
          session: { provider: this.config.inferenceProvider, intraOpThreads: this.config.inferenceThreads },
        });
      case 'use-lite':
        // Loads its weights on the first embed; one instance per process (this cache). One
        // intra-op thread unless configured: more spin on a busy CPU and cost more per text
        // (bench:embedder, ADR 0106), and the other core keeps serving requests.
        return new UseLiteEmbedder({
          registry: this.sessions,
          session: { provider: this.config.inferenceProvider, intraOpThreads: this.config.inferenceThreads || 1 },
        });
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.cache.clear();
    await this.sessions.disposeAll();
  }
}

/** A validation error about `from` (and its sub-fields), told about `to` instead. */
function renamedField(err: unknown, from: string, to: string): unknown {
  if (!(err instanceof EngramError) || err.code !== ErrorCode.ValidationFailed || !Array.isArray(err.details)) return err;
  const rename = (text: string): string => (text === from || text.startsWith(`${from}.`) || text.startsWith(`${from} `) ? to + text.slice(from.length) : text);
  return EngramError.validation((err.details as FieldProblem[]).map((p) => ({ field: rename(p.field), problems: p.problems.map(rename) })));
}
