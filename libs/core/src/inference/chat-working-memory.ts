// How chat uses a cube's working memory (ADR 0402): its text goes first, as the memory
// prefix the cache was built over, and the response says what was reused.
import { chatPromptTokens } from '@engram/activation';
import type { ChatMessage, LanguageModel } from '@engram/inference';
import { WorkingMemoryRecord } from '@engram/persistence';
import { ChatWorkingMemoryInfoDto } from '../dtos/chat-completion.dto';
import { WorkingMemoryForChat } from './working-memory.service';

const TIER_ORDER = ['ram', 'disk', 'object'];

/** The prefix of a chat from the working memory: its text, the tokens its KV may cover, its memories. */
export function workingMemoryPrefix(row: WorkingMemoryRecord): { texts: string[]; owned: { tokenCount: number; cubeId: string }; rows: []; kvCacheIds: string[]; sourceMemoryIds: string[] } {
  return { texts: [row.text], owned: { tokenCount: row.tokenCount, cubeId: row.cubeId }, rows: [], kvCacheIds: [], sourceMemoryIds: [...row.sourceMemoryIds] };
}

/** Whether the working memory leaves room for this conversation and part of the completion; else chat goes without it. */
export function workingMemoryFits(lm: Pick<LanguageModel, 'tokenizer' | 'maxContext'>, row: WorkingMemoryRecord, conversation: ChatMessage[], completionReserve: number): boolean {
  return chatPromptTokens(lm.tokenizer, [{ role: 'system', content: row.text }, ...conversation]).length + completionReserve <= lm.maxContext;
}

/** hit: some of its KV came from the store; tier: the slowest tier a reused chunk came from. */
export function workingMemoryInfo(working: WorkingMemoryForChat, promptTokens: number, cachedTokens: number, tiers: readonly string[]): ChatWorkingMemoryInfoDto {
  const row = working.row;
  const reused = row ? Math.min(cachedTokens, row.tokenCount) : 0;
  const slowest = tiers.reduce<string | null>((worst, t) => (worst === null || TIER_ORDER.indexOf(t) > TIER_ORDER.indexOf(worst) ? t : worst), null);
  return {
    cacheId: row ? row.entryId : null,
    state: working.state,
    hit: reused > 0,
    tier: reused > 0 ? slowest : null,
    memoryIds: row ? [...row.sourceMemoryIds] : [],
    tokens: row?.tokenCount ?? 0,
    generation: row?.generation ?? null,
    reusedTokens: cachedTokens,
    prefilledTokens: promptTokens - cachedTokens,
  };
}
