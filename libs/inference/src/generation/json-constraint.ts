// Structured output: a token constraint that lets the sampler choose only tokens keeping the
// answer a prefix of a document of the schema (json-schema.grammar.ts), and, as the token
// budget runs out, only tokens that leave room to finish it. The answer is then a complete
// document whenever generation is not cut short from outside (abort, context full).
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { TextTokenizer } from '../tokenizer/text-tokenizer';
import { completion, shortestCompletion } from './json-schema.completion';
import { advance, Frame, initialStacks, SchemaNode, Stack } from './json-schema.grammar';
import { buildVocabTrie, VocabTrie } from './vocab-trie';

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

/** A vocabulary as a decoding step reads it: each token's own text (special tokens: '') and their trie. */
export interface Vocabulary {
  texts: readonly string[];
  trie: VocabTrie;
}

const vocabularies = new WeakMap<TextTokenizer, Vocabulary>();

/** The tokenizer's vocabulary (texts and trie), built once per tokenizer and size. */
export function vocabularyOf(tokenizer: TextTokenizer, size: number): Vocabulary {
  let vocab = vocabularies.get(tokenizer);
  if (!vocab || vocab.texts.length < size) {
    const texts = Array.from({ length: size }, (_, id) => tokenizer.decode([id], true));
    vocab = { texts, trie: buildVocabTrie(texts) };
    vocabularies.set(tokenizer, vocab);
  }
  return vocab;
}

type StrFrame = Extract<Frame, { t: 'str' }>;

/**
 * Parse stacks all inside a string value (not a key, not in an escape): an ordinary character
 * only lengthens each string, so a run of them is counted instead of fed (ADR 0205).
 * `rest[i]`: completion length of stack i beyond its string's padding and closing quote.
 */
interface FreeText {
  stacks: Stack[];
  tops: StrFrame[];
  rest: number[];
  bounded: boolean;
}

function freeText(stacks: Stack[], withCompletion: boolean): FreeText | null {
  const tops: StrFrame[] = [];
  for (const st of stacks) {
    const top = st[st.length - 1];
    if (!top || top.t !== 'str' || top.esc !== 0 || top.key !== null) return null;
    tops.push(top);
  }
  const rest = withCompletion ? stacks.map((st, i) => completion(st).length - Math.max(0, (tops[i].node?.minLength ?? 0) - tops[i].len) - 1) : [];
  return { stacks, tops, rest, bounded: tops.some((t) => t.node?.maxLength != null) };
}

/** A character a string takes as itself (no quote, backslash or control character). */
const plain = (c: string) => c !== '"' && c !== '\\' && c.charCodeAt(0) >= 0x20;

/** The stacks `pending` plain characters after `ft`'s (those whose maxLength allows them): exactly what feeding them gives. */
function lengthen(ft: FreeText, pending: number): Stack[] {
  const out: Stack[] = [];
  ft.stacks.forEach((st, i) => {
    const top = ft.tops[i];
    if (top.node?.maxLength != null && top.len + pending > top.node.maxLength) return;
    out.push(pending === 0 ? st : [...st.slice(0, -1), { ...top, len: top.len + pending }]);
  });
  return out;
}

export class JsonSchemaConstraint implements TokenConstraint {
  private stacks: Stack[];
  private vocab: Vocabulary | null;

  /** `tokenizer`: the model's (its vocabulary is read on the first step); or the vocabulary itself. */
  constructor(
    private readonly tokenizer: TextTokenizer | Vocabulary,
    root: SchemaNode,
  ) {
    this.stacks = initialStacks(root);
    this.vocab = tokenizer instanceof TextTokenizer ? null : tokenizer;
  }

  private vocabulary(size: number): Vocabulary {
    if (this.tokenizer instanceof TextTokenizer && (!this.vocab || this.vocab.texts.length < size)) this.vocab = vocabularyOf(this.tokenizer, size);
    return this.vocab!;
  }

  get complete(): boolean {
    return this.stacks.some((s) => s.length === 0 || completion(s) === '');
  }

  /** The shortest text that would finish the document now. */
  remaining(): string {
    return shortestCompletion(this.stacks);
  }

  /**
   * Walks the vocabulary's trie with the parse stacks: each node's character is fed once for
   * every token under it, a refused character refuses its whole subtree, and a token is
   * allowed when the stacks after its last character survive (and, near the budget, still
   * leave room for the shortest completion). The same tokens as feeding every token's text
   * from the start (the stacks after a prefix do not depend on what follows it).
   */
  mask(logits: Float32Array, tokensLeft: number): void {
    const { texts, trie } = this.vocabulary(logits.length);
    const { chars, end, tokenStart, tokens, empty } = trie;
    const checkBudget = tokensLeft < BUDGET_CHECK_BELOW;
    for (const id of empty) logits[id] = -Infinity;
    let allowed = 0;
    const refuse = (node: number) => {
      for (let k = tokenStart[node]; k < tokenStart[end[node]]; k++) logits[tokens[k]] = -Infinity;
    };
    const take = (node: number, over: boolean) => {
      for (let k = tokenStart[node]; k < tokenStart[node + 1]; k++) {
        const id = tokens[k];
        if (logits[id] === -Infinity) continue;
        if (over) logits[id] = -Infinity;
        else allowed++;
      }
    };
    /** Inside free text: `pending` plain characters since `ft`'s stacks, not fed yet. */
    const walkFree = (node: number, ft: FreeText, pending: number): void => {
      for (let child = node + 1; child < end[node]; child = end[child]) {
        const c = chars[child];
        if (!plain(c)) {
          const next = advance(lengthen(ft, pending), c);
          if (!next) refuse(child);
          else {
            take(child, checkBudget && tokenStart[child + 1] > tokenStart[child] && shortestCompletion(next).length > tokensLeft);
            walk(child, next);
          }
          continue;
        }
        const p = pending + 1;
        let shortest = Infinity;
        let alive = !ft.bounded;
        for (let i = 0; i < ft.tops.length; i++) {
          const top = ft.tops[i];
          if (top.node?.maxLength != null && top.len + p > top.node.maxLength) continue;
          alive = true;
          if (checkBudget) shortest = Math.min(shortest, Math.max(0, (top.node?.minLength ?? 0) - top.len - p) + 1 + ft.rest[i]);
        }
        if (!alive) {
          refuse(child);
          continue;
        }
        take(child, checkBudget && shortest > tokensLeft);
        walkFree(child, ft, p);
      }
    };
    const walk = (node: number, stacks: Stack[]): void => {
      const ft = freeText(stacks, checkBudget);
      if (ft) return walkFree(node, ft, 0);
      for (let child = node + 1; child < end[node]; child = end[child]) {
        const next = advance(stacks, chars[child]);
        if (!next) {
          refuse(child);
          continue;
        }
        take(child, checkBudget && tokenStart[child + 1] > tokenStart[child] && shortestCompletion(next).length > tokensLeft);
        walk(child, next);
      }
    };
    walk(0, this.stacks);
    for (let id = texts.length; id < logits.length; id++) logits[id] = -Infinity; // a vocabulary given shorter than the logits: no text
    if (allowed === 0) {
      throw new InferenceError(
        InferenceErrorCode.InputMismatch,
        `response_format cannot be met: no token of this model's vocabulary continues the answer (${JSON.stringify(this.remaining())} would finish it) within the tokens left; raise max_tokens or simplify the schema`,
      );
    }
  }

  /**
   * The step without the trie: every token's text fed from the stacks (what `mask` did before
   * the index; kept as its reference, and as the baseline `bench:json-constraint` measures).
   */
  maskByScan(logits: Float32Array, tokensLeft: number): void {
    const { texts } = this.vocabulary(logits.length);
    const checkBudget = tokensLeft < BUDGET_CHECK_BELOW;
    for (let id = 0; id < logits.length; id++) {
      if (logits[id] === -Infinity) continue;
      const text = texts[id];
      const next = text ? advance(this.stacks, text) : null;
      if (!next || (checkBudget && shortestCompletion(next).length > tokensLeft)) logits[id] = -Infinity;
    }
  }

  accept(tokenId: number): void {
    const next = advance(this.stacks, this.vocabulary(tokenId + 1).texts[tokenId] ?? '');
    if (!next) throw new InferenceError(InferenceErrorCode.InputMismatch, `token ${tokenId} does not continue the structured answer`);
    this.stacks = next;
  }
}
