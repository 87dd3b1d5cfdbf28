// Trains a small byte-level BPE (GPT-2 style) and emits an HF tokenizer.json.

/** GPT-2's reversible byte → printable unicode mapping used by ByteLevel pre-tokenizers. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i])));
  return table;
}

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface BpeModel {
  vocab: Record<string, number>;
  merges: string[];
}

/** Learns `numMerges` merges over the words of `corpus`; ids 0..255 are the byte symbols. */
export function trainByteLevelBpe(corpus: string, numMerges: number): BpeModel {
  const table = bytesToUnicode();
  const vocab: Record<string, number> = {};
  table.forEach((ch, i) => (vocab[ch] = i));
  const counts = new Map<string, number>();
  for (const word of corpus.match(GPT2_SPLIT) ?? []) {
    const mapped = [...Buffer.from(word, 'utf8')].map((b) => table[b]).join('\u0000');
    counts.set(mapped, (counts.get(mapped) ?? 0) + 1);
  }
  let words = [...counts.entries()].map(([w, c]) => ({ symbols: w.split('\u0000'), count: c }));
  const merges: string[] = [];
  let nextId = 256;
  while (merges.length < numMerges) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best = '';
    let bestCount = 0;
    for (const [pair, c] of pairs) if (c > bestCount || (c === bestCount && pair < best)) [best, bestCount] = [pair, c];
    if (!best) break;
    const [a, b] = best.split(' ');
    const merged = a + b;
    merges.push(best);
    if (!(merged in vocab)) vocab[merged] = nextId++;
    words = words.map(({ symbols, count }) => {
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(symbols[i]);
      }
      return { symbols: out, count };
    });
  }
  return { vocab, merges };
}

export function tokenizerJson(bpe: BpeModel, specialTokens: readonly string[]): { json: Record<string, unknown>; specialIds: Record<string, number> } {
  const vocab = { ...bpe.vocab };
  let next = Math.max(...Object.values(vocab)) + 1;
  const specialIds: Record<string, number> = {};
  const added = specialTokens.map((content) => {
    const id = next++;
    vocab[content] = id;
    specialIds[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  return {
    specialIds,
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: bpe.merges,
      },
    },
  };
}
