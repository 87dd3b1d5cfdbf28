import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG, LlmEndpointConfig } from '@engram/config';
import { LifecycleRepository } from '@engram/persistence';

export class LlmError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

export type PairRelation = 'duplicate' | 'update' | 'contradiction' | 'independent';

export interface PairVerdict {
  relation: PairRelation;
  /** For a duplicate: the two texts as one. */
  mergedText: string | null;
}

export interface ExtractedFact {
  text: string;
  subject: string;
  predicate: string;
  object: string;
}

const PAIR_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['relation', 'merged_text'],
  properties: {
    relation: { type: 'string', enum: ['duplicate', 'update', 'contradiction', 'independent'] },
    merged_text: { type: ['string', 'null'] },
  },
};

const FACTS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['facts'],
  properties: {
    facts: {
      type: 'array',
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['text', 'subject', 'predicate', 'object'],
        properties: { text: { type: 'string' }, subject: { type: 'string' }, predicate: { type: 'string' }, object: { type: 'string' } },
      },
    },
  },
};

const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * The operator's OpenAI-compatible chat endpoint (ENGRAM_LLM_*), the only outbound LLM
 * call of the lifecycle: JSON-schema-constrained answers, a deadline per call, retries
 * with backoff on timeouts, 5xx and unparsable answers, and a per-tenant daily token
 * budget kept in PostgreSQL (so every worker counts against the same one).
 */
@Injectable()
export class LlmClient {
  constructor(
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
    private readonly lifecycle: LifecycleRepository,
  ) {}

  get configured(): boolean {
    return this.config.llm !== null;
  }

  async classifyPair(tenantId: string, older: string, newer: string): Promise<PairVerdict> {
    const answer = await this.complete(tenantId, 'engram_pair', PAIR_SCHEMA, [
      {
        role: 'system',
        content:
          'You compare two memories of one user. Answer "duplicate" when they state the same thing (then merged_text says it once, keeping every detail), ' +
          '"update" when the newer one replaces a value the older one gave, "contradiction" when they cannot both be true, "independent" otherwise. ' +
          'A different number, date, name or a negation is never a duplicate.',
      },
      { role: 'user', content: JSON.stringify({ older, newer }) },
    ]);
    const relation = answer.relation;
    if (relation !== 'duplicate' && relation !== 'update' && relation !== 'contradiction' && relation !== 'independent') throw new LlmError('the LLM answered an unknown relation', true);
    const merged = typeof answer.merged_text === 'string' && answer.merged_text.trim() ? answer.merged_text.trim().slice(0, 32_000) : null;
    return { relation, mergedText: relation === 'duplicate' ? merged : null };
  }

  async extractFacts(tenantId: string, turns: { role: string; content: string }[]): Promise<ExtractedFact[]> {
    const answer = await this.complete(tenantId, 'engram_facts', FACTS_SCHEMA, [
      {
        role: 'system',
        content:
          'Extract the lasting facts about the user and the people and things they mention from this conversation, each as one short sentence ' +
          'with a triple { subject, predicate, object }. Skip greetings, questions and anything only the assistant said. Answer { "facts": [] } when there are none.',
      },
      { role: 'user', content: turns.map((t) => `${t.role}: ${t.content}`).join('\n') },
    ]);
    if (!Array.isArray(answer.facts)) throw new LlmError('the LLM answer has no facts array', true);
    const facts: ExtractedFact[] = [];
    for (const f of answer.facts.slice(0, 50) as Record<string, unknown>[]) {
      const text = typeof f?.text === 'string' ? f.text.trim() : '';
      const subject = typeof f?.subject === 'string' ? f.subject.trim() : '';
      const predicate = typeof f?.predicate === 'string' ? f.predicate.trim() : '';
      const object = typeof f?.object === 'string' ? f.object.trim() : '';
      if (!text || !subject || !predicate || text.length > 4000 || subject.length > 500 || predicate.length > 500 || object.length > 4000) continue;
      facts.push({ text, subject, predicate, object });
    }
    return facts;
  }

  private endpoint(): LlmEndpointConfig {
    if (!this.config.llm) throw new LlmError('no LLM is configured (ENGRAM_LLM_BASE_URL)', false);
    return this.config.llm;
  }

  private async complete(tenantId: string, schemaName: string, schema: object, messages: { role: string; content: string }[]): Promise<Record<string, unknown>> {
    const llm = this.endpoint();
    const day = new Date().toISOString().slice(0, 10);
    const used = await this.lifecycle.llmTokens(tenantId, day);
    if (used >= llm.tenantDailyTokens) throw new LlmError(`the tenant's LLM token budget for ${day} is spent (${used} of ${llm.tenantDailyTokens})`, false);
    const url = llm.baseUrl.endsWith('/v1') ? `${llm.baseUrl}/chat/completions` : `${llm.baseUrl}/v1/chat/completions`;
    let last: LlmError | null = null;
    for (let attempt = 1; attempt <= llm.maxAttempts; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** (attempt - 2))));
      try {
        const { content, tokens } = await this.call(url, llm, { model: llm.model, temperature: 0, messages, response_format: { type: 'json_schema', json_schema: { name: schemaName, strict: true, schema } } });
        await this.lifecycle.addLlmTokens(tenantId, day, tokens);
        let parsed: unknown;
        try {
          parsed = JSON.parse(content);
        } catch {
          throw new LlmError('the LLM answer is not JSON', true);
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new LlmError('the LLM answer is not a JSON object', true);
        return parsed as Record<string, unknown>;
      } catch (error) {
        last = error instanceof LlmError ? error : new LlmError(`LLM call failed: ${error instanceof Error ? error.message : String(error)}`, true);
        if (!last.retryable) throw last;
      }
    }
    throw last ?? new LlmError('LLM call failed', true);
  }

  private async call(url: string, llm: LlmEndpointConfig, body: object): Promise<{ content: string; tokens: number }> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), llm.timeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(llm.apiKey ? { Authorization: `Bearer ${llm.apiKey}` } : {}) },
        body: JSON.stringify(body),
        redirect: 'error',
        signal: controller.signal,
      });
      const text = await res.text();
      if (text.length > MAX_ANSWER_BYTES) throw new LlmError('the LLM answer is too large', true);
      if (res.status >= 500 || res.status === 429) throw new LlmError(`the LLM endpoint answered ${res.status}`, true);
      if (res.status >= 400) throw new LlmError(`the LLM endpoint answered ${res.status}`, false);
      let payload: { choices?: { message?: { content?: unknown } }[]; usage?: { total_tokens?: unknown } };
      try {
        payload = JSON.parse(text);
      } catch {
        throw new LlmError('the LLM endpoint did not answer JSON', true);
      }
      const content = payload.choices?.[0]?.message?.content;
      if (typeof content !== 'string') throw new LlmError('the LLM answer has no message content', true);
      const tokens = typeof payload.usage?.total_tokens === 'number' ? payload.usage.total_tokens : Math.ceil((JSON.stringify(body).length + content.length) / 4);
      return { content, tokens };
    } catch (error) {
      if (error instanceof LlmError) throw error;
      if (controller.signal.aborted) throw new LlmError(`the LLM endpoint did not answer within ${llm.timeoutMs} ms`, true);
      throw new LlmError(`LLM call failed: ${error instanceof Error ? error.message : String(error)}`, true);
    } finally {
      clearTimeout(timer);
    }
  }
}
