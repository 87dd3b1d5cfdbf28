import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { chatPromptTokens } from '@engram/activation';
import { ActivationError, ActivationErrorCode } from '@engram/activation';
import { BlendResult, ChatMessage, InferenceError, InferenceErrorCode, JsonSchemaConstraint, KvState, LanguageModel, memoryRank, sliceKv } from '@engram/inference';
import { CubeRecord, KvCacheRecord, KvCacheRepository, ModelRecord } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import {
  ChatCompletionChunkDto,
  ChatCompletionRequestDto,
  ChatBlendInfoDto,
  ChatCompletionResponseDto,
  ChatEngramInfoDto,
  DEFAULT_RECOMPUTE,
  ChatUsageDto,
} from '../dtos/chat-completion.dto';
import { EngramError } from '../errors/engram.error';
import { RequestContext } from '../services/request-context';
import { BankService, RoutedBankMemory } from '../parametric/bank.service';
import { ActivationStore } from './activation.store';
import { KvHitCounter } from './kv-hit.counter';
import { ChatRetrieval, RetrievedMemories } from './chat-retrieval';
import { workingMemoryFits, workingMemoryInfo, workingMemoryPrefix } from './chat-working-memory';
import { WorkingMemoryService } from './working-memory.service';
import { ModelRuntime } from './model.runtime';
import { ModelService } from './model.service';
import { responseSchema } from './response-format';
import { QuotaService } from '../quotas/quota.service';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';

export interface ChatIo {
  /** Aborted when the client goes away: generation stops at the next token. */
  signal?: AbortSignal;
  /** Streaming (`stream: true`): receives every chunk, in order. */
  onChunk?: (chunk: ChatCompletionChunkDto) => void;
}

interface MemoryPrefix {
  /** Memory texts, rendered as leading system messages in this order. */
  texts: string[];
  /** The cube's own cache whose KV may be reused: the first text's (a KV cache or the working memory). */
  owned: Pick<KvCacheRecord, 'tokenCount' | 'cubeId'> | null;
  /** With kvCacheIds: the cube's caches, in request order. */
  rows: KvCacheRecord[];
  kvCacheIds: string[];
  /** The memories the prefix texts were built from (kept out of retrieval). */
  sourceMemoryIds: string[];
}

const DEFAULT_MAX_TOKENS = 256;
/** The routing context is the end of the conversation: recent turns say what is asked. */
const MAX_ROUTING_CHARS = 4000;

/** The conversation as one text to route through a bank (embedded once per request). */
function conversationText(dto: ChatCompletionRequestDto): string {
  return dto.messages.map((m) => m.content).join('\n').slice(-MAX_ROUTING_CHARS);
}

function bankInfo(bank: RoutedBankMemory): NonNullable<ChatEngramInfoDto['bank']> {
  return {
    id: bank.bankId,
    source: bank.source,
    used: bank.used,
    reason: bank.reason,
    routedBy: bank.routedBy,
    memoryId: bank.memoryId,
    similarity: bank.similarity,
    generation: bank.generation,
    path: bank.path,
    rank: bank.used ? memoryRank(bank.memory) : 0,
    staleLevels: bank.staleLevels,
    leftOut: bank.leftOut,
  };
}

function contextOverflow(what: string, lm: LanguageModel): InferenceError {
  return new InferenceError(InferenceErrorCode.ContextOverflow, `${what} exceeds the model's context length of ${lm.maxContext}`);
}

/**
 * Messages far longer than the model's context are refused from their length, before any
 * tokenizing: a 5 MB conversation took 17 s a tokenization on the event loop (ADR 0515).
 */
function requireRoomForMessages(lm: LanguageModel, dto: ChatCompletionRequestDto): void {
  const chars = dto.messages.reduce((n, m) => n + m.content.length, 0) + (dto.engram?.memoryText?.length ?? 0);
  const fewest = lm.tokenizer.fewestTokens(chars);
  if (fewest > lm.maxContext) throw contextOverflow(`the messages' ${chars} characters (at least ${fewest} tokens)`, lm);
}

/**
 * OpenAI-compatible chat completions over registered models. Memory goes in front of the
 * conversation as leading system messages; when the cube owns a KV cache of the first
 * one, its KV is injected instead of prefilled. The prompt is rendered from the texts in
 * every case, so an answer never depends on what the cache store holds.
 */
@Injectable()
export class ChatCompletionService {
  constructor(
    private readonly access: AccessService,
    private readonly models: ModelService,
    private readonly kvCaches: KvCacheRepository,
    private readonly runtime: ModelRuntime,
    private readonly activation: ActivationStore,
    private readonly banks: BankService,
    private readonly quotas: QuotaService,
    private readonly retrieval: ChatRetrieval,
    private readonly kvHits: KvHitCounter,
    private readonly workingMemory: WorkingMemoryService,
    private readonly policies: LifecyclePolicies,
  ) {}

  async complete(ctx: RequestContext, dto: ChatCompletionRequestDto, io: ChatIo = {}): Promise<ChatCompletionResponseDto> {
    const { cube, changeSeq } = dto.engram ? await this.access.requireCubeWithChangeSeq(ctx.auth, Permission.ModelUse, dto.engram.cubeId) : { cube: null, changeSeq: 0 };
    if (!cube) this.access.requirePermission(ctx.auth, Permission.ModelUse);
    if (dto.engram?.kvCacheIds && dto.engram.memoryText !== undefined) {
      throw EngramError.validation([{ field: 'engram', problems: ['give kvCacheIds or memoryText, not both'] }]);
    }
    const schema = responseSchema(dto.response_format, dto.stop);
    const model = await this.models.resolve(dto.model);
    let memory = await this.memoryPrefix(dto, model);
    let working = cube && memory.texts.length === 0 && dto.engram?.workingMemory !== false ? await this.workingMemory.forChat(cube, model) : null;
    const lm = await this.runtime.load(model);
    requireRoomForMessages(lm, dto);
    // Chat templates know system, user, assistant (and tool): a developer message is the system message.
    const conversation: ChatMessage[] = dto.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: m.content, ...(m.name ? { name: m.name } : {}) }));
    const completionReserve = Math.min(dto.max_completion_tokens ?? dto.max_tokens ?? DEFAULT_MAX_TOKENS, Math.floor(lm.maxContext / 4));
    if (working?.row && !workingMemoryFits(lm, working.row, conversation, completionReserve)) working = { state: 'skipped', row: null };
    if (working?.row) memory = workingMemoryPrefix(working.row);
    const prefix: ChatMessage[] = memory.texts.map((content) => ({ role: 'system', content }));
    const retrieved = cube ? await this.retrieved(cube, changeSeq, dto, lm, prefix, conversation, memory.sourceMemoryIds) : null;
    const messages: ChatMessage[] = [...prefix, ...(retrieved?.message ? [{ role: 'system', content: retrieved.message }] : []), ...conversation];
    const prompt = chatPromptTokens(lm.tokenizer, messages);
    // Over the context is a 400 whatever the tenant's token budget: a 429 would say to retry.
    if (prompt.length > lm.maxContext) throw contextOverflow(`prompt of ${prompt.length} tokens`, lm);
    const tenantId = ctx.auth.kind === 'key' ? ctx.auth.tenantId : null;
    if (tenantId) await this.quotas.requireTokens(tenantId, prompt.length);
    const bank = cube ? await this.chatBank(cube, dto, model, retrieved, memory.sourceMemoryIds) : null;
    const attached = bank?.used ? bank.memory : undefined;
    const startedAt = performance.now();
    const blended = attached ? null : await this.multiCachePrefill(lm, prompt, memory.rows, dto.engram?.recompute ?? DEFAULT_RECOMPUTE);
    const reused = blended ? { prefix: undefined, tiers: blended.tiers } : await this.reusablePrefix(lm, prompt, memory.owned, cube?.tenantId ?? '');
    const tiers = reused.tiers;
    // Blocks act on the tokens after the cube's cached prefix (ADR 0403): its KV is the one made
    // without them — reused where cached, prefilled without them where not — so an answer does
    // not depend on a cache hit. Without a cached prefix the whole prompt runs with the blocks.
    const cachedPrefix = attached && memory.owned ? await this.prefixWithoutBlocks(lm, prompt, reused.prefix, memory.owned.tokenCount) : reused.prefix;
    const extraPrefillMs = performance.now() - startedAt;
    const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    // With include_usage, OpenAI's shape: usage null on every chunk, then one more chunk with empty choices and the usage.
    const withUsage = dto.stream_options?.include_usage === true;
    const chunk = (delta: { role?: 'assistant'; content?: string }, finish: ChatCompletionChunkDto['choices'][0]['finish_reason'] = null): ChatCompletionChunkDto => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: model.name,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(withUsage ? { usage: null } : {}),
    });
    // The role chunk goes out with the first token (or the last chunk), not before the run:
    // until then nothing is sent, so what fails before the answer starts (a prompt beyond the
    // context, a schema the model cannot start) is a plain JSON error with its 4xx status,
    // not a 200 stream that ends in an error event.
    let started = false;
    const emit = io.onChunk
      ? (c: ChatCompletionChunkDto) => {
          if (!started) io.onChunk!(chunk({ role: 'assistant', content: '' }));
          started = true;
          if (!io.signal?.aborted) io.onChunk!(c); // the client may have gone with the role chunk
        }
      : undefined;
    const generation = {
      maxTokens: dto.max_completion_tokens ?? dto.max_tokens ?? DEFAULT_MAX_TOKENS,
      temperature: dto.temperature ?? 1,
      topP: dto.top_p ?? 1,
      seed: dto.seed,
      stop: dto.stop,
      memory: attached,
      constraint: schema ? new JsonSchemaConstraint(lm.tokenizer, schema) : undefined,
      signal: io.signal,
      onToken: emit ? (event: { text: string }) => event.text && emit(chunk({ content: event.text })) : undefined,
    };
    const result = blended
      ? await this.runtime.generateFrom(lm, blended.result, { promptTokens: prompt.length, cachedTokens: blended.result.exactTokens + blended.result.reusedTokens }, { ...generation, startedAt })
      : await this.runtime.generate(lm, prompt, { ...generation, prefix: cachedPrefix });
    if (cachedPrefix && cachedPrefix !== reused.prefix) {
      // Part of the prefix was prefilled here, not reused: count it as such.
      result.usage.cachedTokens = Math.min(result.usage.cachedTokens, reused.prefix?.seq ?? 0);
      result.timings.prefillMs += extraPrefillMs;
      result.timings.timeToFirstTokenMs += extraPrefillMs;
    }
    if (tenantId) await this.quotas.chargeTokens(tenantId, result.usage.promptTokens + result.usage.completionTokens);
    const usage: ChatUsageDto = {
      prompt_tokens: result.usage.promptTokens,
      completion_tokens: result.usage.completionTokens,
      total_tokens: result.usage.promptTokens + result.usage.completionTokens,
      prompt_tokens_details: { cached_tokens: result.usage.cachedTokens },
    };
    const engram: ChatEngramInfoDto = {
      cubeId: dto.engram?.cubeId ?? null,
      cachedTokens: result.usage.cachedTokens,
      tiers: result.usage.cachedTokens > 0 ? tiers : [],
      kvCacheIds: memory.kvCacheIds,
      memoryIds: [...memory.sourceMemoryIds, ...(retrieved?.memoryIds ?? [])],
      ...(retrieved ? { retrieval: { memoryIds: retrieved.memoryIds, tokens: retrieved.tokens } } : {}),
      ...(blended ? { blend: blended.info } : {}),
      ...(working ? { workingMemory: workingMemoryInfo(working, result.usage.promptTokens, result.usage.cachedTokens, tiers) } : {}),
      ...(bank ? { bank: bankInfo(bank) } : {}),
      timings: {
        prefillMs: result.timings.prefillMs,
        timeToFirstTokenMs: result.timings.timeToFirstTokenMs,
        decodeTokensPerSecond: result.timings.decodeTokensPerSecond,
      },
    };
    if (emit) {
      emit({ ...chunk({}, result.finishReason), engram });
      if (withUsage) emit({ ...chunk({}), choices: [], usage });
    }
    return {
      id,
      object: 'chat.completion',
      created,
      model: model.name,
      choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: result.finishReason, logprobs: null }],
      usage,
      engram,
    };
  }

  /**
   * The bank a chat uses (ADR 0403): the one `engram.bankId` names, else the bank of the
   * cube's consolidation policy; `bankId: null` or `false` turns it off. Routed by the
   * search's best memory when retrieval found one, by the conversation otherwise (the policy's
   * bank then abstains below `consolidation.minRouteSimilarity`).
   */
  private async chatBank(cube: CubeRecord, dto: ChatCompletionRequestDto, model: ModelRecord, retrieved: RetrievedMemories | null, inPrefix: string[]): Promise<RoutedBankMemory | null> {
    const requested = dto.engram?.bankId;
    if (requested === null || requested === false) return null;
    const memories = retrieved?.ranked.length ? { best: retrieved.ranked[0], inPrompt: [...inPrefix, ...retrieved.memoryIds] } : null;
    if (requested) return this.banks.routeForChat(cube.id, requested, model, conversationText(dto), memories);
    const { bankId, minRouteSimilarity } = (await this.policies.effective(cube.tenantId, cube.id)).consolidation;
    return bankId ? this.banks.routeForChat(cube.id, bankId, model, conversationText(dto), memories, 'policy', minRouteSimilarity) : null;
  }

  /** The memory texts of the request, and the cube's own cache that may provide their KV. */
  private async memoryPrefix(dto: ChatCompletionRequestDto, model: ModelRecord): Promise<MemoryPrefix> {
    const cubeId = dto.engram?.cubeId;
    if (!cubeId) return { texts: [], owned: null, rows: [], kvCacheIds: [], sourceMemoryIds: [] };
    const ids = dto.engram?.kvCacheIds;
    if (ids) {
      const rows = new Map((await this.kvCaches.getMany(cubeId, ids)).map((r) => [r.id, r]));
      const ordered = ids.map((cacheId) => {
        const row = rows.get(cacheId);
        if (!row) throw EngramError.notFound(`KV cache ${cacheId}`);
        if (row.modelId !== model.id) {
          throw new ActivationError(ActivationErrorCode.FingerprintMismatch, `KV cache ${cacheId} was built for another model; build one for "${model.name}"`);
        }
        return row;
      });
      return { texts: ordered.map((r) => r.text), owned: ordered[0], rows: ordered, kvCacheIds: ids, sourceMemoryIds: [...new Set(ordered.flatMap((r) => r.sourceMemoryIds))] };
    }
    const text = dto.engram?.memoryText;
    if (text === undefined) return { texts: [], owned: null, rows: [], kvCacheIds: [], sourceMemoryIds: [] };
    const owned = await this.kvCaches.findByText(cubeId, model.id, text);
    return { texts: [text], owned, rows: owned ? [owned] : [], kvCacheIds: owned ? [owned.id] : [], sourceMemoryIds: [] };
  }

  /**
   * Memories of the cube relevant to the conversation (unless `engram.retrieve: false`), in
   * the room the context leaves beside the prompt and part of the completion.
   */
  private async retrieved(cube: CubeRecord, changeSeq: number, dto: ChatCompletionRequestDto, lm: LanguageModel, prefix: ChatMessage[], conversation: ChatMessage[], exclude: string[]): Promise<RetrievedMemories | null> {
    const options = dto.engram?.retrieve;
    if (options === false) return null;
    const countTokens = (text: string) => lm.tokenizer.encode(text).length;
    const without = chatPromptTokens(lm.tokenizer, [...prefix, ...conversation]).length;
    // What the template adds around one more system message (its markup), measured with a probe.
    const markup = chatPromptTokens(lm.tokenizer, [...prefix, { role: 'system', content: 'x' }, ...conversation]).length - without - countTokens('x');
    const completion = Math.min(dto.max_completion_tokens ?? dto.max_tokens ?? DEFAULT_MAX_TOKENS, Math.floor(lm.maxContext / 4));
    const budget = { countTokens, fewestTokens: (text: string) => lm.tokenizer.fewestTokens(text.length), available: lm.maxContext - without - markup - completion };
    return this.retrieval.retrieve(cube, changeSeq, dto.messages, options ?? {}, budget, new Set(exclude));
  }

  /**
   * The KV of the prompt's first `tokens` tokens computed without memory blocks: the reused
   * prefix, extended by a prefill without blocks over what the cache did not hold.
   */
  private async prefixWithoutBlocks(lm: LanguageModel, prompt: number[], reused: KvState | undefined, tokens: number): Promise<KvState | undefined> {
    const wanted = Math.min(tokens, prompt.length - 1);
    const have = reused?.seq ?? 0;
    if (have >= wanted) return reused;
    return (await lm.prefill(prompt.slice(have, wanted), { past: reused })).present;
  }

  /**
   * The cached KV of the prompt's start, limited to the tokens of the cube's own cache.
   * Chunks are keyed per tenant (`partition`), so no match can come from another tenant;
   * within a tenant, the limit keeps a cube from reusing what only another cube cached.
   */
  private async reusablePrefix(lm: LanguageModel, prompt: number[], owned: Pick<KvCacheRecord, 'tokenCount' | 'cubeId'> | null, partition: string): Promise<{ prefix?: KvState; tiers: string[] }> {
    if (!owned) return { tiers: [] };
    const hit = await this.activation.prefixFor(lm, prompt, partition);
    const usable = Math.min(hit.cachedTokens, owned.tokenCount);
    const reused: { prefix?: KvState; tiers: string[] } =
      !hit.prefix || usable === 0
        ? { tiers: [] }
        : { prefix: usable === hit.prefix.seq ? hit.prefix : sliceKv(hit.prefix, 0, usable), tiers: hit.tiers.slice(0, Math.ceil(usable / this.activation.chunkTokens)) };
    // Hit rates per cube (ADR 0506): each chunk of the cache found in a tier, or prefilled again.
    this.kvHits.record(owned.cubeId, reused.tiers, Math.ceil(owned.tokenCount / this.activation.chunkTokens) - reused.tiers.length);
    return reused;
  }

  /**
   * Several kvCacheIds (ADR 0204): every cache found in the prompt reuses its KV, the later
   * ones re-rotated to where they now sit, and `recompute` of their tokens recomputed so
   * each attends to the text before it. Null when there is one cache or none, or the model
   * cannot re-place KV (an ONNX export): the first cache is then reused as a prefix only.
   */
  private async multiCachePrefill(lm: LanguageModel, prompt: number[], rows: KvCacheRecord[], recompute: number): Promise<{ result: BlendResult; info: ChatBlendInfoDto; tiers: string[] } | null> {
    if (rows.length < 2 || !lm.supportsPastPositions) return null;
    const { segments, placed, tiers, missedChunks } = await this.activation.segmentsFor(lm, prompt, rows.map((r) => r.entryId));
    this.kvHits.record(rows[0].cubeId, tiers, missedChunks);
    const result = await this.runtime.blendPrefill(lm, prompt, segments, { recompute });
    const byEntry = new Map(rows.map((r) => [r.entryId, r.id]));
    const { exactTokens, reusedTokens, recomputedTokens, prefilledTokens } = result;
    return { result, tiers, info: { recompute, kvCacheIds: placed.map((e) => byEntry.get(e)!), exactTokens, reusedTokens, recomputedTokens, prefilledTokens } };
  }
}
