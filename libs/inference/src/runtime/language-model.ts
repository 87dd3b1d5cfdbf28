// A loaded decoder: model directory + tokenizer + ONNX session. forward() is one graph
// run; prefill() runs a prompt in bounded chunks; step() is a decode step whose KV stays
// where the provider put it (ResidentKv); probe() runs the first layers only (kv-blend).
// Generation lives in generation/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildLlamaGraph,
  DEFAULT_MEMORY_SLOTS,
  LLAMA_GRAPH_REVISION,
  PAST_POSITION_IDS,
  pastKeyName,
  pastValueName,
  presentKeyName,
  presentValueName,
  PROBE_KEY,
  PROBE_VALUE,
} from '../graph/llama-graph.builder';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import type { LlamaConfig } from '../model/model-config';
import { loadModelWeights, ModelDirectory, openModelDirectory } from '../model/model-directory';
import { encodeOnnxModel } from '../onnx/onnx-model.encoder';
import { writeOnnxModel } from '../onnx/onnx-model.writer';
import { TextTokenizer } from '../tokenizer/text-tokenizer';
import { EMPTY_MEMORY_RANK, FUSED_ATTENTION, MEMORY_SLOTS, OUTPUT_LOCATION } from './execution-providers';
import { emptyKv, KvState } from './kv-state';
import { DecoderSession, Feed, OnnxSessionRegistry, SessionOptions } from './onnx-session.registry';
import { ResidentKv } from './resident-kv';
import { AttachedMemory, memoryFeeds, memoryInputName } from './memory-feeds';
import { floatTensor, HostTensor, int64Tensor } from './tensor';

export interface ForwardInput {
  inputIds: readonly number[];
  /** Past KV (its length sets the positions of inputIds unless positionIds is given). */
  past?: KvState;
  positionIds?: readonly number[];
  /**
   * Position of each past KV entry (default 0..past.seq-1). Only graphs with a
   * `past_position_ids` input (engram's own) take other values: the causal mask then
   * compares positions, so past entries may come in any order.
   */
  pastPositionIds?: readonly number[];
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
  /**
   * Attention as one fused node per layer or as standard ops (same maths; ADR 0407).
   * Default by provider (`FUSED_ATTENTION`); a head dimension that is not a multiple of 8
   * always gets the standard ops.
   */
  attention?: 'fused' | 'standard';
}

const EXTERNAL_DATA_THRESHOLD = 1.5 * 1024 ** 3;

/** 0..n-1 as int64 (a view of a shared, growing buffer: decode steps feed it every token). */
let iotaBuffer = new BigInt64Array(0);
function iota(n: number): BigInt64Array {
  if (iotaBuffer.length < n) {
    iotaBuffer = new BigInt64Array(Math.max(n, 2 * iotaBuffer.length, 1024));
    for (let i = 0; i < iotaBuffer.length; i++) iotaBuffer[i] = BigInt(i);
  }
  return iotaBuffer.subarray(0, n);
}

/** A session that runs the first layers of the model and returns one layer's fresh K/V. */
export type ProbeSessionFactory = (layer: number) => Promise<DecoderSession>;

export interface ProbeOutput {
  /** [kv_heads, seq, head_dim] of the probed layer for the input tokens (keys rotated). */
  key: Float32Array;
  value: Float32Array;
}

export interface StepOutput {
  logits: Float32Array;
  present: ResidentKv;
}

export class LanguageModel {
  readonly config: LlamaConfig;
  readonly fingerprint: string;
  readonly supportsMemory: boolean;
  /** Memory slots of the graph (one per bank level; 0 = no memory inputs). */
  readonly memorySlots: number;
  private readonly feedsPositionIds: boolean;
  /** The graph takes `past_position_ids` (engram graphs): past KV may be re-placed (kv-blend). */
  readonly supportsPastPositions: boolean;
  private readonly probes = new Map<number, Promise<DecoderSession>>();
  /** Memory → its feeds (views of its blocks): the steps of one request attach it once. */
  private readonly memoryFeedCache = new WeakMap<object, Record<string, HostTensor>>();
  private noMemoryFeeds?: Record<string, HostTensor>;

  constructor(
    readonly directory: ModelDirectory,
    readonly tokenizer: TextTokenizer,
    readonly session: DecoderSession,
    private readonly prefillChunk = 512,
    private readonly probeFactory?: ProbeSessionFactory,
  ) {
    this.config = directory.config;
    this.fingerprint = directory.fingerprint;
    let slots = 0;
    while (session.hasInput(memoryInputName(slots, 0, 'gate'))) slots++;
    this.memorySlots = slots;
    this.supportsMemory = slots > 0;
    this.feedsPositionIds = session.hasInput('position_ids');
    this.supportsPastPositions = session.hasInput(PAST_POSITION_IDS);
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

  /** The feeds of one run: tokens, masks, positions and memory; past KV feeds are added by the caller. */
  private tokenFeeds(input: Omit<ForwardInput, 'past'>, P: number, pastLayers = this.config.numLayers): Record<string, Feed> {
    const c = this.config;
    const S = input.inputIds.length;
    if (S === 0) throw new InferenceError(InferenceErrorCode.InputMismatch, 'forward: no input tokens');
    if (P + S > this.maxContext) {
      throw new InferenceError(InferenceErrorCode.ContextOverflow, `${P + S} tokens exceed the model's context length of ${this.maxContext}`);
    }
    for (const id of input.inputIds) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InferenceError(InferenceErrorCode.InputMismatch, `token id ${id} outside vocabulary [0, ${c.vocabSize})`);
    }
    const feeds: Record<string, Feed> = {
      input_ids: int64Tensor(input.inputIds, [1, S]),
      attention_mask: int64Tensor(new BigInt64Array(P + S).fill(1n), [1, P + S]),
    };
    if (input.positionIds && input.positionIds.length !== S) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `positionIds has ${input.positionIds.length} entries for ${S} tokens`);
    }
    if (this.feedsPositionIds) feeds.position_ids = int64Tensor(input.positionIds ?? iota(P + S).subarray(P).slice(), [1, S]);
    if (input.pastPositionIds) {
      if (!this.supportsPastPositions) throw new InferenceError(InferenceErrorCode.InputMismatch, `model ${this.directory.dir} takes no past positions (an ONNX export?)`);
      if (input.pastPositionIds.length !== P) throw new InferenceError(InferenceErrorCode.InputMismatch, `pastPositionIds has ${input.pastPositionIds.length} entries for ${P} past tokens`);
    }
    if (this.supportsPastPositions) feeds[PAST_POSITION_IDS] = int64Tensor(input.pastPositionIds ?? iota(P), [1, P]);
    if (input.memory && !this.supportsMemory) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `model ${this.directory.dir} has no memory inputs (an ONNX export?)`);
    }
    if (this.supportsMemory && pastLayers === c.numLayers) Object.assign(feeds, this.attach(input.memory));
    return feeds;
  }

  private hostPastFeeds(past: KvState, layers = this.config.numLayers): Record<string, HostTensor> {
    const c = this.config;
    const feeds: Record<string, HostTensor> = {};
    for (let l = 0; l < layers; l++) {
      feeds[pastKeyName(l)] = floatTensor(past.layers[l].key, [1, c.numKvHeads, past.seq, c.headDim]);
      feeds[pastValueName(l)] = floatTensor(past.layers[l].value, [1, c.numKvHeads, past.seq, c.headDim]);
    }
    return feeds;
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const c = this.config;
    const past = input.past ?? this.emptyKv();
    this.checkKv(past);
    const S = input.inputIds.length;
    const P = past.seq;
    const feeds = { ...this.tokenFeeds(input, P), ...this.hostPastFeeds(past) };
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
   * One decode step whose present KV stays where the provider put it (GPU memory on
   * WebGPU; host tensors on the CPU, same code path): the next step feeds it back without
   * a copy. The caller disposes `past` once it is replaced (generate() does).
   */
  async step(input: { inputIds: readonly number[]; past?: KvState | ResidentKv; memory?: AttachedMemory }): Promise<StepOutput> {
    const c = this.config;
    const past = input.past ?? this.emptyKv();
    let pastFeeds: Record<string, Feed>;
    if (past instanceof ResidentKv) {
      if (past.session !== this.session) throw new InferenceError(InferenceErrorCode.InputMismatch, 'resident KV of another model session');
      pastFeeds = past.pastFeeds();
    } else {
      this.checkKv(past);
      pastFeeds = this.hostPastFeeds(past);
    }
    const P = past.seq;
    const S = input.inputIds.length;
    const feeds = { ...this.tokenFeeds({ inputIds: input.inputIds, memory: input.memory }, P), ...pastFeeds };
    const keep = new Set<string>();
    for (let l = 0; l < c.numLayers; l++) keep.add(presentKeyName(l)).add(presentValueName(l));
    const out = await this.session.runKeeping(feeds, keep);
    const V = c.vocabSize;
    const all = out.host.logits.data as Float32Array;
    return { logits: all.length === V ? all : all.slice((S - 1) * V, S * V), present: new ResidentKv(this.session, P + S, c.numLayers, c.numKvHeads, c.headDim, out.device) };
  }

  /**
   * Runs layers 0..layer-1 over `tokens` after `past` (its first `layer` layers are used)
   * and returns layer `layer`'s fresh K/V of the tokens: what CacheBlend compares cached
   * KV against to pick the tokens to recompute. Engram graphs only (needs the weights).
   */
  async probe(tokens: readonly number[], layer: number, options: { past?: KvState; positionIds?: readonly number[]; pastPositionIds?: readonly number[] } = {}): Promise<ProbeOutput> {
    if (!this.probeFactory) throw new InferenceError(InferenceErrorCode.InputMismatch, `model ${this.directory.dir} has no probe graph (an ONNX export?)`);
    let session = this.probes.get(layer);
    if (!session) {
      session = this.probeFactory(layer).catch((err: unknown) => {
        this.probes.delete(layer);
        throw err;
      });
      this.probes.set(layer, session);
    }
    const past = options.past ?? this.emptyKv();
    this.checkKv(past);
    const feeds = { ...this.tokenFeeds({ inputIds: tokens, positionIds: options.positionIds, pastPositionIds: options.pastPositionIds }, past.seq, layer), ...this.hostPastFeeds(past, layer) };
    const out = await (await session).run(feeds);
    return { key: out[PROBE_KEY].data as Float32Array, value: out[PROBE_VALUE].data as Float32Array };
  }

  /**
   * The memory feeds of a forward pass: views of the memory's blocks, built on its first
   * use and reused by every later step that passes the same memory object.
   */
  attach(memory: AttachedMemory | undefined): Record<string, HostTensor> {
    const c = this.config;
    const emptyRank = EMPTY_MEMORY_RANK[this.session.provider];
    if (!memory) return (this.noMemoryFeeds ??= memoryFeeds(undefined, this.memorySlots, c.numLayers, c.hiddenSize, emptyRank));
    let feeds = this.memoryFeedCache.get(memory);
    if (!feeds) {
      feeds = memoryFeeds(memory, this.memorySlots, c.numLayers, c.hiddenSize, emptyRank);
      this.memoryFeedCache.set(memory, feeds);
    }
    return feeds;
  }

  /** Whether the session keeps KV on a device (a GPU provider): prefill through resident steps there. */
  get keepsKvOnDevice(): boolean {
    return OUTPUT_LOCATION[this.session.provider] !== 'cpu';
  }

  private checkPrompt(pastSeq: number, tokens: readonly number[]): void {
    if (pastSeq + tokens.length > this.maxContext) {
      throw new InferenceError(
        InferenceErrorCode.ContextOverflow,
        `prompt of ${pastSeq + tokens.length} tokens exceeds the model's context length of ${this.maxContext}`,
      );
    }
    if (tokens.length === 0) throw new InferenceError(InferenceErrorCode.InputMismatch, 'prefill: no tokens');
  }

  /**
   * Runs a prompt after `past` in chunks, its KV left where the provider puts it (on a GPU:
   * on the device, never read back); the caller disposes `present`. What generate() decodes
   * from on a GPU provider.
   */
  async prefillResident(tokens: readonly number[], options: { past?: KvState; memory?: AttachedMemory } = {}): Promise<StepOutput> {
    const past = options.past ?? this.emptyKv();
    this.checkPrompt(past.seq, tokens);
    let kv: KvState | ResidentKv = past;
    let out: StepOutput | undefined;
    try {
      for (let i = 0; i < tokens.length; i += this.prefillChunk) {
        out = await this.step({ inputIds: tokens.slice(i, i + this.prefillChunk), past: kv, memory: options.memory });
        if (kv instanceof ResidentKv) kv.dispose();
        kv = out.present;
      }
    } catch (err) {
      if (kv instanceof ResidentKv) kv.dispose(); // a chunk failed: free the device KV of the ones before it
      throw err;
    }
    return out!;
  }

  /** Runs a prompt after `past` in chunks; returns the last position's logits and the KV. */
  async prefill(tokens: readonly number[], options: { past?: KvState; memory?: AttachedMemory } = {}): Promise<ForwardOutput> {
    let past = options.past ?? this.emptyKv();
    this.checkPrompt(past.seq, tokens);
    if (this.keepsKvOnDevice && tokens.length > this.prefillChunk) {
      // On a GPU the KV stays on the device between chunks and comes back once, at the end
      // (each read-back is a GPU sync; chunk by chunk through the host it is two per chunk).
      const { logits, present } = await this.prefillResident(tokens, options);
      try {
        return { logits, present: await present.toHost() };
      } finally {
        present.dispose();
      }
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
  let session: DecoderSession;
  let probeFactory: ProbeSessionFactory | undefined;
  if (directory.format === 'onnx') {
    session = await registry.acquire({ key: directory.fingerprint, path: directory.weightFiles[0] }, options);
  } else {
    const compiledDir = options.compiledDir ?? join(dir, '.engram');
    // The graph revision and form are part of the name: a graph compiled by an older builder,
    // or for another provider's form, is not reused.
    const provider = options.provider ?? 'cpu';
    const memorySlots = MEMORY_SLOTS[provider];
    const fused = (options.attention ?? (FUSED_ATTENTION[provider] ? 'fused' : 'standard')) === 'fused' && directory.config.headDim % 8 === 0;
    const variant = `${memorySlots === DEFAULT_MEMORY_SLOTS ? '' : `.m${memorySlots}`}${fused ? '' : '.sa'}`;
    const key = `${directory.fingerprint}${variant}`;
    const graphOptions = { pastPositions: true, fusedAttention: fused };
    const compiled = join(compiledDir, `${directory.fingerprint.slice(0, 16)}.g${LLAMA_GRAPH_REVISION}${variant}.onnx`);
    session = await registry.acquire(
      {
        key,
        build: () => {
          if (existsSync(compiled)) return undefined;
          const weights = loadModelWeights(directory);
          const model = buildLlamaGraph(directory.config, weights, { ...graphOptions, memorySlots }).model({ fingerprint: directory.fingerprint });
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
    // Probe graphs hold only the first layers' weights: built in memory, on first use.
    probeFactory = (layer) =>
      registry.acquire(
        { key: `${key}#probe${layer}`, build: () => encodeOnnxModel(buildLlamaGraph(directory.config, loadModelWeights(directory), { ...graphOptions, probeLayer: layer }).model()) },
        options,
      );
  }
  return new LanguageModel(directory, tokenizer, session, options.prefillChunk ?? 512, probeFactory);
}
