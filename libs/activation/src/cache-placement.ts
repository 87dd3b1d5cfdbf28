// Where named caches sit in a prompt rendered from text. Several caches in one request
// are rendered as consecutive system messages, so each cache's tokens (its text rendered
// alone) appear in the prompt in order. A template that opens every rendering with a BOS
// token puts it only once at the prompt's start: such leading tokens are skipped, and the
// segment's KV then starts at position `builtAt` of the cache. A cache not found (the
// template rendered it differently) is not placed: its text is simply prefilled.

export interface CachePlacement {
  index: number;
  /** First prompt position of the placed tokens. */
  start: number;
  /** Cache tokens skipped at its start (its KV rows [builtAt, builtAt + length) are used). */
  builtAt: number;
  length: number;
}

function indexOf(haystack: readonly number[], needle: readonly number[], from: number): number {
  if (needle.length === 0) return -1;
  const first = needle[0];
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Places caches (in order, each after the previous one) in the prompt; `maxSkip` leading tokens may be missing. */
export function placeCaches(prompt: readonly number[], caches: readonly (readonly number[])[], maxSkip = 1): CachePlacement[] {
  const out: CachePlacement[] = [];
  let cursor = 0;
  caches.forEach((tokens, index) => {
    for (let skip = 0; skip <= maxSkip && skip < tokens.length; skip++) {
      const start = indexOf(prompt, tokens.slice(skip), cursor);
      if (start < 0) continue;
      out.push({ index, start, builtAt: skip, length: tokens.length - skip });
      cursor = start + tokens.length - skip;
      return;
    }
  });
  return out;
}
