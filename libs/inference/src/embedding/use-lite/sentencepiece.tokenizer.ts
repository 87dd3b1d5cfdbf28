// The SentencePiece (unigram) tokenizer of Universal Sentence Encoder Lite, as the TF.js
// reference (@energetic-ai/embeddings, from tfjs-models) runs it: NFKC, "▁" before the
// text and for every space, then a Viterbi pass over the pieces' log-probabilities with
// the reference's own tie-breaking (a later start wins a tie; a first candidate always
// wins over the initial 0), unknown characters → id 0 and runs of unknowns merged.
// One deliberate difference: whitespace runs (newlines, tabs, repeated spaces) become one
// space and the text is trimmed, as SentencePiece's own normaliser does at training time;
// the reference would turn each newline into an unknown piece.

/** Pieces 0..5 are reserved (unknown, <s>, </s>, extra ids) and never matched. */
const RESERVED_PIECES = 6;
const SEPARATOR = '\u2581';
export const UNKNOWN_PIECE = 0;

export type SentencePieceVocabulary = ReadonlyArray<readonly [string, number]>;

export class SentencePieceTokenizer {
  /** Piece text → [score, id]; a later duplicate replaces an earlier one (as the reference's trie does). */
  private readonly pieces = new Map<string, readonly [number, number]>();
  /** Every proper prefix of a piece: the search from a position stops where none continues. */
  private readonly prefixes = new Set<string>();
  private readonly maxPieceChars: number;

  constructor(vocabulary: SentencePieceVocabulary) {
    let longest = 1;
    for (let id = RESERVED_PIECES; id < vocabulary.length; id++) {
      const [piece, score] = vocabulary[id];
      if (!piece) continue;
      this.pieces.set(piece, [score, id]);
      const chars = Array.from(piece);
      longest = Math.max(longest, chars.length);
      for (let k = 1; k < chars.length; k++) this.prefixes.add(chars.slice(0, k).join(''));
    }
    this.maxPieceChars = longest;
  }

  /**
   * Piece ids of one text (no special tokens); with `maxPieces`, only the first ones.
   * No piece holds a "▁" after its first character, so every word starts a piece and the
   * first n pieces lie within the first n words: the text is cut there before the search.
   */
  encode(text: string, maxPieces = Infinity): number[] {
    const normalized = text.normalize('NFKC').replace(/\s+/g, ' ').trim();
    if (!normalized) return [];
    let body = SEPARATOR + normalized.replace(/ /g, SEPARATOR);
    if (Number.isFinite(maxPieces)) {
      let at = 0;
      for (let words = 0; words < maxPieces && at >= 0; words++) at = body.indexOf(SEPARATOR, at + 1);
      if (at > 0) body = body.slice(0, at);
    }
    const symbols = Array.from(body);
    const n = symbols.length;
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + symbols[i].length;
    const best = new Float64Array(n + 1);
    const chosen = new Int32Array(n + 1);
    const chosenLength = new Int32Array(n + 1);
    const relax = (start: number, end: number, score: number, id: number): void => {
      const total = score + best[start];
      if (best[end] === 0 || total >= best[end]) {
        best[end] = total;
        chosen[end] = id;
        chosenLength[end] = end - start;
      }
    };
    // By ascending start, so the candidates of each end arrive in the reference's order.
    for (let start = 0; start < n; start++) {
      let matched = false;
      for (let end = start + 1; end <= Math.min(n, start + this.maxPieceChars); end++) {
        const piece = body.slice(offsets[start], offsets[end]);
        const match = this.pieces.get(piece);
        if (match) {
          matched = true;
          relax(start, end, match[0], match[1]);
        }
        if (!this.prefixes.has(piece)) break;
      }
      // A character no piece starts with becomes the unknown piece (score 0).
      if (!matched) relax(start, start + 1, 0, UNKNOWN_PIECE);
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= chosenLength[at]) reversed.push(chosen[at]);
    const ids: number[] = [];
    for (let i = reversed.length - 1; i >= 0; i--) {
      if (reversed[i] === UNKNOWN_PIECE && ids.length > 0 && ids[ids.length - 1] === UNKNOWN_PIECE) continue;
      ids.push(reversed[i]);
    }
    return ids.length > maxPieces ? ids.slice(0, maxPieces) : ids;
  }
}
