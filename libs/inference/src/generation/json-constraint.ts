// Structured output: a token constraint that lets the sampler choose only tokens keeping the
// answer a prefix of a document of the schema (json-schema.grammar.ts), and, as the token
// budget runs out, only tokens that leave room to finish it. The answer is then a complete
// document whenever generation is not cut short from outside (abort, context full).
import { InferenceError, InferenceErrorCode } from '../inference.error';
import type { TextTokenizer } from '../tokenizer/text-tokenizer';
import { completion, shortestCompletion } from './json-schema.completion';
import { advance, initialStacks, SchemaNode, Stack } from './json-schema.grammar';

/** Restricts which token may come next; generate() consults it every step. */
export interface TokenConstraint {
  /** Sets the logits of refused tokens to -Infinity; `tokensLeft`: how many may follow this one. */
  mask(logits: Float32Array, tokensLeft: number): void;
  accept(tokenId: number): void;
  /** The answer so far is a whole document: generation ends here. */
  readonly complete: boolean;
}

/** Above this many tokens left, one token cannot open more than the budget can close. */
const BUDGET_CHECK_BELOW = 1024;

const textTables = new WeakMap<TextTokenizer, string[]>();

/** Each token's own text (special tokens: ''), computed once per tokenizer. */
function tokenTexts(tokenizer: TextTokenizer, vocab: number): string[] {
  let table = textTables.get(tokenizer);
  if (!table || table.length < vocab) {
    table = Array.from({ length: vocab }, (_, id) => tokenizer.decode([id], true));
    textTables.set(tokenizer, table);
  }
  return table;
}

export class JsonSchemaConstraint implements TokenConstraint {
  private stacks: Stack[];
  private texts: string[] | null = null;

  constructor(
    private readonly tokenizer: TextTokenizer,
    root: SchemaNode,
  ) {
    this.stacks = initialStacks(root);
  }

  get complete(): boolean {
    return this.stacks.some((s) => s.length === 0 || completion(s) === '');
  }

  /** The shortest text that would finish the document now. */
  remaining(): string {
    return shortestCompletion(this.stacks);
  }

  mask(logits: Float32Array, tokensLeft: number): void {
    const texts = (this.texts ??= tokenTexts(this.tokenizer, logits.length));
    const checkBudget = tokensLeft < BUDGET_CHECK_BELOW;
    let allowed = 0;
    for (let id = 0; id < logits.length; id++) {
      if (logits[id] === -Infinity) continue;
      const text = texts[id];
      const next = text ? advance(this.stacks, text) : null;
      if (!next || (checkBudget && shortestCompletion(next).length > tokensLeft)) logits[id] = -Infinity;
      else allowed++;
    }
    if (allowed === 0) {
      throw new InferenceError(
        InferenceErrorCode.InputMismatch,
        `response_format cannot be met: no token of this model's vocabulary continues the answer (${JSON.stringify(this.remaining())} would finish it) within the tokens left; raise max_tokens or simplify the schema`,
      );
    }
  }

  accept(tokenId: number): void {
    const texts = this.texts ?? tokenTexts(this.tokenizer, tokenId + 1);
    const next = advance(this.stacks, texts[tokenId] ?? '');
    if (!next) throw new InferenceError(InferenceErrorCode.InputMismatch, `token ${tokenId} does not continue the structured answer`);
    this.stacks = next;
  }
}
