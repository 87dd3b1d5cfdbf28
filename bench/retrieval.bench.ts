// Retrieval quality of libs/plaintext on the evaluation sets in ../shared/data
// (see its README): LongMemEval-S dev, MADial-Bench (en), HotpotQA dev100.
// Also a conversational multi-hop proxy built from HotpotQA (bench/support/conversational-hotpot.ts).
// For each set it runs the ablation dense-only / lexical-only / fused variants with the
// offline hash embedder, prints tables, and ends with one JSON line of the key figures.
//   npm run bench:retrieval            (build + run)
//   node dist/bench/retrieval.bench.js [--only lme|madial|hotpot|conv] [--set knob=value ...] [--misses]
//     [--embedder hash|use-lite] [--dim 256 (hash)] [--threads N (use-lite)]
//   (use-lite vectors are cached under os.tmpdir()/engram-bench-embeddings; --misses prints LongMemEval misses at 1)
//   --split tune|held|all: the questions of one half of each set (bench/support/eval-split.ts);
//   knobs are chosen on 'tune' and reported on 'held'. The corpora stay whole.
//   The ranker starts from the embedder's own fusion weights (rankingFor); --set overrides them.
//   --mode deep: the default search against deep (multi-hop) search and its ablations, with
//   the p50 latency of each in this process; --deep knob=value overrides a DeepOptions knob.
import { readFileSync } from 'node:fs';
import { lmeDate, loadLongMemEval, sharedDataDir } from './support/longmemeval';
import * as path from 'node:path';
import { CubeIndex, DeepOptions, IndexDocument, RankingOptions, rankingFor } from '@engram/plaintext';
import { textArg, arg } from './support/args';
import { benchEmbedder } from './support/embedding-cache';
import { parseSplit, splitItems } from './support/eval-split';
import { loadHotpot } from './support/conversational-hotpot';
import { printConversationalHotpot, runConversationalHotpot } from './support/conversational-hotpot-eval';

const DATA = sharedDataDir();

type Overrides = Partial<Record<keyof RankingOptions, unknown>>;

interface Variant {
  readonly name: string;
  readonly ranking: Partial<RankingOptions>;
  readonly deep?: Partial<DeepOptions>;
}

function parseArgs(): { only: string | null; overrides: Overrides; dimension: number; finalOnly: boolean; bm25: { k1?: number; b?: number } } {
  const args = process.argv.slice(2);
  const bm25: { k1?: number; b?: number } = {};
  let only: string | null = null;
  let finalOnly = false;
  let dimension = 256;
  const overrides: Overrides = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--only') only = args[++i];
    else if (args[i] === '--dim') dimension = Number(args[++i]);
    else if (args[i] === '--final-only') finalOnly = true;
    else if (args[i] === '--k1') bm25.k1 = Number(args[++i]);
    else if (args[i] === '--b') bm25.b = Number(args[++i]);
    else if (args[i] === '--set') {
      const [key, raw] = args[++i].split('=');
      const value = Number.isNaN(Number(raw)) ? raw : Number(raw);
      const [head, sub] = key.split('.');
      // "roleWeights.assistant=0.3" sets one entry of an object-valued knob.
      (overrides as Record<string, unknown>)[head] = sub ? { [sub]: value } : value;
    }
  }
  return { only, overrides, dimension, finalOnly, bm25 };
}

const { only, overrides, dimension, finalOnly, bm25 } = parseArgs();
const SHOW_MISSES = process.argv.includes('--misses');
const SPLIT = parseSplit(textArg('split', 'all'));
const embedder = benchEmbedder(textArg('embedder', 'hash'), dimension, arg('threads', 0));
const base = { ...rankingFor(embedder.embedder), ...(overrides as Partial<RankingOptions>) };
const ALL_VARIANTS: Variant[] = [
  { name: 'dense-only', ranking: { ...base, mode: 'dense' } },
  { name: 'lexical-only', ranking: { ...base, mode: 'lexical' } },
  { name: 'fused-rrf', ranking: { ...base, mode: 'hybrid', fusion: 'rrf' } },
  { name: 'fused-no-context', ranking: { ...base, mode: 'hybrid', contextWeight: 0 } },
  { name: 'fused-session-sum', ranking: { ...base, mode: 'hybrid', sessionScoring: 'sum' } },
  { name: 'fused-no-time', ranking: { ...base, mode: 'hybrid', timeIntentWeight: 0 } },
  { name: 'fused (final)', ranking: { ...base, mode: 'hybrid' } },
];
const DEEP_MODE = textArg('mode', 'default') === 'deep';
const deepBase: Partial<DeepOptions> = {};
process.argv.forEach((a, i) => {
  if (a !== '--deep') return;
  const [key, raw] = process.argv[i + 1].split('=');
  (deepBase as Record<string, number>)[key] = Number(raw);
});
// Deep mode's ablations: the parts of the expansion alone, then the default ('fused (final)':
// DEFAULT_DEEP with --deep overrides). ADR 0110 has the dense-feedback and 'blend' rows.
const NO_BRIDGE: Partial<DeepOptions> = { bridgeWeight: 0 };
const DEEP_VARIANTS: Variant[] = [
  // Plain BM25 over single turns: no session context, role weights, time or importance.
  { name: 'BM25 per turn (baseline)', ranking: { ...base, mode: 'lexical', contextWeight: 0, timeIntentWeight: 0, importanceWeight: 0, roleWeights: {} } },
  { name: 'default (not deep)', ranking: base },
  { name: 'deep before ADR 0116 (PRF + neighbours)', ranking: base, deep: { ...deepBase, ...NO_BRIDGE, keepFirst: 0, secondContextWeight: -1 } },
  { name: 'deep: PRF + neighbours, first 3 kept', ranking: base, deep: { ...deepBase, ...NO_BRIDGE, secondContextWeight: -1 } },
  { name: 'deep: PRF + neighbours + bridge, first 3 kept', ranking: base, deep: { ...deepBase, secondContextWeight: -1 } },
  { name: 'deep: bridge entities only', ranking: base, deep: { ...deepBase, expansionTerms: 0, neighbourWeight: 0, bridgeNeighbours: 0 } },
  { name: 'deep: bridge neighbours only', ranking: base, deep: { bridgeNeighbours: 1, ...deepBase, expansionTerms: 0, neighbourWeight: 0, bridgeEntities: 0 } },
  { name: 'deep: PRF + bridge entities + bridge neighbours', ranking: base, deep: { bridgeNeighbours: 1, ...deepBase } },
  { name: 'fused (final)', ranking: base, deep: deepBase },
  // --sweep knob=v1,v2: one more deep variant per value (over DEFAULT_DEEP and --deep), to choose a knob in one run.
  ...process.argv.flatMap((a, i) => {
    if (a !== '--sweep') return [];
    const [key, values] = process.argv[i + 1].split('=');
    return values.split(',').map((v): Variant => ({ name: `deep, ${key}=${v}`, ranking: base, deep: { ...deepBase, [key]: Number(v) } }));
  }),
];
const VARIANTS = DEEP_MODE ? DEEP_VARIANTS : finalOnly ? ALL_VARIANTS.filter((v) => v.name === 'fused (final)') : ALL_VARIANTS;
/** Milliseconds of each search, by variant, to compare deep with default in one process. */
const timings = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
function timedSearch(index: CubeIndex, v: Variant, query: string, vector: ArrayLike<number> | null, options: Parameters<CubeIndex['search']>[2]): ReturnType<CubeIndex['search']> {
  const started = process.hrtime.bigint();
  const hits = index.search(query, vector, { ...options, ranking: v.ranking, deep: v.deep });
  timings.get(v.name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
  return hits;
}

const summary: Record<string, unknown> = { embedder: embedder.fingerprint, split: SPLIT, ranking: base };

// ---------------------------------------------------------------- LongMemEval-S
const KS = [1, 3, 5, 10];

async function runLongMemEval(): Promise<void> {
  const questions = splitItems(loadLongMemEval(), SPLIT, (q) => q.question_id, (q) => q.question_type);
  await embedder.prepare(questions.flatMap((q) => [q.question, ...q.haystack_sessions.flatMap((s) => s.map((t) => t.content))]), 'LongMemEval texts');
  type Row = { any: number[]; all: number[]; turnRecall10: number; turnMrr: number; sessionMrr: number; hasTurns: boolean; type: string };
  const BASELINE = 'baseline: BM25 over whole sessions (user turns)';
  const rows = new Map<string, Row[]>([[BASELINE, []], ...VARIANTS.map((v): [string, Row[]] => [v.name, []])]);
  let memories = 0;
  for (const q of questions) {
    const index = new CubeIndex({ dimension: embedder.dimension, bm25 });
    const sessionOf = new Map<number, string>();
    const goldTurns = new Set<number>();
    const docs: IndexDocument[] = [];
    let label = 0;
    q.haystack_sessions.forEach((session, s) => {
      const sessionId = q.haystack_session_ids[s];
      const observedAt = lmeDate(q.haystack_dates[s]);
      session.forEach((turn, t) => {
        label++;
        sessionOf.set(label, sessionId);
        if (turn.has_answer) goldTurns.add(label);
        docs.push({
          label,
          text: turn.content,
          vector: embedder.embedOne(turn.content),
          kind: 'message',
          role: turn.role,
          sessionId,
          position: t,
          observedAt,
          metadata: { sessionId, turn: t },
        });
      });
    });
    memories += docs.length;
    index.upsertMany(docs);
    const gold = new Set(q.answer_session_ids);
    const queryVector = embedder.embedOne(q.question);
    // The README's reference point: one document per session, user turns only, plain BM25.
    const sessionIndex = new CubeIndex({ dimension: embedder.dimension, bm25 });
    q.haystack_sessions.forEach((session, s) => {
      sessionIndex.upsert({ label: s + 1, text: session.filter((t) => t.role === 'user').map((t) => t.content).join('\n') });
    });
    const ranked = sessionIndex
      .search(q.question, null, { topK: 50, ranking: { mode: 'lexical', contextWeight: 0, timeIntentWeight: 0, roleWeights: {} } })
      .map((h) => q.haystack_session_ids[h.label - 1]);
    const firstBaseline = ranked.findIndex((s) => gold.has(s));
    rows.get(BASELINE)!.push({
      any: KS.map((k) => (ranked.slice(0, k).some((s) => gold.has(s)) ? 1 : 0)),
      all: KS.map((k) => ([...gold].every((g) => ranked.slice(0, k).includes(g)) ? 1 : 0)),
      turnRecall10: 0,
      turnMrr: 0,
      sessionMrr: firstBaseline >= 0 ? 1 / (firstBaseline + 1) : 0,
      hasTurns: false,
      type: q.question_type,
    });
    for (const v of VARIANTS) {
      const hits = timedSearch(index, v, q.question, queryVector, { topK: 300, referenceTime: lmeDate(q.question_date) });
      const sessions: string[] = [];
      for (const h of hits) {
        const s = sessionOf.get(h.label)!;
        if (!sessions.includes(s)) sessions.push(s);
      }
      const firstGoldSession = sessions.findIndex((s) => gold.has(s));
      const firstGoldTurn = hits.findIndex((h) => goldTurns.has(h.label));
      if (SHOW_MISSES && v.name === 'fused (final)' && firstGoldSession !== 0) {
        const textOf = new Map(docs.map((d) => [d.label, d.text]));
        console.log(`miss ${q.question_id} (${q.question_type}) gold session rank ${firstGoldSession + 1}, gold turn rank ${firstGoldTurn + 1}: ${q.question}`);
        for (const h of hits.slice(0, 3)) console.log(`   ${h.score.toFixed(4)} ${gold.has(sessionOf.get(h.label)!) ? 'G' : ' '} ${textOf.get(h.label)!.slice(0, 160).replace(/\n/g, ' ')}`);
        const g = hits[firstGoldTurn];
        if (g) console.log(`   gold ${g.score.toFixed(4)} ${textOf.get(g.label)!.slice(0, 160).replace(/\n/g, ' ')}`);
      }
      const top10 = hits.slice(0, 10).filter((h) => goldTurns.has(h.label)).length;
      rows.get(v.name)!.push({
        any: KS.map((k) => (sessions.slice(0, k).some((s) => gold.has(s)) ? 1 : 0)),
        all: KS.map((k) => ([...gold].every((g) => sessions.slice(0, k).includes(g)) ? 1 : 0)),
        turnRecall10: goldTurns.size ? top10 / goldTurns.size : 0,
        turnMrr: firstGoldTurn >= 0 ? 1 / (firstGoldTurn + 1) : 0,
        sessionMrr: firstGoldSession >= 0 ? 1 / (firstGoldSession + 1) : 0,
        hasTurns: goldTurns.size > 0,
        type: q.question_type,
      });
    }
  }
  console.log(`\n## LongMemEval-S dev — ${questions.length} questions, ${memories} memories (one per turn, both roles), ${embedder.fingerprint}\n`);
  console.log('| variant | any@1 | any@3 | any@5 | any@10 | all@1 | all@3 | all@5 | all@10 | session MRR | turn R@10 | turn MRR |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const name of rows.keys()) {
    const r = rows.get(name)!;
    const turnRows = r.filter((x) => x.hasTurns);
    console.log(
      `| ${name} | ${KS.map((_, i) => f(mean(r.map((x) => x.any[i])))).join(' | ')} | ${KS.map((_, i) => f(mean(r.map((x) => x.all[i])))).join(' | ')} | ` +
        `${f(mean(r.map((x) => x.sessionMrr)))} | ${turnRows.length ? f(mean(turnRows.map((x) => x.turnRecall10))) : '–'} | ${turnRows.length ? f(mean(turnRows.map((x) => x.turnMrr))) : '–'} |`,
    );
  }
  const final = rows.get('fused (final)')!;
  const types = [...new Set(final.map((x) => x.type))].sort();
  console.log('\nPer question type (fused final; turn metrics over questions with has_answer turns):\n');
  console.log('| type | n | any@1 | any@3 | any@5 | any@10 | all@5 | all@10 | turn R@10 | turn MRR |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const type of types) {
    const r = final.filter((x) => x.type === type);
    const t = r.filter((x) => x.hasTurns);
    console.log(
      `| ${type} | ${r.length} | ${KS.map((_, i) => f(mean(r.map((x) => x.any[i])))).join(' | ')} | ${f(mean(r.map((x) => x.all[2])))} | ${f(mean(r.map((x) => x.all[3])))} | ` +
        `${t.length ? f(mean(t.map((x) => x.turnRecall10))) : '–'} | ${t.length ? f(mean(t.map((x) => x.turnMrr))) : '–'} |`,
    );
  }
  console.log('\nTurn R@10 by question type and variant:\n');
  console.log(`| variant | ${types.join(' | ')} |`);
  console.log(`|---|${types.map(() => '---|').join('')}`);
  for (const name of rows.keys()) {
    if (name === BASELINE) continue;
    const cells = types.map((type) => {
      const t = rows.get(name)!.filter((x) => x.type === type && x.hasTurns);
      return t.length ? f(mean(t.map((x) => x.turnRecall10))) : '–';
    });
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }
  const pick = (name: string) => {
    const r = rows.get(name)!;
    const t = r.filter((x) => x.hasTurns);
    return {
      any1: round(mean(r.map((x) => x.any[0]))), any3: round(mean(r.map((x) => x.any[1]))),
      any5: round(mean(r.map((x) => x.any[2]))), any10: round(mean(r.map((x) => x.any[3]))),
      all5: round(mean(r.map((x) => x.all[2]))), all10: round(mean(r.map((x) => x.all[3]))),
      turnR10: t.length ? round(mean(t.map((x) => x.turnRecall10))) : null, turnMrr: t.length ? round(mean(t.map((x) => x.turnMrr))) : null,
    };
  };
  summary.longmemeval = finalOnly || DEEP_MODE
    ? { final: pick('fused (final)'), sessionBm25: pick(BASELINE) }
    : { final: pick('fused (final)'), dense: pick('dense-only'), lexical: pick('lexical-only'), sessionBm25: pick(BASELINE) };
}

// ---------------------------------------------------------------- MADial-Bench
async function runMadial(): Promise<void> {
  const dir = path.join(DATA, 'madial-bench', 'en');
  const dialogues = jsonl<{ dialogue: string[]; 'test-turn': number[]; 'relevant-id': number[] }>(path.join(dir, 'MADial-Bench-en-dialogue.json'));
  const archive = jsonl<Record<string, { time: string; scene: string; emotion: string; event: string }>>(path.join(dir, 'MADial-Bench-en-memory.json'));
  const queryOf = (d: { dialogue: string[]; 'test-turn': number[] }): string =>
    d.dialogue
      .slice(0, d['test-turn'][0])
      .map((line) => line.replace(/^<[^>]*>:?\s*/, '').replace(/^"|"\s*$/g, '').trim())
      .filter((line) => line.length > 0)
      .join('\n');
  await embedder.prepare([...archive.flatMap((entry) => Object.values(entry).map((m) => m.event)), ...dialogues.map(queryOf)], 'MADial texts');
  const index = new CubeIndex({ dimension: embedder.dimension, bm25 });
  for (const entry of archive) {
    for (const [id, m] of Object.entries(entry)) {
      const text = m.event;
      index.upsert({ label: Number(id), text, vector: embedder.embedOne(text), kind: 'episode', observedAt: Date.parse(m.time), tags: [m.scene, m.emotion] });
    }
  }
  const ks = [1, 3, 5, 10];
  const table = new Map<string, { recall: number[]; mrr: number[]; ndcg: number[] }[]>(VARIANTS.map((v) => [v.name, []]));
  const asked = splitItems(dialogues.map((d, i) => ({ d, id: String(i) })), SPLIT, (x) => x.id).map((x) => x.d);
  for (const d of asked) {
    const query = queryOf(d);
    const gold = new Set(d['relevant-id']);
    const vector = embedder.embedOne(query);
    for (const v of VARIANTS) {
      const hits = timedSearch(index, v, query, vector, { topK: 10 }).map((h) => h.label);
      const firstGold = hits.findIndex((h) => gold.has(h));
      table.get(v.name)!.push({
        recall: ks.map((k) => hits.slice(0, k).filter((h) => gold.has(h)).length / gold.size),
        mrr: ks.map((k) => (firstGold >= 0 && firstGold < k ? 1 / (firstGold + 1) : 0)),
        ndcg: ks.map((k) => ndcg(hits.slice(0, k), gold, k)),
      });
    }
  }
  console.log(`\n## MADial-Bench (en) — ${asked.length} dialogues (split ${SPLIT}), ${index.size} memories\n`);
  console.log('| variant | R@1 | R@3 | R@5 | R@10 | MRR@10 | nDCG@1 | nDCG@3 | nDCG@5 | nDCG@10 |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const v of VARIANTS) {
    const r = table.get(v.name)!;
    console.log(
      `| ${v.name} | ${ks.map((_, i) => f(mean(r.map((x) => x.recall[i])))).join(' | ')} | ${f(mean(r.map((x) => x.mrr[3])))} | ${ks.map((_, i) => f(mean(r.map((x) => x.ndcg[i])))).join(' | ')} |`,
    );
  }
  const r = table.get('fused (final)')!;
  summary.madial = { r5: round(mean(r.map((x) => x.recall[2]))), r10: round(mean(r.map((x) => x.recall[3]))), mrr10: round(mean(r.map((x) => x.mrr[3]))), ndcg10: round(mean(r.map((x) => x.ndcg[3]))) };
}

// ---------------------------------------------------------------- HotpotQA
async function runHotpot(): Promise<void> {
  const rowsIn = jsonl<{ _id: string; type: string; question: string; context: [string, string[]][]; supporting_facts: [string, ...unknown[]][] }>(
    path.join(DATA, 'hotpotqa-dev100', 'hotpotqa_dev100_amor.jsonl'),
  );
  await embedder.prepare([...rowsIn.flatMap((r) => r.context.map(([title, sentences]) => `${title}. ${sentences.join(' ')}`)), ...rowsIn.map((r) => r.question)], 'HotpotQA texts');
  const index = new CubeIndex({ dimension: embedder.dimension, bm25 });
  const labelOf = new Map<string, number>();
  for (const row of rowsIn) {
    for (const [title, sentences] of row.context) {
      if (labelOf.has(title)) continue;
      const label = labelOf.size + 1;
      labelOf.set(title, label);
      const text = `${title}. ${sentences.join(' ')}`;
      index.upsert({ label, text, vector: embedder.embedOne(text), kind: 'fact' });
    }
  }
  const ks = [2, 5, 10];
  const table = new Map<string, { all: number[]; recall: number[]; mrr: number; type: string }[]>(VARIANTS.map((v) => [v.name, []]));
  const asked = splitItems(rowsIn, SPLIT, (r) => r._id, (r) => r.type);
  for (const row of asked) {
    const gold = new Set(row.supporting_facts.map((s) => labelOf.get(s[0])!));
    const vector = embedder.embedOne(row.question);
    for (const v of VARIANTS) {
      const hits = timedSearch(index, v, row.question, vector, { topK: 10 }).map((h) => h.label);
      const firstGold = hits.findIndex((h) => gold.has(h));
      table.get(v.name)!.push({
        all: ks.map((k) => ([...gold].every((g) => hits.slice(0, k).includes(g)) ? 1 : 0)),
        recall: ks.map((k) => hits.slice(0, k).filter((h) => gold.has(h)).length / gold.size),
        mrr: firstGold >= 0 ? 1 / (firstGold + 1) : 0,
        type: row.type,
      });
    }
  }
  console.log(`\n## HotpotQA dev100 — ${asked.length} questions (split ${SPLIT}), ${index.size} paragraphs pooled\n`);
  console.log('| variant | type | n | all@2 | all@5 | all@10 | R@2 | R@5 | R@10 | MRR |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const v of VARIANTS) {
    for (const type of ['all', 'bridge', 'comparison']) {
      const r = table.get(v.name)!.filter((x) => type === 'all' || x.type === type);
      console.log(`| ${v.name} | ${type} | ${r.length} | ${ks.map((_, i) => f(mean(r.map((x) => x.all[i])))).join(' | ')} | ${ks.map((_, i) => f(mean(r.map((x) => x.recall[i])))).join(' | ')} | ${f(mean(r.map((x) => x.mrr)))} |`);
    }
  }
  const r = table.get('fused (final)')!;
  summary.hotpotqa = { all2: round(mean(r.map((x) => x.all[0]))), all5: round(mean(r.map((x) => x.all[1]))), all10: round(mean(r.map((x) => x.all[2]))), mrr: round(mean(r.map((x) => x.mrr))) };
}

// ---------------------------------------------------------------- Conversational HotpotQA (multi-hop proxy)
async function runConversational(): Promise<void> {
  const result = await runConversationalHotpot(loadHotpot(DATA), SPLIT, embedder, VARIANTS, timedSearch, bm25);
  summary.convHotpot = printConversationalHotpot(result, SPLIT, 'fused (final)');
}

function printDeepLatency(): void {
  console.log('\n## Search latency in this process (all sets; noisy on a shared machine)\n');
  console.log('| variant | searches | p50 ms | p99 ms | p50 / default |');
  console.log('|---|---|---|---|---|');
  const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;
  const defaultP50 = p(timings.get('default (not deep)')!, 0.5);
  for (const [name, xs] of timings) console.log(`| ${name} | ${xs.length} | ${f(p(xs, 0.5))} | ${f(p(xs, 0.99))} | ${f(p(xs, 0.5) / defaultP50)} |`);
  const deepP50 = p(timings.get('fused (final)')!, 0.5);
  summary.deep = { options: deepBase, p50Ms: round(deepP50), defaultP50Ms: round(defaultP50), p50Ratio: round(deepP50 / defaultP50) };
}

// ---------------------------------------------------------------- helpers
function ndcg(hits: number[], gold: Set<number>, k: number): number {
  let dcg = 0;
  hits.forEach((h, i) => {
    if (gold.has(h)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(k, gold.size); i++) ideal += 1 / Math.log2(i + 2);
  return ideal > 0 ? dcg / ideal : 0;
}

function jsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function f(x: number): string {
  return x.toFixed(3);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function main(): Promise<void> {
  const started = Date.now();
  if (!only || only === 'lme') await runLongMemEval();
  if (!only || only === 'madial') await runMadial();
  if (!only || only === 'hotpot') await runHotpot();
  if (!only || only === 'conv') await runConversational();
  if (DEEP_MODE) printDeepLatency();
  summary.overrides = overrides;
  summary.seconds = round((Date.now() - started) / 1000);
  console.log('\n' + JSON.stringify({ bench: 'retrieval', ...summary }));
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
