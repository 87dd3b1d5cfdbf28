// Tokenizer (tokenizer.json via @huggingface/tokenizers) and chat template
// (tokenizer_config.json via @huggingface/jinja) of a model directory.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { maxCharsPerToken } from './token-bound';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content: string;
}

function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly eosTokenIds: readonly number[];
  /** At most how many characters of input one token covers (Infinity: this tokenizer gives no bound; token-bound.ts). */
  readonly maxCharsPerToken: number;

  constructor(tokenizerJson: Record<string, unknown>, private readonly config: Record<string, unknown>, extraEosIds: readonly number[] = []) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (err) {
      throw new InferenceError(InferenceErrorCode.ModelInvalid, `tokenizer.json could not be loaded: ${(err as Error).message}`, { cause: err });
    }
    this.maxCharsPerToken = maxCharsPerToken(tokenizerJson);
    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    const ids = new Set<number>(extraEosIds);
    const eosId = this.eosToken ? this.tokenizer.token_to_id(this.eosToken) : undefined;
    if (eosId !== undefined) ids.add(eosId);
    this.eosTokenIds = [...ids];
    const raw = config.chat_template;
    const source = typeof raw === 'string' ? raw : Array.isArray(raw) ? (raw as { name: string; template: string }[]).find((t) => t.name === 'default')?.template : undefined;
    try {
      this.template = source ? new Template(source) : null;
    } catch (err) {
      throw new InferenceError(InferenceErrorCode.ModelInvalid, `chat_template does not parse: ${(err as Error).message}`, { cause: err });
    }
  }

  encode(text: string, addSpecialTokens = false): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** A lower bound on the tokens of a text of `chars` characters, found without tokenizing it (0 when the tokenizer gives none). */
  fewestTokens(chars: number): number {
    return Number.isFinite(this.maxCharsPerToken) ? Math.ceil(chars / this.maxCharsPerToken) : 0;
  }

  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    if (!this.template) throw new InferenceError(InferenceErrorCode.ModelInvalid, 'tokenizer_config.json has no chat_template');
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
    });
  }
}
