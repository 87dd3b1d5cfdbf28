// A tiny BERT-style WordPiece tokenizer.json (lower-casing BertNormalizer, BertPreTokenizer,
// [CLS] A [SEP] template) built from a fixed corpus, so the encoder tests never download one.

export const WORDPIECE_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const PUNCTUATION = '.,;:!?()"\'-';

/** The smallest vocabulary: specials, single characters and their `##` continuations. */
export const WORDPIECE_BASE_SIZE = WORDPIECE_SPECIALS.length + ALPHABET.length * 2 + PUNCTUATION.length;

/**
 * Vocabulary of `size` entries (at least WORDPIECE_BASE_SIZE): the base symbols, then the
 * corpus words by frequency, then frequent `##` suffixes, until the size is reached or
 * the corpus runs out. Returns the tokens in id order.
 */
export function buildWordPieceVocab(corpus: string, size: number): string[] {
  if (size < WORDPIECE_BASE_SIZE) throw new Error(`vocab must be at least ${WORDPIECE_BASE_SIZE}`);
  const tokens: string[] = [...WORDPIECE_SPECIALS, ...PUNCTUATION, ...ALPHABET, ...[...ALPHABET].map((c) => `##${c}`)];
  const seen = new Set(tokens);
  const words = new Map<string, number>();
  for (const w of corpus.toLowerCase().match(/[a-z0-9]+/g) ?? []) words.set(w, (words.get(w) ?? 0) + 1);
  const byCount = (m: Map<string, number>): string[] => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  const suffixes = new Map<string, number>();
  for (const [w, n] of words) for (const len of [2, 3]) if (w.length > len + 1) suffixes.set(`##${w.slice(-len)}`, (suffixes.get(`##${w.slice(-len)}`) ?? 0) + n);
  for (const t of [...byCount(words).filter((w) => w.length > 1), ...byCount(suffixes)]) {
    if (tokens.length >= size) break;
    if (!seen.has(t)) {
      seen.add(t);
      tokens.push(t);
    }
  }
  return tokens;
}

export function wordPieceTokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const id = (t: string): number => vocab.indexOf(t);
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: WORDPIECE_SPECIALS.map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}
