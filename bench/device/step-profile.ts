// Where a decode step's time goes on an execution provider (ADR 0406), against the CPU in the
// same process: the kernels (nodes) a decode step runs, by operator, from ONNX Runtime's
// profile; and the medians of a decode step, of a 256-token prefill and of reading the whole
// KV back to the host. On a GPU provider a small model's step is bound by the host's work per
// kernel, so the node count is the lever (graph revisions 4–7). Each provider runs both
// attention forms (ADR 0407: one fused node per layer, or the standard ops), timed in
// alternating rounds, so the fused form's gain is a ratio within one process.
//   node dist/bench/device/step-profile.js [--provider webgpu] [--layers 4] [--hidden 256] [--steps 200] [--rounds 1]
// Table, then one JSON line. bench/device/run.sh runs it on the provider it finds.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTinyModel, EXECUTION_PROVIDER_NAMES, LLAMA_GRAPH_REVISION, loadLanguageModel, OnnxSessionRegistry, type ExecutionProvider } from '@engram/inference';
import { arg, textArg } from '../support/args';

const PROVIDER = textArg('provider', 'webgpu') as ExecutionProvider;
const LAYERS = arg('layers', 4);
const HIDDEN = arg('hidden', 256);
const STEPS = arg('steps', 200);
const ROUNDS = arg('rounds', 1);
type Attention = 'fused' | 'standard';
const FORMS: readonly Attention[] = ['standard', 'fused'];

interface Figures {
  provider: ExecutionProvider;
  attention: Attention;
  nodesPerStep: number;
  nodesByOp: Record<string, number>;
  decodeStepMs: number;
  prefill256Ms: number;
  kvReadBackMs: number;
}

interface ProfileEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const tokens = (n: number, from = 5): number[] => Array.from({ length: n }, (_, i) => from + (i % 400));

async function timed(run: () => Promise<unknown>, times: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

/** Decode steps after a 64-token prompt; the last step's KV read back; 256-token prefills. */
async function timings(dir: string, provider: ExecutionProvider, attention: Attention): Promise<Pick<Figures, 'decodeStepMs' | 'prefill256Ms' | 'kvReadBackMs'>> {
  const registry = new OnnxSessionRegistry();
  try {
    const m = await loadLanguageModel(dir, registry, { provider, attention });
    let past = (await m.step({ inputIds: tokens(64) })).present;
    for (let i = 0; i < 5; i++) {
      const s = await m.step({ inputIds: [9], past }); // warm-up
      past.dispose();
      past = s.present;
    }
    const decodeStepMs = await timed(async () => {
      const s = await m.step({ inputIds: [9], past });
      past.dispose();
      past = s.present;
    }, STEPS);
    const kvReadBackMs = await timed(() => past.toHost(), 20);
    past.dispose();
    const prefill256Ms = await timed(() => m.prefill(tokens(256)), 5);
    return { decodeStepMs: r3(decodeStepMs), prefill256Ms: r3(prefill256Ms), kvReadBackMs: r3(kvReadBackMs) };
  } finally {
    await registry.disposeAll();
  }
}

/** The nodes of one decode step, by operator, from a profiled session's trace. */
async function nodes(dir: string, provider: ExecutionProvider, attention: Attention, scratch: string): Promise<Pick<Figures, 'nodesPerStep' | 'nodesByOp'>> {
  const prefix = join(scratch, `profile-${provider}-${attention}`);
  const registry = new OnnxSessionRegistry();
  const m = await loadLanguageModel(dir, registry, { provider, attention, profile: prefix });
  let past = (await m.step({ inputIds: tokens(64) })).present;
  for (let i = 0; i < 3; i++) {
    const s = await m.step({ inputIds: [9], past });
    past.dispose();
    past = s.present;
  }
  past.dispose();
  await registry.disposeAll(); // the trace is written when the session is released
  const file = readdirSync(scratch).find((f) => f.startsWith(`profile-${provider}-${attention}`) && f.endsWith('.json'));
  if (!file) throw new Error(`no ONNX Runtime profile was written under ${scratch}`);
  const events = JSON.parse(readFileSync(join(scratch, file), 'utf8')) as ProfileEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const step = runs[runs.length - 1];
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= step.ts && e.ts <= step.ts + step.dur);
  const nodesByOp: Record<string, number> = {};
  for (const k of kernels) nodesByOp[k.args?.op_name ?? '?'] = (nodesByOp[k.args?.op_name ?? '?'] ?? 0) + 1;
  return { nodesPerStep: kernels.length, nodesByOp };
}

async function main(): Promise<void> {
  if (!EXECUTION_PROVIDER_NAMES.includes(PROVIDER)) throw new Error(`--provider ${PROVIDER}: expected one of ${EXECUTION_PROVIDER_NAMES.join(', ')}`);
  const scratch = mkdtempSync(join(tmpdir(), 'engram-step-profile-'));
  try {
    const dir = join(scratch, 'model');
    createTinyModel({ outDir: dir, layers: LAYERS, hidden: HIDDEN, heads: 4, kvHeads: 2, vocab: 512 });
    const providers: ExecutionProvider[] = PROVIDER === 'cpu' ? ['cpu'] : ['cpu', PROVIDER];
    const figures: Figures[] = [];
    for (const provider of providers) {
      const counted = new Map<Attention, Pick<Figures, 'nodesPerStep' | 'nodesByOp'>>();
      for (const attention of FORMS) counted.set(attention, await nodes(dir, provider, attention, scratch));
      const rounds = new Map<Attention, Pick<Figures, 'decodeStepMs' | 'prefill256Ms' | 'kvReadBackMs'>[]>(FORMS.map((a) => [a, []]));
      for (let r = 0; r < ROUNDS; r++) for (const attention of r % 2 ? [...FORMS].reverse() : FORMS) rounds.get(attention)!.push(await timings(dir, provider, attention));
      for (const attention of FORMS) {
        const t = rounds.get(attention)!;
        const med = (k: 'decodeStepMs' | 'prefill256Ms' | 'kvReadBackMs'): number => median(t.map((x) => x[k]));
        figures.push({ provider, attention, ...counted.get(attention)!, decodeStepMs: med('decodeStepMs'), prefill256Ms: med('prefill256Ms'), kvReadBackMs: med('kvReadBackMs') });
      }
    }
    const find = (p: ExecutionProvider, a: Attention): Figures => figures.find((f) => f.provider === p && f.attention === a)!;
    const device = providers[providers.length - 1];
    console.log(`step profile: ${LAYERS} layers × ${HIDDEN}, 4 heads / 2 kv heads, graph revision ${LLAMA_GRAPH_REVISION}; decode step p50 of ${STEPS} after a 64-token prompt, median of ${ROUNDS} round(s)`);
    const row = (f: Figures) => ({ provider: f.provider, attention: f.attention, nodesPerStep: f.nodesPerStep, decodeStepMs: f.decodeStepMs, prefill256Ms: f.prefill256Ms, kvReadBackMs: f.kvReadBackMs });
    console.table(figures.map(row));
    for (const f of figures) console.log(`${f.provider} ${f.attention} nodes: ${Object.entries(f.nodesByOp).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ${n}`).join(', ')}`);
    const ratio = (a: Figures, b: Figures) => ({ decodeStep: r3(a.decodeStepMs / b.decodeStepMs), prefill256: r3(a.prefill256Ms / b.prefill256Ms), nodes: r3(a.nodesPerStep / b.nodesPerStep) });
    const fusedOverStandard = Object.fromEntries(providers.map((p) => [p, ratio(find(p, 'fused'), find(p, 'standard'))]));
    const overCpu = device === 'cpu' ? undefined : ratio(find(device, 'fused'), find('cpu', 'fused'));
    console.log(JSON.stringify({ bench: 'step-profile', graphRevision: LLAMA_GRAPH_REVISION, model: { layers: LAYERS, hidden: HIDDEN }, steps: STEPS, rounds: ROUNDS, providers: figures, fusedOverStandard, ...(overCpu ? { overCpu } : {}) }));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
