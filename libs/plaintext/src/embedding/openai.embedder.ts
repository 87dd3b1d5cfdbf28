// Embeddings from any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, TEI):
// POST {baseUrl}/v1/embeddings { model, input: string[] } → { data: [{ index, embedding }] }.
// Batches the input, re-orders by `index`, checks the dimension, L2-normalises (some
// servers do not), and fails with the status and the server's message.
import { Embedder, l2Normalize } from './embedder';

export interface OpenAiEmbedderOptions {
  /** e.g. https://api.openai.com or http://localhost:11434 (with or without a trailing /v1). */
  readonly baseUrl: string;
  readonly model: string;
  readonly dimension: number;
  readonly apiKey?: string;
  /** Texts per request (OpenAI accepts up to 2048). */
  readonly batchSize?: number;
  readonly timeoutMs?: number;
  /** Ask the server to shorten vectors (text-embedding-3 models). */
  readonly requestDimensions?: boolean;
  /** Injected for tests; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

export class EmbeddingRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EmbeddingRequestError';
  }
}

interface EmbeddingResponse {
  data?: { index?: number; embedding?: unknown }[];
}

export class OpenAiEmbedder implements Embedder {
  readonly dimension: number;
  readonly fingerprint: string;
  private readonly url: string;
  private readonly batchSize: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: OpenAiEmbedderOptions) {
    if (!options.model) throw new RangeError('openai embedder needs a model');
    if (!Number.isInteger(options.dimension) || options.dimension <= 0) {
      throw new RangeError(`openai embedder dimension must be a positive integer, got ${options.dimension}`);
    }
    this.dimension = options.dimension;
    const base = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.url = `${base}/v1/embeddings`;
    this.batchSize = Math.max(1, options.batchSize ?? 256);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
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
    let response: Response;
    try {
      response = await this.fetchImpl(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new EmbeddingRequestError(`embedding request to ${this.url} failed: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new EmbeddingRequestError(
        `embedding endpoint ${this.url} answered ${response.status}: ${serverMessage(text)}`,
        response.status,
      );
    }
    let parsed: EmbeddingResponse;
    try {
      parsed = JSON.parse(text) as EmbeddingResponse;
    } catch {
      throw new EmbeddingRequestError(`embedding endpoint ${this.url} did not answer JSON`, response.status);
    }
    const data = parsed.data;
    if (!Array.isArray(data) || data.length !== input.length) {
      throw new EmbeddingRequestError(
        `embedding endpoint returned ${Array.isArray(data) ? data.length : 'no'} vectors for ${input.length} texts`,
        response.status,
      );
    }
    const vectors: Float32Array[] = new Array<Float32Array>(input.length);
    data.forEach((item, position) => {
      const index = typeof item.index === 'number' ? item.index : position;
      const embedding = item.embedding;
      if (!Array.isArray(embedding) || embedding.length !== this.dimension) {
        throw new EmbeddingRequestError(
          `embedding ${index} has dimension ${Array.isArray(embedding) ? embedding.length : 'none'}, expected ${this.dimension}`,
          response.status,
        );
      }
      if (index < 0 || index >= input.length || vectors[index]) {
        throw new EmbeddingRequestError(`embedding endpoint returned a bad index ${index}`, response.status);
      }
      vectors[index] = l2Normalize(Float32Array.from(embedding as number[]));
    });
    return vectors;
  }
}

function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    if (typeof parsed.error === 'string') return parsed.error;
    if (parsed.error?.message) return parsed.error.message;
    if (parsed.message) return parsed.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 300) || '(empty body)';
}
