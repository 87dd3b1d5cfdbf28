// The generation loop: (optional injected KV prefix) → prefill the rest → sample tokens
// until EOS / a stop token / a stop string / max tokens / the context limit, streaming
// text deltas that never include (part of) a stop string.
import { performance } from 'node:perf_hooks';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import type { ChatMessage } from '../tokenizer/text-tokenizer';
import { KvState, sliceKv } from '../runtime/kv-state';
import type { LanguageModel } from '../runtime/language-model';
import { ResidentKv } from '../runtime/resident-kv';
import type { AttachedMemory } from '../runtime/memory-feeds';
import type { TokenConstraint } from './json-constraint';
import { Sampler, SamplingOptions } from './sampler';

export interface TokenEvent {
  tokenId: number;
  /** Text that became final with this token (may be empty while a stop string is pending). */
  text: string;
}

export interface GenerateOptions extends SamplingOptions {
  maxTokens?: number;
  stop?: readonly string[];
  stopTokenIds?: readonly number[];
  /** Keep generating past EOS (benchmarks). */
  ignoreEos?: boolean;
  /** KV of the first `prefix.seq` prompt tokens (an injected activation-memory cache). */
  prefix?: KvState;
  memory?: AttachedMemory;
  onToken?: (event: TokenEvent) => void;
  signal?: AbortSignal;
  /** Keep the logits that chose each token (tests, exactness checks). */
  keepLogits?: boolean;
  /** Structured output: only tokens it allows are sampled; generation ends when it is complete. */
  constraint?: TokenConstraint;
}

export type FinishReason = 'stop' | 'length';

export interface GenerateResult {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason;
  usage: { promptTokens: number; cachedTokens: number; completionTokens: number };
  timings: { prefillMs: number; timeToFirstTokenMs: number; decodeMs: number; decodeTokensPerSecond: number };
  logits?: Float32Array[];
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new InferenceError(InferenceErrorCode.Aborted, 'generation was cancelled');
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
function pendingStopLength(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
    }
  }
  return best;
}

export async function generate(model: LanguageModel, promptTokens: readonly number[], options: GenerateOptions = {}): Promise<GenerateResult> {
  const start = performance.now();
  throwIfAborted(options.signal);
  if (promptTokens.length === 0) throw new InferenceError(InferenceErrorCode.InputMismatch, 'generate: empty prompt');
  if (promptTokens.length > model.maxContext) {
    throw new InferenceError(
      InferenceErrorCode.ContextOverflow,
      `prompt of ${promptTokens.length} tokens exceeds the model's context length of ${model.maxContext}`,
    );
  }
  // At least the last prompt token is always run, to produce logits.
  let past: KvState | undefined;
  if (options.prefix && options.prefix.seq > 0) {
    const usable = Math.min(options.prefix.seq, promptTokens.length - 1);
    past = usable > 0 ? sliceKv(options.prefix, 0, usable) : undefined;
  }
  const cachedTokens = past?.seq ?? 0;
  // On a GPU provider the prompt's KV stays on the device: decoding needs it there, not back on the host.
  const rest = promptTokens.slice(cachedTokens);
  const prefilled = model.keepsKvOnDevice ? await model.prefillResident(rest, { past, memory: options.memory }) : await model.prefill(rest, { past, memory: options.memory });
  return decode(model, prefilled, start, cachedTokens, promptTokens.length, options);
}

/**
 * Generates from a prefilled prompt (`prefilled`: the last prompt position's logits and
 * the prompt's KV; e.g. from a blended prefill, kv-blend.ts). Decode steps keep the KV
 * where the provider put it (LanguageModel.step).
 */
export async function generateFrom(
  model: LanguageModel,
  prefilled: { logits: Float32Array; present: KvState },
  usage: { promptTokens: number; cachedTokens: number },
  options: GenerateOptions & { startedAt?: number } = {},
): Promise<GenerateResult> {
  if (prefilled.present.seq !== usage.promptTokens) throw new InferenceError(InferenceErrorCode.InputMismatch, `prefilled KV holds ${prefilled.present.seq} tokens, the prompt ${usage.promptTokens}`);
  return decode(model, prefilled, options.startedAt ?? performance.now(), usage.cachedTokens, usage.promptTokens, options);
}

async function decode(
  model: LanguageModel,
  prefilled: { logits: Float32Array; present: KvState | ResidentKv },
  start: number,
  cachedTokens: number,
  promptLength: number,
  options: GenerateOptions,
): Promise<GenerateResult> {
  const maxTokens = options.maxTokens ?? 256;
  const sampler = new Sampler(options);
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const stopIds = new Set([...(options.stopTokenIds ?? []), ...(options.ignoreEos ? [] : model.tokenizer.eosTokenIds)]);
  const prefillMs = performance.now() - start;
  let step: { logits: Float32Array; present: KvState | ResidentKv } = prefilled;
  let resident: ResidentKv | undefined = prefilled.present instanceof ResidentKv ? prefilled.present : undefined;

  const tokenIds: number[] = [];
  const keptLogits: Float32Array[] = [];
  let emitted = 0;
  let text = '';
  let finishReason: FinishReason = 'length';
  let firstTokenAt = 0;
  const decodeStart = performance.now();
  try {
    while (tokenIds.length < maxTokens) {
      throwIfAborted(options.signal);
      const constraint = options.constraint;
      if (options.keepLogits) keptLogits.push(constraint ? step.logits.slice() : step.logits);
      // Tokens that may follow this one: the budget left, and the room left in the context.
      if (constraint) constraint.mask(step.logits, Math.min(maxTokens - tokenIds.length, model.maxContext - step.present.seq) - 1);
      const next = sampler.next(step.logits);
      if (tokenIds.length === 0) firstTokenAt = performance.now();
      if (stopIds.has(next)) {
        finishReason = 'stop';
        break;
      }
      tokenIds.push(next);
      constraint?.accept(next);
      text = model.tokenizer.decode(tokenIds);
      const hit = stops.map((s) => text.indexOf(s, Math.max(0, emitted - s.length))).filter((i) => i >= 0);
      if (hit.length > 0) {
        text = text.slice(0, Math.min(...hit));
        if (text.length > emitted) options.onToken?.({ tokenId: next, text: text.slice(emitted) });
        emitted = text.length;
        finishReason = 'stop';
        break;
      }
      // Hold back a partial stop string and an incomplete UTF-8 sequence.
      let safeEnd = text.length - pendingStopLength(text, stops);
      while (safeEnd > emitted && text.charCodeAt(safeEnd - 1) === 0xfffd) safeEnd--;
      options.onToken?.({ tokenId: next, text: safeEnd > emitted ? text.slice(emitted, safeEnd) : '' });
      emitted = Math.max(emitted, safeEnd);
      if (constraint?.complete) {
        // The structured answer is whole: what was held back is final too.
        if (emitted < text.length) options.onToken?.({ tokenId: next, text: text.slice(emitted) });
        emitted = text.length;
        finishReason = 'stop';
        break;
      }
      if (tokenIds.length >= maxTokens) break;
      if (step.present.seq + 1 > model.maxContext) break; // context full: finish with 'length'
      const out = await model.step({ inputIds: [next], past: step.present, memory: options.memory });
      resident?.dispose();
      resident = out.present;
      step = out;
    }
  } finally {
    resident?.dispose();
  }
  // The text is final: what was held back (a partial stop string, an incomplete UTF-8
  // sequence) is part of the answer, whichever way generation ended.
  if (emitted < text.length) options.onToken?.({ tokenId: tokenIds[tokenIds.length - 1], text: text.slice(emitted) });
  const end = performance.now();
  const decodeMs = end - decodeStart;
  return {
    tokenIds,
    text,
    finishReason,
    usage: { promptTokens: promptLength, cachedTokens, completionTokens: tokenIds.length },
    timings: {
      prefillMs,
      timeToFirstTokenMs: (firstTokenAt || end) - start,
      decodeMs,
      decodeTokensPerSecond: tokenIds.length > 1 ? ((tokenIds.length - 1) * 1000) / Math.max(decodeMs, 1e-6) : 0,
    },
    ...(options.keepLogits ? { logits: keptLogits } : {}),
  };
}

/** Applies the chat template (and an optional memory prefix) and generates. */
export async function generateChat(
  model: LanguageModel,
  messages: readonly ChatMessage[],
  options: GenerateOptions & { prefixTokens?: readonly number[] } = {},
): Promise<GenerateResult> {
  const prompt = model.tokenizer.encode(model.tokenizer.applyChatTemplate(messages, true));
  return generate(model, [...(options.prefixTokens ?? []), ...prompt], options);
}
