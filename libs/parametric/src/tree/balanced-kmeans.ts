// Seeded k-means (k-means++ init, Lloyd iterations) on L2-normalised vectors, with a
// capacity cap on every cluster: no cluster takes more than ceil(maxShare · n) points.
// The paper splits clusters above ~1.5/k; a cap keeps exactly k children per node
// (fixed-size addressing in the bank file) and gives the same bound (ADR 0301).
import { mulberry32 } from '@engram/inference';

export interface KMeansOptions {
  k: number;
  seed: number;
  iterations?: number;
  /** Largest share of the points one cluster may take, as a multiple of 1/k (default 1.5). */
  maxShare?: number;
}

export interface KMeansResult {
  /** Cluster of every point, in 0..k'-1 (k' = min(k, n)). */
  assignment: Int32Array;
  centroids: Float32Array[];
}

function dist2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

export function l2NormalizeInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

export function balancedKMeans(points: readonly Float32Array[], options: KMeansOptions): KMeansResult {
  const n = points.length;
  const k = Math.min(options.k, n);
  if (n === 0) return { assignment: new Int32Array(0), centroids: [] };
  if (k === n) return { assignment: Int32Array.from({ length: n }, (_, i) => i), centroids: points.map((p) => Float32Array.from(p)) };
  const rnd = mulberry32(options.seed);
  const dim = points[0].length;
  // k-means++ seeding.
  const centroids: Float32Array[] = [Float32Array.from(points[Math.floor(rnd() * n)])];
  const nearest = points.map((p) => dist2(p, centroids[0]));
  while (centroids.length < k) {
    const total = nearest.reduce((a, b) => a + b, 0);
    let target = rnd() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      target -= nearest[i];
      if (target <= 0) {
        pick = i;
        break;
      }
    }
    const c = Float32Array.from(points[pick]);
    centroids.push(c);
    for (let i = 0; i < n; i++) nearest[i] = Math.min(nearest[i], dist2(points[i], c));
  }
  const cap = Math.max(1, Math.ceil(((options.maxShare ?? 1.5) * n) / k));
  let assignment: Int32Array = new Int32Array(n).fill(-1);
  for (let iter = 0; iter < (options.iterations ?? 15); iter++) {
    const next = assignCapped(points, centroids, cap);
    const changed = next.some((c, i) => c !== assignment[i]);
    assignment = next;
    // Update: mean of members, renormalised (spherical k-means); an empty cluster keeps its centroid.
    const sums = centroids.map(() => new Float32Array(dim));
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      const s = sums[assignment[i]];
      for (let j = 0; j < dim; j++) s[j] += points[i][j];
      counts[assignment[i]]++;
    }
    for (let c = 0; c < k; c++) if (counts[c] > 0) centroids[c] = l2NormalizeInPlace(sums[c]);
    if (!changed) break;
  }
  return { assignment, centroids };
}

/** Most confident points first, each to its nearest centroid that still has room. */
function assignCapped(points: readonly Float32Array[], centroids: readonly Float32Array[], cap: number): Int32Array {
  const n = points.length;
  const k = centroids.length;
  const d = points.map((p) => centroids.map((c) => dist2(p, c)));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.min(...d[a]) - Math.min(...d[b]) || a - b);
  const load = new Int32Array(k);
  const out = new Int32Array(n);
  for (const i of order) {
    let best = -1;
    for (let c = 0; c < k; c++) if (load[c] < cap && (best < 0 || d[i][c] < d[i][best])) best = c;
    out[i] = best;
    load[best]++;
  }
  return out;
}
