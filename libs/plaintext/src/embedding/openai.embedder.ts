// Embeddings from any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, TEI):
// POST {baseUrl}/v1/embeddings { model, input: string[] } → { data: [{ index, embedding }] }.
// Batches the input, re-orders by `index`, checks the dimension, L2-normalises (some
// servers do not). Requests go through boundedPost (ADR 0104): no redirects, a deadline,
// a capped answer, and errors that name the endpoint and the status, never the body.
import { SEMANTIC_DENSE_WEIGHT } from '../ranking/ranking-options';
import { boundedPost, HostResolver, OutboundRequestError } from '../outbound/bounded-post';
import { Embedder, l2Normalize } from './embedder';

export interface OpenAiEmbedderOptions {
  /** e.g. https://api.openai.com or http://localhost:11434 (with or without a trailing /v1); no query, fragment or credentials. */
  readonly baseUrl: string;
  readonly model: string;
  readonly dimension: number;
  /** Sent as a bearer token; only ever given for endpoints the operator named. */
  readonly apiKey?: string;
  /** How errors name the endpoint (default: the URL's origin), e.g. `embedding endpoint "local"`. */
  readonly label?: string;
  /** Connect only to public addresses (tenant-supplied URLs; see boundedPost). */
  readonly publicOnly?: boolean;
  /** Texts per request (OpenAI accepts up to 2048). */
  readonly batchSize?: number;
  readonly timeoutMs?: number;
  /** Largest answer read per request; default 1 MiB plus 32 bytes per number asked for. */
  readonly maxResponseBytes?: number;
  /** Ask the server to shorten vectors (text-embedding-3 models). */
  readonly requestDimensions?: boolean;
  /** Injected for tests; defaults to the system resolver. */
  readonly resolve?: HostResolver;
}

/** An embedding request failed; `message` is safe for clients, `detail` (an error body, a socket error) is for server logs. */
export class EmbeddingRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'EmbeddingRequestError';
  }
}

/**
 * `{baseUrl}/v1/embeddings`, built with the URL API. Throws a RangeError naming the problem
 * for a URL that is not http(s), carries credentials, a query or a fragment (`?` and `#`
 * would swallow the path that is appended).
 */
export function openAiEmbeddingsUrl(baseUrl: string): URL {
  if (/[?#]/.test(baseUrl)) throw new RangeError('must not contain a query or fragment (? or #)');
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new RangeError('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError('must be an http or https URL');
  if (url.username || url.password) throw new RangeError('must not contain credentials (user:password@)');
  url.pathname = `${url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1/embeddings`;
  return url;
}

interface EmbeddingResponse {
  data?: { index?: number; embedding?: unknown }[];
}

export class OpenAiEmbedder implements Embedder {
  readonly dimension: number;
  readonly fingerprint: string;
  /** A trained sentence encoder: weighted as use-lite was tuned until one is measured (ADR 0113). */
  readonly denseWeight = SEMANTIC_DENSE_WEIGHT;
  private readonly url: URL;
  private readonly label: string;
  private readonly batchSize: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: OpenAiEmbedderOptions) {
    if (!options.model) throw new RangeError('openai embedder needs a model');
    if (!Number.isInteger(options.dimension) || options.dimension <= 0) {
      throw new RangeError(`openai embedder dimension must be a positive integer, got ${options.dimension}`);
    }
    this.dimension = options.dimension;
    try {
      this.url = openAiEmbeddingsUrl(options.baseUrl);
    } catch (error) {
      throw new RangeError(`openai embedder baseUrl ${(error as Error).message}`);
    }
    this.label = options.label ?? `embedding endpoint ${this.url.origin}`;
    this.batchSize = Math.max(1, options.batchSize ?? 256);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fingerprint = `openai:${options.model}:${options.dimension}:v1`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      out.push(...(await this.embedBatch(texts.slice(start, start + this.batchSize))));
    }
    return out;
  }

  private async embedBatch(input: string[]): Promise<Float32Array[]> {
    const body: Record<string, unknown> = { model: this.options.model, input, encoding_format: 'float' };
    if (this.options.requestDimensions) body.dimensions = this.dimension;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const maxResponseBytes = this.options.maxResponseBytes ?? 1024 * 1024 + input.length * this.dimension * 32;
    let response: { status: number; body: string };
    try {
      response = await boundedPost(this.url, JSON.stringify(body), {
        label: this.label,
        headers,
        timeoutMs: this.timeoutMs,
        maxResponseBytes,
        publicOnly: this.options.publicOnly ?? false,
        resolve: this.options.resolve,
      });
    } catch (error) {
      if (error instanceof OutboundRequestError) throw new EmbeddingRequestError(error.message, error.status, error.detail);
      throw error;
    }
    let parsed: EmbeddingResponse;
    try {
      parsed = JSON.parse(response.body) as EmbeddingResponse;
    } catch {
      throw new EmbeddingRequestError(`${this.label} did not answer JSON`, response.status);
    }
    const data = parsed.data;
    if (!Array.isArray(data) || data.length !== input.length) {
      throw new EmbeddingRequestError(
        `${this.label} returned ${Array.isArray(data) ? data.length : 'no'} vectors for ${input.length} texts`,
        response.status,
      );
    }
    const vectors: Float32Array[] = new Array<Float32Array>(input.length);
    data.forEach((item, position) => {
      const index = typeof item.index === 'number' ? item.index : position;
      const embedding = item.embedding;
      if (!Array.isArray(embedding) || embedding.length !== this.dimension || !embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new EmbeddingRequestError(
          `${this.label}: embedding ${index} is not ${this.dimension} finite numbers (got ${Array.isArray(embedding) ? `dimension ${embedding.length}` : 'none'})`,
          response.status,
        );
      }
      if (!Number.isInteger(index) || index < 0 || index >= input.length || vectors[index]) {
        throw new EmbeddingRequestError(`${this.label} returned a bad index ${index}`, response.status);
      }
      vectors[index] = l2Normalize(Float32Array.from(embedding as number[]));
    });
    return vectors;
  }
}
