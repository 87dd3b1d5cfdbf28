// A trie over a vocabulary's token texts, code point by code point, numbered in depth-first
// preorder: a node's subtree is a contiguous range of nodes and the tokens of that subtree a
// contiguous range of `tokens`. A constrained decoding step (json-constraint.ts) walks it with
// the recogniser's parse state: a prefix shared by many tokens is fed once, and at the first
// character the grammar refuses, the whole subtree is refused without looking at its tokens.

export interface VocabTrie {
  /** Node i's character (node 0, the root: ''). */
  readonly chars: readonly string[];
  /** Node i's subtree is nodes [i, end[i]); its children are i + 1, end[i + 1], … while below end[i]. */
  readonly end: Int32Array;
  /**
   * Tokens whose text ends at node i: tokens[tokenStart[i] .. tokenStart[i + 1]); tokens of
   * node i's subtree: tokens[tokenStart[i] .. tokenStart[end[i]]) (tokenStart has a sentinel).
   */
  readonly tokenStart: Int32Array;
  readonly tokens: Int32Array;
  /** Tokens with no text (special tokens): no character continues anything with them. */
  readonly empty: Int32Array;
}

interface BuildNode {
  children: Map<string, BuildNode>;
  ids: number[];
}

export function buildVocabTrie(texts: readonly string[]): VocabTrie {
  const root: BuildNode = { children: new Map(), ids: [] };
  const empty: number[] = [];
  texts.forEach((text, id) => {
    if (!text) {
      empty.push(id);
      return;
    }
    let node = root;
    for (const c of text) {
      let next = node.children.get(c);
      if (!next) node.children.set(c, (next = { children: new Map(), ids: [] }));
      node = next;
    }
    node.ids.push(id);
  });
  const chars: string[] = [];
  const end: number[] = [];
  const tokenStart: number[] = [];
  const tokens: number[] = [];
  const visit = (node: BuildNode, char: string): void => {
    const i = chars.length;
    chars.push(char);
    end.push(0);
    tokenStart.push(tokens.length);
    for (const id of node.ids) tokens.push(id);
    for (const [c, child] of node.children) visit(child, c);
    end[i] = chars.length;
  };
  visit(root, '');
  tokenStart.push(tokens.length);
  return { chars, end: Int32Array.from(end), tokenStart: Int32Array.from(tokenStart), tokens: Int32Array.from(tokens), empty: Int32Array.from(empty) };
}
