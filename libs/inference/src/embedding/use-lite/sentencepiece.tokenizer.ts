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
  private readonly maxPieceChars: number;

  constructor(vocabulary: SentencePieceVocabulary) {
    let longest = 1;
    for (let id = RESERVED_PIECES; id < vocabulary.length; id++) {
      const [piece, score] = vocabulary[id];
      if (!piece) continue;
      this.pieces.set(piece, [score, id]);
      longest = Math.max(longest, Array.from(piece).length);
    }
    this.maxPieceChars = longest;
  }

  /** Piece ids of one text (no special tokens). */
  encode(text: string): number[] {
    const normalized = text.normalize('NFKC').replace(/\s+/g, ' ').trim();
    if (!normalized) return [];
    const symbols = Array.from(SEPARATOR + normalized.replace(/ /g, SEPARATOR));
    const n = symbols.length;
    const best = new Float64Array(n + 1);
    const chosen = new Int32Array(n + 1);
    const chosenLength = new Int32Array(n + 1);
    // Candidates ending at `end` are visited by ascending start, as the reference does.
    for (let end = 1; end <= n; end++) {
      const from = Math.max(0, end - this.maxPieceChars);
      let piece = symbols.slice(from, end).join('');
      for (let start = from; start < end; start++) {
        if (start > from) piece = piece.slice(symbols[start - 1].length);
        let match = this.pieces.get(piece);
        // A character no piece starts with becomes the unknown piece (score 0).
        if (!match && end === start + 1 && !this.startsAnyPiece(symbols, start)) match = [0, UNKNOWN_PIECE];
        if (!match) continue;
        const score = match[0] + best[start];
        if (best[end] === 0 || score >= best[end]) {
          best[end] = score;
          chosen[end] = match[1];
          chosenLength[end] = end - start;
        }
      }
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= chosenLength[at]) reversed.push(chosen[at]);
    const ids: number[] = [];
    for (let i = reversed.length - 1; i >= 0; i--) {
      if (reversed[i] === UNKNOWN_PIECE && ids.length > 0 && ids[ids.length - 1] === UNKNOWN_PIECE) continue;
      ids.push(reversed[i]);
    }
    return ids;
  }

  /** Whether some piece starting at `start` matches the text (the reference falls back to unknown only when none does). */
  private startsAnyPiece(symbols: string[], start: number): boolean {
    let piece = '';
    for (let end = start; end < Math.min(symbols.length, start + this.maxPieceChars); end++) {
      piece += symbols[end];
      if (this.pieces.has(piece)) return true;
    }
    return false;
  }
}
