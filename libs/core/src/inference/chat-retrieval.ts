// Chat that remembers by itself: the memories of the cube relevant to the last turns are
// searched (the same hybrid search as POST …/search) and rendered as one system message.
import { Injectable } from '@nestjs/common';
import { CubeRecord } from '@engram/persistence';
import { ChatMessageDto, ChatRetrieveDto, DEFAULT_RETRIEVE_MAX_TOKENS, DEFAULT_RETRIEVE_TOP_K } from '../dtos/chat-completion.dto';
import { MAX_TOP_K } from '../dtos/memory.dto';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { AccessRecorder } from '../memories/access-recorder';
import { SearchService } from '../memories/search.service';

/** The query is the end of the conversation: the last user turn whole, and what came before it up to this many characters. */
const MAX_QUERY_CHARS = 1000;
const QUERY_TURNS = 3;
export const RETRIEVED_MEMORY_HEADER = 'Memories that may be relevant:';

export interface RetrievedMemories {
  /** The system message, or null when nothing fitted. */
  message: string | null;
  memoryIds: string[];
  tokens: number;
  /** The search's ranking, best first, with the memories the prompt holds already: what routes a bank by memory (ADR 0403). */
  ranked: string[];
}

export interface RetrievalBudget {
  /** Tokens of a text as the model counts them. */
  countTokens(text: string): number;
  /** A lower bound of countTokens found from the text's length alone (TextTokenizer.fewestTokens): a memory that cannot fit is not tokenized. */
  fewestTokens?(text: string): number;
  /** At most this many tokens, whatever `maxTokens` asks (what the context leaves). */
  available: number;
}

/** The search query of a conversation: its last turns (not the system prompt), newest kept whole. */
export function retrievalQuery(messages: readonly Pick<ChatMessageDto, 'role' | 'content'>[]): string {
  const turns = messages.filter((m) => m.role === 'user' || m.role === 'assistant').slice(-QUERY_TURNS);
  if (turns.length === 0) return messages.map((m) => m.content).join('\n').slice(-MAX_QUERY_CHARS);
  const last = turns[turns.length - 1].content;
  const before = turns.slice(0, -1).map((m) => m.content).join('\n');
  const room = Math.max(0, MAX_QUERY_CHARS - last.length - 1);
  return room > 0 && before ? `${before.slice(-room)}\n${last}` : last;
}

@Injectable()
export class ChatRetrieval {
  constructor(
    private readonly search: SearchService,
    private readonly accesses: AccessRecorder,
  ) {}

  /**
   * The best memories for the conversation that fit the budget, best first, without those
   * already in the prompt (`exclude`: the working memory's or the given caches' sources).
   * Only the memories put in the prompt count as accesses (heat).
   */
  async retrieve(
    cube: CubeRecord,
    changeSeq: number,
    messages: readonly Pick<ChatMessageDto, 'role' | 'content'>[],
    options: ChatRetrieveDto,
    budget: RetrievalBudget,
    exclude: ReadonlySet<string>,
  ): Promise<RetrievedMemories> {
    const limit = Math.min(options.maxTokens ?? DEFAULT_RETRIEVE_MAX_TOKENS, budget.available);
    const query = retrievalQuery(messages);
    const topK = options.topK ?? DEFAULT_RETRIEVE_TOP_K;
    if (limit <= 0 || !/\S/.test(query)) return { message: null, memoryIds: [], tokens: 0, ranked: [] };
    let results;
    try {
      results = await this.search.searchCube(cube, changeSeq, { query, topK: Math.min(MAX_TOP_K, topK + exclude.size), filters: options.filters });
    } catch (error) {
      throw renamedFields(error);
    }
    const lines: string[] = [];
    const ids: string[] = [];
    let tokens = budget.countTokens(RETRIEVED_MEMORY_HEADER);
    for (const r of results) {
      if (ids.length >= topK) break;
      if (exclude.has(r.id)) continue;
      const line = `- ${r.text.replace(/\s*\n\s*/g, ' ')}`;
      // Tokenizing a 32,000-character memory takes ~0.1 s of the event loop: skip the ones too long to fit without it.
      if (budget.fewestTokens && tokens + budget.fewestTokens(line) + 1 > limit) continue;
      const cost = budget.countTokens(line) + 1;
      if (tokens + cost > limit) continue; // a shorter, lower-ranked memory may still fit
      lines.push(line);
      ids.push(r.id);
      tokens += cost;
    }
    // Lines counted one by one can tokenize a little differently joined: count the message itself.
    let message = [RETRIEVED_MEMORY_HEADER, ...lines].join('\n');
    while (ids.length > 0 && (tokens = budget.countTokens(message)) > limit) {
      lines.pop();
      ids.pop();
      message = [RETRIEVED_MEMORY_HEADER, ...lines].join('\n');
    }
    const ranked = results.map((r) => r.id);
    if (ids.length === 0) return { message: null, memoryIds: [], tokens: 0, ranked };
    this.accesses.record(ids);
    return { message, memoryIds: ids, tokens, ranked };
  }
}

/** A bad filter names its field as the request spells it: `engram.retrieve.filters.kind`. */
function renamedFields(error: unknown): unknown {
  if (!(error instanceof EngramError) || error.code !== ErrorCode.ValidationFailed || !Array.isArray(error.details)) return error;
  return EngramError.validation((error.details as { field: string; problems: string[] }[]).map((p) => ({ field: `engram.retrieve.${p.field}`, problems: p.problems })));
}
