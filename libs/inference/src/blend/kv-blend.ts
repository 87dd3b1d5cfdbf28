// Several cached KV segments in one prompt (after CacheBlend, Yao et al. 2024). A cache
// computed on its own holds its text's KV at the positions it was built at and without
// attention to what now precedes it. blendPrefill():
//   1. re-rotates each re-placed segment's keys to its new positions (exact for RoPE);
//   2. picks the re-placed tokens whose KV deviates most at an early layer (one probe run
//      of the first layers over the prompt: CacheBlend's HKVD selection) and recomputes
//      a chosen fraction of them, attending to everything before them, at every layer;
//   3. prefills the tokens no cache covers (the conversation) on top.
// Recomputed and uncovered tokens run as one set of new tokens whose causal mask compares
// positions (the graph's `past_position_ids`), so past KV may hold any positions; the
// result is put back in position order for decoding. A cache that starts the prompt at
// the position it was built at is an exact prefix and is never recomputed.
import { InferenceError, InferenceErrorCode } from '../inference.error';
import type { KvState } from '../runtime/kv-state';
import type { LanguageModel } from '../runtime/language-model';
import { rerotateKv } from './rerotate';

export interface BlendSegment {
  /** Where the segment's tokens start in the prompt. */
  start: number;
  /** Cached KV of prompt tokens [start, start + kv.seq). */
  kv: KvState;
  /** Position of the segment's first token when its KV was computed (default 0). */
  builtAt?: number;
}

export interface BlendOptions {
  /** Fraction of the re-placed tokens to recompute, in [0, 1]. */
  recompute: number;
  /** Layer whose KV deviation picks the tokens to recompute (default 1, CacheBlend's choice). */
  selectLayer?: number;
  /** Max new tokens per graph run (default 512). */
  chunk?: number;
}

export interface BlendResult {
  /** Logits of the last prompt position. */
  logits: Float32Array;
  /** KV of every prompt token, in position order. */
  present: KvState;
  /** Tokens whose KV came from an exact prefix cache. */
  exactTokens: number;
  /** Re-placed tokens whose cached (re-rotated) KV was kept. */
  reusedTokens: number;
  /** Re-placed tokens recomputed. */
  recomputedTokens: number;
  /** Tokens no cache covered (prefilled). */
  prefilledTokens: number;
  /** Prompt positions of the recomputed tokens, ascending. */
  recomputed: number[];
}

export const DEFAULT_SELECT_LAYER = 1;

/** The number of tokens to recompute out of `candidates` re-placed ones. */
export const recomputeCount = (fraction: number, candidates: number): number => Math.min(candidates, Math.round(fraction * candidates));

/** Validated segments: sorted, inside the prompt, never covering its last token. */
function checkSegments(model: LanguageModel, promptLength: number, segments: readonly BlendSegment[]): BlendSegment[] {
  const c = model.config;
  const sorted = [...segments].filter((s) => s.kv.seq > 0).sort((a, b) => a.start - b.start);
  let end = 0;
  const out: BlendSegment[] = [];
  for (const s of sorted) {
    const builtAt = s.builtAt ?? 0;
    if (!Number.isInteger(s.start) || s.start < end || !Number.isInteger(builtAt) || builtAt < 0) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `KV segment at ${s.start} overlaps the one before it or has a bad position`);
    }
    if (s.kv.numLayers !== c.numLayers || s.kv.kvHeads !== c.numKvHeads || s.kv.headDim !== c.headDim) {
      throw new InferenceError(InferenceErrorCode.InputMismatch, `KV segment at ${s.start} does not fit the model's layers/heads`);
    }
    if (builtAt + s.kv.seq > model.maxContext) throw new InferenceError(InferenceErrorCode.InputMismatch, `KV segment at ${s.start} was built beyond the context length`);
    // The last prompt token always runs (its logits start generation).
    const seq = Math.min(s.kv.seq, promptLength - 1 - s.start);
    if (seq <= 0) break;
    out.push({ start: s.start, builtAt, kv: seq === s.kv.seq ? s.kv : sliceSeq(s.kv, seq) });
    end = s.start + seq;
  }
  return out;
}

function sliceSeq(kv: KvState, seq: number): KvState {
  const hd = kv.headDim;
  const cut = (t: Float32Array): Float32Array => {
    const out = new Float32Array(kv.kvHeads * seq * hd);
    for (let h = 0; h < kv.kvHeads; h++) out.set(t.subarray(h * kv.seq * hd, (h * kv.seq + seq) * hd), h * seq * hd);
    return out;
  };
  return { ...kv, seq, layers: kv.layers.map((l) => ({ key: cut(l.key), value: cut(l.value) })) };
}

/** A token's KV row: segment `seg`, row `row`. */
interface Row {
  kv: KvState;
  row: number;
}

/** KV of the given rows in the given order (per layer [kv_heads, rows, head_dim]). */
function gatherRows(template: KvState, rows: readonly Row[]): KvState {
  const { kvHeads: H, headDim: hd } = template;
  const n = rows.length;
  const layers = template.layers.map((_, l) => {
    const key = new Float32Array(H * n * hd);
    const value = new Float32Array(H * n * hd);
    for (let h = 0; h < H; h++) {
      for (let j = 0; j < n; j++) {
        const { kv, row } = rows[j];
        const src = (h * kv.seq + row) * hd;
        key.set(kv.layers[l].key.subarray(src, src + hd), (h * n + j) * hd);
        value.set(kv.layers[l].value.subarray(src, src + hd), (h * n + j) * hd);
      }
    }
    return { key, value };
  });
  return { ...template, seq: n, layers };
}

/** Squared KV distance per token between a probe's fresh K/V and cached rows at one layer. */
function deviations(fresh: { key: Float32Array; value: Float32Array }, freshSeq: number, freshOffset: number, rows: ReadonlyMap<number, Row>, layer: number, H: number, hd: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [pos, { kv, row }] of rows) {
    const t = pos - freshOffset;
    let d = 0;
    for (let h = 0; h < H; h++) {
      const f = (h * freshSeq + t) * hd;
      const c = (h * kv.seq + row) * hd;
      for (let i = 0; i < hd; i++) {
        const dk = fresh.key[f + i] - kv.layers[layer].key[c + i];
        const dv = fresh.value[f + i] - kv.layers[layer].value[c + i];
        d += dk * dk + dv * dv;
      }
    }
    out.set(pos, d);
  }
  return out;
}

export async function blendPrefill(model: LanguageModel, prompt: readonly number[], segments: readonly BlendSegment[], options: BlendOptions): Promise<BlendResult> {
  const N = prompt.length;
  if (N === 0) throw new InferenceError(InferenceErrorCode.InputMismatch, 'blendPrefill: empty prompt');
  if (N > model.maxContext) throw new InferenceError(InferenceErrorCode.ContextOverflow, `prompt of ${N} tokens exceeds the model's context length of ${model.maxContext}`);
  if (!(options.recompute >= 0 && options.recompute <= 1)) throw new InferenceError(InferenceErrorCode.InputMismatch, `recompute fraction ${options.recompute} outside [0, 1]`);
  if (!model.supportsPastPositions) throw new InferenceError(InferenceErrorCode.InputMismatch, `model ${model.directory.dir} cannot re-place KV (no past_position_ids input: an ONNX export?)`);
  const c = model.config;
  const selectLayer = options.selectLayer ?? DEFAULT_SELECT_LAYER;
  if (!(Number.isInteger(selectLayer) && selectLayer >= 1 && selectLayer < c.numLayers) && options.recompute > 0 && options.recompute < 1) {
    throw new InferenceError(InferenceErrorCode.InputMismatch, `selectLayer ${selectLayer} outside [1, ${c.numLayers})`);
  }

  // Cached rows by prompt position: the exact prefix, then re-placed (re-rotated) tokens.
  const placed = checkSegments(model, N, segments);
  const exact = new Map<number, Row>();
  const moved = new Map<number, Row>();
  for (const s of placed) {
    const isPrefix = s.start === 0 && s.builtAt === 0;
    const kv = isPrefix ? s.kv : rerotateKv(s.kv, c, s.builtAt!, s.start);
    for (let t = 0; t < kv.seq; t++) (isPrefix ? exact : moved).set(s.start + t, { kv, row: t });
  }

  // Which re-placed tokens to recompute: the largest layer-`selectLayer` KV deviation.
  const k = recomputeCount(options.recompute, moved.size);
  let selected: number[];
  if (k === 0) selected = [];
  else if (k === moved.size) selected = [...moved.keys()];
  else {
    const from = exact.size; // the exact prefix is [0, exact.size)
    const to = Math.max(...moved.keys()) + 1;
    const prefixKv = exact.size > 0 ? gatherRows(placed[0].kv, [...exact.values()]) : model.emptyKv();
    const fresh = await model.probe(prompt.slice(from, to), selectLayer, { past: prefixKv });
    const dev = deviations(fresh, to - from, from, moved, selectLayer, c.numKvHeads, c.headDim);
    selected = [...dev.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k).map(([p]) => p);
  }
  const recompute = new Set(selected);

  // Past: cached rows kept (any order: the mask compares positions). New: everything else.
  const pastPositions: number[] = [];
  const pastRows: Row[] = [];
  const newPositions: number[] = [];
  for (let p = 0; p < N; p++) {
    const row = exact.get(p) ?? (recompute.has(p) ? undefined : moved.get(p));
    if (row) {
      pastPositions.push(p);
      pastRows.push(row);
    } else newPositions.push(p);
  }
  let past = pastRows.length > 0 ? gatherRows(model.emptyKv(), pastRows) : model.emptyKv();
  const chunk = options.chunk ?? 512;
  let logits: Float32Array | undefined;
  for (let i = 0; i < newPositions.length; i += chunk) {
    const positions = newPositions.slice(i, i + chunk);
    const out = await model.forward({ inputIds: positions.map((p) => prompt[p]), positionIds: positions, past, pastPositionIds: pastPositions });
    pastPositions.push(...positions);
    past = out.present;
    logits = out.logits;
  }
  // Back into position order for decoding (positions are then implicit).
  const order = new Array<number>(N);
  pastPositions.forEach((p, j) => (order[p] = j));
  const present = gatherRows(past, order.map((row) => ({ kv: past, row })));
  return {
    logits: logits!,
    present,
    exactTokens: exact.size,
    reusedTokens: moved.size - selected.length,
    recomputedTokens: selected.length,
    prefilledTokens: N - exact.size - moved.size,
    recomputed: [...selected].sort((a, b) => a - b),
  };
}
