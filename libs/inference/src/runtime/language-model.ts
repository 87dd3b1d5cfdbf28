// A loaded decoder: model directory + tokenizer + ONNX session. forward() is one graph
// run; prefill() runs a prompt in bounded chunks; generation lives in generation/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildLlamaGraph, LLAMA_GRAPH_REVISION, pastKeyName, pastValueName, presentKeyName, presentValueName } from '../graph/llama-graph.builder';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import type { LlamaConfig } from '../model/model-config';
import { loadModelWeights, ModelDirectory, openModelDirectory } from '../model/model-directory';
import { encodeOnnxModel } from '../onnx/onnx-model.encoder';
import { writeOnnxModel } from '../onnx/onnx-model.writer';
import { TextTokenizer } from '../tokenizer/text-tokenizer';
import { emptyKv, KvState } from './kv-state';
import { DecoderSession, OnnxSessionRegistry, SessionOptions } from './onnx-session.registry';
import { AttachedMemory, memoryFeeds, memoryInputName } from './memory-feeds';
import { floatTensor, HostTensor, int64Tensor } from './tensor';

export interface ForwardInput {
  inputIds: readonly number[];
  /** Past KV (its length sets the positions of inputIds unless positionIds is given). */
  past?: KvState;
  positionIds?: readonly number[];
  /** One block or a routed path's blocks; its feeds are built once per memory object (keep it unchanged). */
  memory?: AttachedMemory;
  /** Return logits for every position (default: the last one only). */
  allLogits?: boolean;
}

export interface ForwardOutput {
  /** [rows, vocab] row-major; rows = 1 unless allLogits. */
  logits: Float32Array;
  present: KvState;
}

export interface LoadModelOptions extends SessionOptions {
  /** Where graphs too large for one protobuf are written (default `<dir>/.engram`). */
  compiledDir?: string;
  /** Max tokens per graph run during prefill (bounds attention memory). Default 512. */
  prefillChunk?: number;
}

const EXTERNAL_DATA_THRESHOLD = 1.5 * 1024 ** 3;

export class LanguageModel {
  readonly config: LlamaConfig;
  readonly fingerprint: string;
  readonly supportsMemory: boolean;
  /** Memory slots of the graph (one per bank level; 0 = no memory inputs). */
  readonly memorySlots: number;
  private readonly feedsPositionIds: boolean;
  /** Memory → its feeds (views of its blocks): the steps of one request attach it once. */
  private readonly memoryFeedCache = new WeakMap<object, Record<string, HostTensor>>();
  private noMemoryFeeds?: Record<string, HostTensor>;

  constructor(
    readonly directory: ModelDirectory,
    readonly tokenizer: TextTokenizer,
    readonly session: DecoderSession,
    private readonly prefillChunk = 512,
  ) {
    this.config = directory.config;
    this.fingerprint = directory.fingerprint;
    let slots = 0;
    while (session.hasInput(memoryInputName(slots, 0, 'gate'))) slots++;
    this.memorySlots = slots;
    this.supportsMemory = slots > 0;
    this.feedsPositionIds = session.hasInput('position_ids');
    const missing = ['input_ids', 'attention_mask', pastKeyName(0), pastValueName(0)].filter((n) => !session.hasInput(n));
    const missingOut = ['logits', presentKeyName(0), presentValueName(0)].filter((n) => !session.outputs.some((o) => o.name === n));
    if (missing.length || missingOut.length) {
      throw new InferenceError(
        InferenceErrorCode.ModelInvalid,
        `model ${directory.dir} is not a decoder with KV cache I/O: missing ${[...missing, ...missingOut].join(', ')}`,
      );
    }
  }

  get maxContext(): number {
    return this.config.maxPositionEmbeddings;
  }

  emptyKv(): KvState {
    return emptyKv(this.config.numLayers, this.config.numKvHeads, this.config.headDim);
  }

  private checkKv(kv: KvState): void {
    const c = this.config;
    if (kv.numLayers !== c.numLayers || kv.kvHeads !== c.numKvHeads || kv.headDim !== c.headDim) {
      throw new InferenceError(
        InferenceErrorCode.InputMismatch,
        `KV cache shape (layers ${kv.numLayers}, kv heads ${kv.kvHeads}, head dim ${kv.headDim}) does not fit model ` +
          `(layers ${c.numLayers}, kv heads ${c.numKvHeads}, head dim ${c.headDim})`,
      );
    }
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const c = this.config;
    const past = input.past ?? this.emptyKv();
    this.checkKv(past);
    const S = input.inputIds.length;
    const P = past.seq;
    if (S === 0) throw new InferenceError(InferenceErrorCode.InputMismatch, 'forward: no input tokens');
    if (P + S > this.maxContext) {
      throw new InferenceError(InferenceErrorCode.ContextOverflow, `${P + S} tokens exceed the model's context length of ${this.maxContext}`);
    }
    for (const id of input.inputIds) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InferenceError(InferenceErrorCode.InputMismatch, `token id ${id} outside vocabulary [0, ${c.vocabSize})`);
    }
    const feeds: Record<string, HostTensor> = {
      input_ids: int64Tensor(input.inputIds, [1, S]),
      attention_mask: int64Tensor(new BigInt64Array(P + S).fill(1n), [1, P + S]),
    };
    if (this.feedsPositionIds) feeds.position_ids = int64Tensor(input.positionIds ?? Array.from({ length: S }, (_, i) => P + i), [1, S]);
    for (let l = 0; l < c.numLayers; l++) {
      feeds[pastKeyName(l)] = floatTensor(past.layers[l].key, [1, c.numKvHeads, P, c.headDim]);
      feeds[pastValueName(l)] = floatTensor(past.layers[l].value, [1, c.numKvHeads, P, c.headDim]);
    }
    if (input.memory && !this.supportsMemory) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `model ${this.directory.dir} has no memory inputs (an ONNX export?)`);
    }
    if (this.supportsMemory) Object.assign(feeds, this.attach(input.memory));
    const out = await this.session.run(feeds);
    const present: KvState = { ...this.emptyKv(), seq: P + S, layers: [] };
    for (let l = 0; l < c.numLayers; l++) {
      present.layers.push({ key: out[presentKeyName(l)].data as Float32Array, value: out[presentValueName(l)].data as Float32Array });
    }
    const all = out.logits.data as Float32Array;
    const V = c.vocabSize;
    const logits = input.allLogits ? all : all.slice((S - 1) * V, S * V);
    return { logits, present };
  }

  /**
   * The memory feeds of a forward pass: views of the memory's blocks, built on its first
   * use and reused by every later step that passes the same memory object.
   */
  attach(memory: AttachedMemory | undefined): Record<string, HostTensor> {
    const c = this.config;
    if (!memory) return (this.noMemoryFeeds ??= memoryFeeds(undefined, this.memorySlots, c.numLayers, c.hiddenSize));
    let feeds = this.memoryFeedCache.get(memory);
    if (!feeds) {
      feeds = memoryFeeds(memory, this.memorySlots, c.numLayers, c.hiddenSize);
      this.memoryFeedCache.set(memory, feeds);
    }
    return feeds;
  }

  /** Runs a prompt after `past` in chunks; returns the last position's logits and the KV. */
  async prefill(tokens: readonly number[], options: { past?: KvState; memory?: AttachedMemory } = {}): Promise<ForwardOutput> {
    let past = options.past ?? this.emptyKv();
    if (past.seq + tokens.length > this.maxContext) {
      throw new InferenceError(
        InferenceErrorCode.ContextOverflow,
        `prompt of ${past.seq + tokens.length} tokens exceeds the model's context length of ${this.maxContext}`,
      );
    }
    let last: ForwardOutput | undefined;
    for (let i = 0; i < tokens.length; i += this.prefillChunk) {
      last = await this.forward({ inputIds: tokens.slice(i, i + this.prefillChunk), past, memory: options.memory });
      past = last.present;
    }
    if (!last) throw new InferenceError(InferenceErrorCode.InputMismatch, 'prefill: no tokens');
    return last;
  }
}

/** Loads a model directory (safetensors → engram graph, or an HF/optimum model.onnx export). */
export async function loadLanguageModel(dir: string, registry: OnnxSessionRegistry, options: LoadModelOptions = {}): Promise<LanguageModel> {
  const directory = openModelDirectory(dir);
  const tokenizer = new TextTokenizer(directory.tokenizerJson, directory.tokenizerConfig, directory.config.eosTokenIds);
  const key = `${directory.fingerprint}`;
  let session: DecoderSession;
  if (directory.format === 'onnx') {
    session = await registry.acquire({ key, path: directory.weightFiles[0] }, options);
  } else {
    const compiledDir = options.compiledDir ?? join(dir, '.engram');
    // The graph revision is part of the name: a graph compiled by an older builder is not reused.
    const compiled = join(compiledDir, `${directory.fingerprint.slice(0, 16)}.g${LLAMA_GRAPH_REVISION}.onnx`);
    session = await registry.acquire(
      {
        key,
        build: () => {
          if (existsSync(compiled)) return undefined;
          const weights = loadModelWeights(directory);
          const model = buildLlamaGraph(directory.config, weights).model({ fingerprint: directory.fingerprint });
          const size = model.graph.initializers.reduce((a, t) => a + (t.rawData?.length ?? 0), 0);
          if (size < EXTERNAL_DATA_THRESHOLD) return encodeOnnxModel(model);
          mkdirSync(compiledDir, { recursive: true });
          writeOnnxModel(model, compiled, { external: true });
          return undefined;
        },
        path: compiled,
      },
      options,
    );
  }
  return new LanguageModel(directory, tokenizer, session, options.prefillChunk ?? 512);
}
