import { h } from './dom.js';

/**
 * Cells of the longest-common-subsequence table one diff may fill. Memory text is up to
 * 32,000 characters (≈10,000 words and spaces): a full table for two such versions is 10⁸
 * cells, which froze the page for seconds per version. Past this budget the changed middle
 * is shown as one deletion and one insertion.
 */
const MAX_CELLS = 1_000_000;

/** A word-level diff (longest common subsequence) rendered with <del>/<ins>. */
export function wordDiff(before: string, after: string): HTMLElement {
  const a = before.split(/(\s+)/).filter(Boolean);
  const b = after.split(/(\s+)/).filter(Boolean);
  // An edit is usually local: the words before and after it are the same and need no table.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) endA--, endB--;
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const middle = (midA.length + 1) * (midB.length + 1) > MAX_CELLS
    ? [midA.length ? h('del', {}, midA.join('')) : null, midB.length ? h('ins', {}, midB.join('')) : null]
    : lcsDiff(midA, midB);
  return h('span', {}, a.slice(0, start).join(''), middle, a.slice(endA).join(''));
}

function lcsDiff(a: string[], b: string[]): (HTMLElement | string)[] {
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width); // lcs[i * width + j]: of a[i..] and b[j..]
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const out: (HTMLElement | string)[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) out.push(a[i++]), j++;
    else if (j < b.length && (i === a.length || lcs[i * width + j + 1] >= lcs[(i + 1) * width + j])) out.push(h('ins', {}, b[j++]));
    else out.push(h('del', {}, a[i++]));
  }
  return out;
}
