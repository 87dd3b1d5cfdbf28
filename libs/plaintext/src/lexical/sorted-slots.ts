// Search in a posting list's slots, which are kept in ascending order.

/** First index in [lo, hi) whose slot is at least slot (hi when none). */
export function lowerBound(slots: Int32Array, lo: number, hi: number, slot: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (slots[mid] < slot) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
