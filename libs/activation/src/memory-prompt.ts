// Where memory text goes in a chat prompt: as a leading system message. The cache of a
// memory is built over exactly the tokens that message renders to, so the same tokens
// start every conversation rendered with it and the chained-key lookup finds them.
// (Special tokens split the text before BPE, so a rendering that ends with one is a
// token-level prefix of any longer rendering; when a template breaks that, the lookup
// simply finds a shorter prefix and generation stays exact.)
import type { ChatMessage, TextTokenizer } from '@engram/inference';

export type PromptTokenizer = Pick<TextTokenizer, 'encode' | 'applyChatTemplate'>;

export function memoryPrefixTokens(tokenizer: PromptTokenizer, memoryText: string): number[] {
  return tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'system', content: memoryText }], false));
}

export function chatPromptTokens(tokenizer: PromptTokenizer, messages: readonly ChatMessage[], memoryText?: string): number[] {
  const all = memoryText ? [{ role: 'system', content: memoryText }, ...messages] : [...messages];
  return tokenizer.encode(tokenizer.applyChatTemplate(all, true));
}
