// A sentence embedder over a local model directory (model.onnx + tokenizer.json, e.g. an
// HF/optimum feature-extraction export of all-MiniLM-L6-v2): WordPiece/BPE tokens with
// the tokenizer's special tokens, truncated to the model's max length and padded per
// batch → last_hidden_state → mean over the attention mask (or [CLS] where
// 1_Pooling/config.json says so) → L2 normalised. It has the
// shape of plaintext's Embedder (fingerprint, dimension, embed) without importing it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { readDeclaredIo, type DeclaredIo } from '../onnx/onnx-io.reader';
import { OnnxDataType } from '../onnx/onnx-model.encoder';
import { OnnxSessionRegistry, type DecoderSession, type SessionOptions } from '../runtime/onnx-session.registry';
import { int64Tensor, type HostTensor } from '../runtime/tensor';

export interface OnnxEmbedderOptions {
  /** Sessions are memoized here (shared with other models); default: a registry of its own. */
  registry?: OnnxSessionRegistry;
  session?: SessionOptions;
  /** Token limit per text (special tokens included); default from the directory, else 512. */
  maxLength?: number;
  /** Texts per ONNX run (default 32). */
  batchSize?: number;
}

const REQUIRED_INPUTS = ['input_ids', 'attention_mask'] as const;
const OPTIONAL_INPUTS = ['token_type_ids'] as const;
const DEFAULT_MAX_LENGTH = 512;

function readJson(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch (err) {
    throw new InferenceError(InferenceErrorCode.ModelInvalid, `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

const positiveInt = (v: unknown): number | null => (Number.isInteger(v) && (v as number) > 0 && (v as number) < 1_000_000 ? (v as number) : null);

/** Mean of the hidden states of the unmasked positions of one row of [batch, seq, hidden], L2-normalised. */
export function meanPoolNormalized(hidden: Float32Array, row: number, seq: number, dim: number, mask: ArrayLike<number>): Float32Array {
  const sum = new Float64Array(dim);
  let count = 0;
  for (let t = 0; t < seq; t++) {
    if (!mask[t]) continue;
    count++;
    const base = (row * seq + t) * dim;
    for (let j = 0; j < dim; j++) sum[j] += hidden[base + j];
  }
  const out = new Float32Array(dim);
  let norm = 0;
  for (let j = 0; j < dim; j++) {
    const m = sum[j] / Math.max(count, 1);
    norm += m * m;
    out[j] = m;
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[j] *= inv;
  }
  return out;
}

/** Pooling of the hidden states: mean over the mask (the default) or the first token ([CLS]). */
export type EmbeddingPooling = 'mean' | 'cls';

/** Reads sentence-transformers' `1_Pooling/config.json`; absent → mean. */
function poolingOf(config: Record<string, unknown> | null, fail: (what: string) => Error): EmbeddingPooling {
  if (!config) return 'mean';
  const modes = Object.entries(config).filter(([k, v]) => k.startsWith('pooling_mode_') && v === true).map(([k]) => k.slice('pooling_mode_'.length));
  if (modes.length === 1 && modes[0] === 'mean_tokens') return 'mean';
  if (modes.length === 1 && modes[0] === 'cls_token') return 'cls';
  throw fail(`1_Pooling/config.json asks for pooling ${modes.join(' + ') || '(none)'}; supported: mean_tokens or cls_token`);
}

export class OnnxSentenceEmbedder {
  readonly fingerprint: string;
  readonly dimension: number;
  /** A trained sentence encoder: weighted as use-lite was tuned until it is measured (ADR 0113; plaintext SEMANTIC_DENSE_WEIGHT). */
  readonly denseWeight = 0.5;
  readonly maxLength: number;
  readonly pooling: EmbeddingPooling;
  readonly dir: string;
  private readonly tokenizer: Tokenizer;
  private readonly padId: number;
  private readonly withTokenTypes: boolean;
  private readonly outputName: string;
  private readonly registry: OnnxSessionRegistry;
  private readonly ownsRegistry: boolean;
  private readonly batchSize: number;
  private readonly sessionOptions: SessionOptions;

  private constructor(dir: string, options: OnnxEmbedderOptions) {
    this.dir = resolve(dir);
    const notFound = (what: string) => new InferenceError(InferenceErrorCode.ModelNotFound, `embedding model directory ${this.dir}: ${what}`);
    if (!existsSync(this.dir) || !statSync(this.dir).isDirectory()) throw notFound('is not an existing directory');
    const modelPath = join(this.dir, 'model.onnx');
    const tokenizerPath = join(this.dir, 'tokenizer.json');
    for (const p of [modelPath, tokenizerPath]) if (!existsSync(p)) throw notFound(`has no ${p.slice(this.dir.length + 1)}`);
    const invalid = (what: string, cause?: unknown) =>
      new InferenceError(InferenceErrorCode.ModelInvalid, `embedding model ${this.dir}: ${what}`, cause === undefined ? undefined : { cause });

    const modelBytes = readFileSync(modelPath);
    const tokenizerText = readFileSync(tokenizerPath, 'utf8');
    let io: DeclaredIo;
    try {
      io = readDeclaredIo(modelBytes);
    } catch (err) {
      throw invalid(`model.onnx is not an ONNX model (${(err as Error).message})`, err);
    }
    const inputNames = io.inputs.map((i) => i.name);
    const missing = REQUIRED_INPUTS.filter((n) => !inputNames.includes(n));
    const unknown = inputNames.filter((n) => !(REQUIRED_INPUTS as readonly string[]).includes(n) && !(OPTIONAL_INPUTS as readonly string[]).includes(n));
    if (missing.length || unknown.length) {
      throw invalid(
        `model.onnx must take input_ids, attention_mask (and optionally token_type_ids); it declares ${inputNames.join(', ') || 'no inputs'}` +
          (missing.length ? ` (missing ${missing.join(', ')})` : '') +
          (unknown.length ? ` (unsupported ${unknown.join(', ')})` : ''),
      );
    }
    const notInt64 = io.inputs.filter((i) => i.elemType !== OnnxDataType.INT64).map((i) => i.name);
    if (notInt64.length) throw invalid(`inputs ${notInt64.join(', ')} must be int64`);
    this.withTokenTypes = inputNames.includes('token_type_ids');
    const output = io.outputs.find((o) => o.name === 'last_hidden_state') ?? io.outputs[0];
    this.outputName = output.name;
    if (output.elemType !== OnnxDataType.FLOAT) throw invalid(`output ${output.name} must be float32 [batch, sequence, hidden]`);
    if (output.shape && output.shape.length !== 3) throw invalid(`output ${output.name} has rank ${output.shape.length}; expected [batch, sequence, hidden]`);

    const config = readJson(join(this.dir, 'config.json'));
    const sbert = readJson(join(this.dir, 'sentence_bert_config.json'));
    const tokenizerConfig = readJson(join(this.dir, 'tokenizer_config.json'));
    this.pooling = poolingOf(readJson(join(this.dir, '1_Pooling', 'config.json')), invalid);
    const declaredDim = output.shape?.[2];
    const dimension = typeof declaredDim === 'number' && declaredDim > 0 ? declaredDim : positiveInt(config?.hidden_size);
    if (!dimension) throw invalid(`the hidden size is neither declared by output ${output.name} nor given as hidden_size in config.json`);
    this.dimension = dimension;

    const maxPositions = positiveInt(config?.max_position_embeddings);
    const wanted = options.maxLength ?? positiveInt(sbert?.max_seq_length) ?? positiveInt(tokenizerConfig?.model_max_length) ?? maxPositions ?? DEFAULT_MAX_LENGTH;
    this.maxLength = Math.min(wanted, maxPositions ?? wanted);
    if (this.maxLength < 2) throw invalid(`max length ${this.maxLength} is too small`);

    let tokenizerJson: Record<string, unknown>;
    try {
      tokenizerJson = JSON.parse(tokenizerText) as Record<string, unknown>;
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig ?? {});
    } catch (err) {
      throw invalid(`tokenizer.json could not be loaded: ${(err as Error).message}`, err);
    }
    const padding = tokenizerJson.padding as { pad_id?: unknown } | null | undefined;
    this.padId =
      (typeof padding?.pad_id === 'number' ? padding.pad_id : undefined) ?? this.tokenizer.token_to_id('[PAD]') ?? this.tokenizer.token_to_id('<pad>') ?? 0;

    const hash = createHash('sha256').update(modelBytes).update(tokenizerText).update(this.pooling === 'mean' ? '' : `pooling:${this.pooling}`).digest('hex').slice(0, 16);
    this.fingerprint = `onnx:${hash}:${this.dimension}`;
    this.registry = options.registry ?? new OnnxSessionRegistry();
    this.ownsRegistry = !options.registry;
    this.batchSize = Math.max(1, options.batchSize ?? 32);
    this.sessionOptions = options.session ?? {};
  }

  /** Opens and validates a model directory (reads and hashes the files; the session loads on first use). */
  static open(dir: string, options: OnnxEmbedderOptions = {}): OnnxSentenceEmbedder {
    return new OnnxSentenceEmbedder(dir, options);
  }

  /** Token ids of one text with the tokenizer's special tokens, the content truncated to fit maxLength. */
  tokenize(text: string): number[] {
    const full = this.tokenizer.encode(text, { add_special_tokens: true }).ids;
    if (full.length <= this.maxLength) return full;
    // Truncate the content, keep the template's specials (e.g. [CLS] … [SEP]) like HF does.
    const content = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const specials = full.length - content.length;
    let prefix = 0;
    while (prefix <= specials && full[prefix] !== content[0]) prefix++;
    if (prefix > specials) prefix = Math.min(1, specials);
    const keep = Math.max(0, this.maxLength - specials);
    return [...full.slice(0, prefix), ...content.slice(0, keep), ...full.slice(prefix + content.length)];
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(texts.length);
    if (texts.length === 0) return out;
    const session = await this.session();
    const tokenized = texts.map((t) => this.tokenize(t));
    // Similar lengths share a batch (less padding); results go back in input order.
    const order = tokenized.map((_, i) => i).sort((a, b) => tokenized[a].length - tokenized[b].length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const rows = order.slice(start, start + this.batchSize);
      const vectors = await this.runBatch(session, rows.map((i) => tokenized[i]));
      rows.forEach((i, r) => (out[i] = vectors[r]));
    }
    return out;
  }

  /** Releases the ONNX session (the embedder reloads it if used again). */
  async dispose(): Promise<void> {
    if (this.ownsRegistry) await this.registry.disposeAll();
    else await this.registry.evict(this.sessionKey);
  }

  private get sessionKey(): string {
    return `embedder:${this.fingerprint}`;
  }

  private session(): Promise<DecoderSession> {
    return this.registry.acquire({ key: this.sessionKey, path: join(this.dir, 'model.onnx') }, this.sessionOptions);
  }

  private async runBatch(session: DecoderSession, batch: number[][]): Promise<Float32Array[]> {
    const B = batch.length;
    const seq = Math.max(...batch.map((ids) => ids.length));
    const ids = new Array<number>(B * seq).fill(this.padId);
    const mask = new Array<number>(B * seq).fill(0);
    batch.forEach((row, b) =>
      row.forEach((id, t) => {
        ids[b * seq + t] = id;
        mask[b * seq + t] = 1;
      }),
    );
    const feeds: Record<string, HostTensor> = { input_ids: int64Tensor(ids, [B, seq]), attention_mask: int64Tensor(mask, [B, seq]) };
    if (this.withTokenTypes) feeds.token_type_ids = int64Tensor(new BigInt64Array(B * seq), [B, seq]);
    const result = (await session.run(feeds, [this.outputName]))[this.outputName];
    const dims = result?.dims ?? [];
    if (!result || result.type !== 'float32' || dims.length !== 3 || dims[0] !== B || dims[1] !== seq || dims[2] !== this.dimension) {
      throw new InferenceError(
        InferenceErrorCode.ModelInvalid,
        `embedding model ${this.dir}: output ${this.outputName} is ${result?.type ?? 'missing'} ${JSON.stringify(dims)}, expected float32 [${B}, ${seq}, ${this.dimension}]`,
      );
    }
    const hidden = result.data as Float32Array;
    // CLS pooling is mean pooling over a mask that keeps only the first position.
    const rowMask = (b: number): number[] => (this.pooling === 'cls' ? [1] : mask.slice(b * seq, (b + 1) * seq));
    return batch.map((_, b) => meanPoolNormalized(hidden, b, seq, this.dimension, rowMask(b)));
  }
}
