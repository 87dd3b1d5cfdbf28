// The `activation` section of a cube's lifecycle policy: promotion of its hottest memories
// to a working-memory KV cache of one model (ADR 0402). Parsed beside lifecycle-policy.ts.
import { FieldProblem } from '../errors/engram.error';

export interface ActivationPolicy {
  /** Registered model whose KV the working memory holds; null: no working memory. */
  model: string | null;
  /** Prompt tokens of the working memory (its rendered system message), at most. */
  maxTokens: number;
  /** A change waits this long before the rebuild, so a burst of writes costs one. */
  debounceMs: number;
}

export const DEFAULT_ACTIVATION_POLICY: ActivationPolicy = { model: null, maxTokens: 1024, debounceMs: 2000 };

export const MAX_WORKING_MEMORY_TOKENS = 32_768;
export const MIN_WORKING_MEMORY_TOKENS = 16;
export const MAX_ACTIVATION_DEBOUNCE_MS = 600_000;

/** Validates the `activation` section of one policy level; problems name their field. */
export function parseActivationPolicy(raw: unknown, problems: FieldProblem[]): Partial<ActivationPolicy> | undefined {
  const problem = (field: string, message: string) => problems.push({ field, problems: [message] });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problem('activation', 'activation must be { model?, maxTokens?, debounceMs? }');
    return undefined;
  }
  const value = raw as Record<string, unknown>;
  const out: Partial<ActivationPolicy> = {};
  for (const key of Object.keys(value)) if (!['model', 'maxTokens', 'debounceMs'].includes(key)) problem(`activation.${key}`, 'unknown field; known: model, maxTokens, debounceMs');
  if (value.model !== undefined) {
    if (value.model === null || (typeof value.model === 'string' && value.model.trim().length > 0 && value.model.length <= 128)) out.model = value.model;
    else problem('activation.model', 'activation.model must be the name of a registered model, or null (no working memory)');
  }
  if (value.maxTokens !== undefined) {
    const n = value.maxTokens;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < MIN_WORKING_MEMORY_TOKENS || n > MAX_WORKING_MEMORY_TOKENS) {
      problem('activation.maxTokens', `activation.maxTokens must be an integer from ${MIN_WORKING_MEMORY_TOKENS} to ${MAX_WORKING_MEMORY_TOKENS}`);
    } else out.maxTokens = n;
  }
  if (value.debounceMs !== undefined) {
    const n = value.debounceMs;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_ACTIVATION_DEBOUNCE_MS) {
      problem('activation.debounceMs', `activation.debounceMs must be an integer from 0 to ${MAX_ACTIVATION_DEBOUNCE_MS}`);
    } else out.debounceMs = n;
  }
  return out;
}
