import { dotQuery, dotQueryBatch } from './graph-kernels';

/** Deterministic values in [-0.5, 0.5). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

function store(nodes: number, dim: number, seed: number): { codes: Int8Array; scales: Float32Array } {
  const rand = random(seed);
  const codes = Int8Array.from({ length: nodes * dim }, () => Math.round(rand() * 254));
  // Some removed nodes: their scale is negated (dotQuery reads its magnitude).
  const scales = Float32Array.from({ length: nodes }, (_, i) => (i % 5 === 3 ? -1 : 1) * (0.001 + Math.abs(rand()) * 0.01));
  return { codes, scales };
}

describe('dotQueryBatch', () => {
  it.each([1, 3, 4, 5, 7, 48, 255, 256])('gives every node the similarity dotQuery gives, to the bit (dim %i)', (dim) => {
    const nodes = 40;
    const { codes, scales } = store(nodes, dim, dim);
    const rand = random(dim * 31);
    const q = Float32Array.from({ length: dim }, rand);
    for (let count = 0; count <= 11; count++) {
      // Nodes in no order, a repeat included, as a walk's neighbours come.
      const slots = Int32Array.from({ length: count }, (_, i) => (i * 17 + count * 5) % nodes);
      if (count > 2) slots[count - 1] = slots[0];
      const out = new Float64Array(count + 2).fill(Number.NaN);
      dotQueryBatch(codes, scales, dim, q, slots, count, out);
      for (let i = 0; i < count; i++) expect(Object.is(out[i], dotQuery(codes, scales, dim, q, slots[i]))).toBe(true);
      // Nothing past the count is written.
      expect(Number.isNaN(out[count])).toBe(true);
    }
  });

  it('reads only the first `count` slots of a longer scratch array', () => {
    const dim = 16;
    const { codes, scales } = store(8, dim, 3);
    const q = Float32Array.from({ length: dim }, random(9));
    // Slots past the count point outside the store: reading them would give NaN.
    const slots = Int32Array.from([2, 6, 1, 1_000_000, 1_000_000]);
    const out = new Float64Array(5);
    dotQueryBatch(codes, scales, dim, q, slots, 3, out);
    expect([...out.subarray(0, 3)]).toEqual([2, 6, 1].map((s) => dotQuery(codes, scales, dim, q, s)));
    expect([...out.subarray(3)]).toEqual([0, 0]);
  });
});
