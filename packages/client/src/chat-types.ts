/** OpenAI-compatible chat shapes with engram's `engram` block (the server declares them as interfaces, outside OpenAPI). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  name?: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  stream_options?: { include_usage?: boolean };
  /** A cube's memory in front of the conversation: a cube id or name, and what to put there. */
  engram?: {
    cube: string;
    kvCacheIds?: string[];
    memoryText?: string;
    /** A bank of the cube; absent: the bank of the cube's consolidation policy, if any; null or false: no bank. */
    bankId?: string | null | false;
    /** Memories of the cube relevant to the last turns, put in the prompt (on by default); false turns it off. */
    retrieve?: boolean | { topK?: number; maxTokens?: number; filters?: Record<string, unknown> };
    /** Use the cube's working-memory KV cache (its policy's `activation`) when no kvCacheIds or memoryText are given (default true). */
    workingMemory?: boolean;
  };
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface ChatEngramInfo {
  cubeId: string | null;
  cachedTokens: number;
  tiers: string[];
  kvCacheIds: string[];
  /** Every memory whose text is in the prompt: the working memory's, then the retrieved ones. */
  memoryIds: string[];
  retrieval?: { memoryIds: string[]; tokens: number };
  workingMemory?: {
    cacheId: string | null;
    state: 'ready' | 'stale' | 'building' | 'off' | 'skipped' | 'over_quota';
    hit: boolean;
    tier: string | null;
    memoryIds: string[];
    tokens: number;
    generation: number | null;
    reusedTokens: number;
    prefilledTokens: number;
  };
  /** The bank used or considered: where it came from, whether a block was attached and why not, how it was routed (ADR 0403). */
  bank?: {
    id: string;
    source: 'request' | 'policy';
    used: boolean;
    reason: 'not-consolidated' | 'stale' | 'not-ready' | 'other-model' | 'gone' | null;
    routedBy: 'memory' | 'text' | null;
    memoryId: string | null;
    generation: number;
    path: number[];
    rank: number;
    staleLevels: number[];
    leftOut: Array<{ level: number; why: 'unwritten' | 'not-holding' | 'stale' | 'memory-newer' }>;
  };
  timings: { prefillMs: number; timeToFirstTokenMs: number; decodeTokensPerSecond: number };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: number; message: { role: 'assistant'; content: string }; finish_reason: 'stop' | 'length'; logprobs: null }[];
  usage: ChatUsage;
  engram: ChatEngramInfo;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** Empty on the last chunk of a stream with stream_options.include_usage, which carries the usage. */
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; finish_reason: 'stop' | 'length' | null; logprobs: null }[];
  /** With stream_options.include_usage: null on every chunk but the last. */
  usage?: ChatUsage | null;
  /** On the chunk with the finish_reason. */
  engram?: ChatEngramInfo;
}
