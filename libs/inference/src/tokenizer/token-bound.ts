// How many characters of input one token can stand for at most, read from tokenizer.json, so
// that a text far beyond a model's context is refused from its length alone: tokenizing it
// (pure JavaScript, ~3.5 µs a character) would hold the event loop for seconds (ADR 0515).

/** Normalizers that compose characters at most a few to one; `slack` covers them. None drops text. */
const NORMALIZERS = new Set(['NFC', 'NFD', 'NFKC', 'NFKD', 'Prepend', 'Replace', 'Lowercase', 'Sequence']);
/** Pre-tokenizers that keep every character (Whitespace and BertPreTokenizer drop spaces: no bound). */
const PRE_TOKENIZERS = new Set(['ByteLevel', 'Metaspace', 'Split', 'Digits', 'Punctuation', 'UnicodeScripts', 'Sequence']);
/** Characters a normalizer may fold into one (NFC: a base and its combining marks, Hangul jamo). */
const NORMALIZER_SLACK = 4;

type Json = Record<string, unknown>;

/** Whether a component and the ones it holds (a Sequence) are all of `allowed` and drop no text. */
function keepsText(component: unknown, allowed: ReadonlySet<string>, list: 'normalizers' | 'pretokenizers'): boolean {
  if (component === null || component === undefined) return true;
  const c = component as Json;
  if (typeof c.type !== 'string' || !allowed.has(c.type)) return false;
  if (c.type === 'Replace' && (c.content === '' || typeof c.content !== 'string')) return false; // replaced by nothing: dropped
  if (c.type === 'Split' && c.behavior === 'Removed') return false;
  if (c.type === 'Sequence') return Array.isArray(c[list]) && (c[list] as unknown[]).every((inner) => keepsText(inner, allowed, list));
  return true;
}

/** The longest text, in UTF-16 code units, a token of the vocabulary covers (its key: a byte-level key has one character per byte). */
function longestToken(json: Json): number {
  const model = json.model as Json | undefined;
  // Unknown characters fused into one <unk> (BPE with fuse_unk, Unigram) make a token of any length, unless bytes stand in for them.
  if ((model?.fuse_unk === true || model?.type === 'Unigram') && model?.byte_fallback !== true) return Infinity;
  const vocab = model?.vocab;
  let keys: string[];
  if (Array.isArray(vocab)) keys = vocab.map((entry) => (Array.isArray(entry) ? String(entry[0]) : '')); // Unigram: [piece, score]
  else if (vocab && typeof vocab === 'object') keys = Object.keys(vocab);
  else return Infinity;
  if (keys.length === 0) return Infinity;
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]).map((t) => String(t.content ?? '')) : [];
  let longest = 1;
  for (const k of [...keys, ...added]) if (k.length > longest) longest = k.length;
  return longest;
}

/**
 * At most how many characters of input one token covers, for a tokenizer.json whose
 * normalizer and pre-tokenizer drop no text; Infinity (no bound) for any other tokenizer.
 */
export function maxCharsPerToken(tokenizerJson: Json): number {
  if (!keepsText(tokenizerJson.normalizer, NORMALIZERS, 'normalizers') || !keepsText(tokenizerJson.pre_tokenizer, PRE_TOKENIZERS, 'pretokenizers')) return Infinity;
  const longest = longestToken(tokenizerJson);
  return tokenizerJson.normalizer ? longest * NORMALIZER_SLACK : longest;
}
