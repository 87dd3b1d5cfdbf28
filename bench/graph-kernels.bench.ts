// The graph walk's products (ADR 0132): a float query against int8 rows at random places in a
// store of --n rows (1M × 256 bytes by default, as a 1M cube's), one row at a time
// (dotQuery, the walk before ADR 0132) against four at a time (dotQueryBatch), in the same
// process, alternating passes; and the same rows when they are few enough to stay in cache
// (there this loop's one-at-a-time products, inlined into a bare loop, beat the batch; inside
// the walk they do not: graph.bench at 3k and 20k nodes shows no loss, ADR 0132).
// Checks that both give the same similarities to the bit. Ends with one JSON line.
//   npm run build && node dist/bench/graph-kernels.bench.js [--n 1000000] [--dim 256] [--products 2000000] [--passes 6]
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dotQuery, dotQueryBatch } from '@engram/plaintext';
import { arg } from './support/args';
import { rng } from './support/synthetic-corpus';

const N = arg('n', 1_000_000);
const DIM = arg('dim', 256);
const PRODUCTS = arg('products', 2_000_000);
const PASSES = arg('passes', 6);
/** Rows a walk scores per expanded node at most (2·M, M = 16). */
const STEP = 32;

const random = rng(arg('seed', 5));
const codes = Int8Array.from({ length: N * DIM }, () => Math.round(random() * 254 - 127));
const scales = Float32Array.from({ length: N }, () => 0.001 + random() * 0.01);
const query = Float32Array.from({ length: DIM }, () => random() - 0.5);

function rows(spread: number): Int32Array {
  return Int32Array.from({ length: PRODUCTS }, () => Math.floor(random() * spread));
}

/** ns per product, one row at a time. */
function single(slots: Int32Array, out: Float64Array): number {
  const t0 = performance.now();
  for (let i = 0; i < slots.length; i++) out[i] = dotQuery(codes, scales, DIM, query, slots[i]);
  return ((performance.now() - t0) * 1e6) / slots.length;
}

/** ns per product, a step of STEP rows at a time (as the walk hands them over). */
function batched(slots: Int32Array, out: Float64Array): number {
  const step = new Int32Array(STEP);
  const sims = new Float64Array(STEP);
  const t0 = performance.now();
  for (let i = 0; i < slots.length; i += STEP) {
    const count = Math.min(STEP, slots.length - i);
    for (let k = 0; k < count; k++) step[k] = slots[i + k];
    dotQueryBatch(codes, scales, DIM, query, step, count, sims);
    for (let k = 0; k < count; k++) out[i + k] = sims[k];
  }
  return ((performance.now() - t0) * 1e6) / slots.length;
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const round = (x: number): number => Math.round(x * 10) / 10;

function main(): void {
  console.log(`graph kernels: ${N} rows × ${DIM}, ${PRODUCTS} products a pass, ${PASSES} alternating passes; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const figures: Record<string, number | boolean> = { n: N, dim: DIM };
  for (const [name, spread] of [['random', N], ['cached_1000', Math.min(N, 1000)]] as const) {
    const slots = rows(spread);
    const a = new Float64Array(PRODUCTS);
    const b = new Float64Array(PRODUCTS);
    const one: number[] = [];
    const four: number[] = [];
    for (let p = 0; p < PASSES; p++) {
      one.push(single(slots, a));
      four.push(batched(slots, b));
    }
    const same = a.every((x, i) => Object.is(x, b[i]));
    figures[`${name}_single_ns`] = round(mean(one));
    figures[`${name}_batched_ns`] = round(mean(four));
    figures[`${name}_ratio`] = Math.round((mean(four) / mean(one)) * 1000) / 1000;
    figures[`${name}_same_to_the_bit`] = same;
    console.log(`${name} rows: one at a time ${round(mean(one))} ns a product, four at a time ${round(mean(four))} ns (${figures[`${name}_ratio`]}×); same similarities: ${same}`);
  }
  console.log(JSON.stringify({ bench: 'graph-kernels', ...figures }));
}

main();
