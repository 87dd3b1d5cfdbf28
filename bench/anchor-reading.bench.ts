// Can the bench anchor learn to read its prompt? (issue 14, ADR 0404.) Trains the anchor of
// bench:memory-os (the same world, tokenizer and shape) on drills of one kind, then measures
// exact match when the prompt is n shuffled facts and the question one of them, for n = 4,
// 16, 64, 150 (150 facts ≈ the working memory of 1,024 tokens): on the long-tail people the
// bench evaluates (`reading_n`) and on drill people with fresh values (`drill_reading_n`).
// Copying "a value of the asked attribute" scores about 0.8 / 0.3 / 0.1 / 0.1; finding the
// named person's fact scores near 1. `--induction s`: a share s of plain induction drills
// (a random token sequence, then the same again, the repeat scored) as a control that the
// trainer learns attention lookups at all. `--curriculum 8:1500,16:1000,…`: train in stages,
// each on its own drills of up to that many facts for that many steps, the weights carried
// from one stage to the next (reading at the stage's length logged after each). Table,
// then ONE JSON line.
//   npm run build && node dist/bench/anchor-reading.bench.js [--drill-kind lookup|context|short] [--steps 5000] [--drills 3000] [--max-facts 8] [--skew 1] [--same 0.5] [--questions 1] [--plain 0|1] [--names drill|all] [--induction 0] [--lr 3e-3] [--reading 60] [--seed 7] [--curriculum FACTS:STEPS,...]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadLanguageModel, mulberry32, OnnxSessionRegistry } from '@engram/inference';
import { initParams64, tinyLlamaConfig, trainAnchorOnnx } from '@engram/parametric';
import { writeAnchorModelDir } from './support/anchor-model-dir';
import { arg, textArg } from './support/args';
import { readingAccuracy } from './support/reading';
import { contextDrill, lookupDrill, parseDrillKind, shortDrill, type ContextDrill } from './support/context-drills';
import { ATTRIBUTES, genericSentence, makePeople, sentences, WordTokenizer, type Person } from './support/parametric-world';

const SEED = arg('seed', 7);
const STEPS = arg('steps', 5000);
const DRILLS = arg('drills', 3000);
const KIND = parseDrillKind(textArg('drill-kind', 'lookup'));
const MAX_FACTS = arg('max-facts', 8);
const SKEW = arg('skew', 1);
const SAME = arg('same', 0.5);
const QUESTIONS = arg('questions', 1);
const PLAIN = arg('plain', 0) > 0;
const NAMES = textArg('names', 'drill');
const INDUCTION = arg('induction', 0);
const LR = arg('lr', 3e-3);
const READING = arg('reading', 60);
const HIDDEN = arg('hidden', 64);
const CURRICULUM = textArg('curriculum', '');
const LAYERS = arg('layers', 2);
const log = (msg: string): void => void process.stderr.write(`[bench:anchor-reading] ${msg}\n`);
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  if (NAMES !== 'drill' && NAMES !== 'all') throw new Error(`--names must be drill or all (got ${NAMES})`);
  const t0 = performance.now();
  // The world of bench:memory-os, drawn in the same order from the same seed.
  const rnd = mulberry32(SEED);
  const taken = new Set<string>();
  const famous = makePeople(16, rnd, taken);
  const drillPeople = makePeople(200, rnd, taken);
  const people = makePeople(96, rnd, taken);
  const generic = Array.from({ length: 1500 }, () => genericSentence(rnd));
  const tok = new WordTokenizer([...generic, ...[...famous, ...drillPeople, ...people].flatMap(sentences), ATTRIBUTES.flatMap((a) => a.values).join(' ')]);
  const config = tinyLlamaConfig({ vocab: tok.size, hidden: HIDDEN, layers: LAYERS, heads: 4, intermediate: HIDDEN * 3, maxPositions: 1280 });

  // `--names all`: drills also name the evaluated people (values drawn per drill, so nothing
  // about them is learnt but their name tokens), as a pretrained model has seen every token.
  const named: readonly Person[] = NAMES === 'all' ? [...drillPeople, ...people] : drillPeople;
  const drnd = mulberry32(SEED + 1234);
  const induction = (): ContextDrill => {
    const r = Array.from({ length: 8 + Math.floor(drnd() * 24) }, () => 2 + Math.floor(drnd() * (tok.size - 2)));
    const ids = [tok.bos, ...r, ...r];
    return { ids, mask: ids.map((_, s) => s > r.length + 1) }; // the first repeated token cannot be predicted
  };
  const drill = (maxFacts: number): ContextDrill => {
    if (drnd() < INDUCTION) return induction();
    if (KIND === 'short') return shortDrill(named, tok, drnd);
    if (KIND === 'context') return contextDrill(named, tok, drnd, { maxTokens: maxFacts * 7, skew: SKEW, repeatShare: QUESTIONS });
    return lookupDrill(named, tok, drnd, { maxFacts, skew: SKEW, sameAttribute: SAME, questionShare: QUESTIONS });
  };
  const stages = CURRICULUM ? parseCurriculum(CURRICULUM) : [{ maxFacts: MAX_FACTS, steps: STEPS }];
  const plain = PLAIN ? [...generic, ...famous.flatMap(sentences), ...famous.flatMap(sentences)].map((s) => tok.encode(s)) : [];
  const params = initParams64(config, SEED);
  const root = mkdtempSync(join(tmpdir(), 'engram-anchor-reading-'));
  const readRnd = mulberry32(SEED + 99);
  let loss = NaN;
  let t = performance.now();
  for (const [k, stage] of stages.entries()) {
    const drills = Array.from({ length: DRILLS }, () => drill(stage.maxFacts));
    const meanTokens = drills.reduce((n, d) => n + d.ids.length, 0) / drills.length;
    log(`stage ${k + 1}/${stages.length}: vocab ${tok.size}; ${DRILLS} ${KIND} drills of ≤ ${stage.maxFacts} facts, mean ${meanTokens.toFixed(0)} tokens; ${plain.length} plain sentences; ${stage.steps} steps`);
    const ts = performance.now();
    loss = await trainAnchorOnnx(config, params, [...plain, ...drills.map((d) => d.ids)], {
      steps: stage.steps,
      batch: 12,
      lr: LR,
      seed: SEED + k,
      lossMasks: [...plain.map(() => undefined), ...drills.map((d) => d.mask)],
      onProgress: (s, n, l) => s % 250 === 0 && log(`step ${s}/${n} loss ${l.toFixed(3)} (${((performance.now() - ts) / 1000).toFixed(0)} s)`),
    });
    if (stages.length > 1) {
      // Reading at this stage's length, on the evaluated people (fewer questions: a progress figure).
      const registry = new OnnxSessionRegistry();
      try {
        const dir = join(root, `stage-${k}`);
        writeAnchorModelDir(dir, config, params, tok, '.');
        const lm = await loadLanguageModel(dir, registry, { intraOpThreads: 1 });
        const n = Math.min(150, stage.maxFacts);
        log(`stage ${k + 1} done: loss ${loss.toFixed(3)}, reading_${n} ${(await readingAccuracy(lm, tok, people, n, { questions: 30, rnd: readRnd, values: 'own' })).toFixed(3)} (${((performance.now() - t) / 1000).toFixed(0)} s so far)`);
      } finally {
        await registry.disposeAll();
      }
    }
  }
  const trainS = (performance.now() - t) / 1000;

  const registry = new OnnxSessionRegistry();
  try {
    writeAnchorModelDir(join(root, 'model'), config, params, tok, '.');
    const lm = await loadLanguageModel(join(root, 'model'), registry, { intraOpThreads: 1 });
    t = performance.now();
    const reading = (who: readonly Person[], values: 'own' | 'fresh', n: number): Promise<number> => readingAccuracy(lm, tok, who, n, { questions: READING, rnd: readRnd, values });
    const rows: Array<Record<string, number>> = [];
    const figures: Record<string, number> = {};
    for (const n of [4, 16, 64, 150]) {
      const evaluated = await reading(people, 'own', n);
      const drilled = await reading(drillPeople.slice(0, people.length), 'fresh', n);
      rows.push({ facts: n, reading: evaluated, drillReading: drilled });
      figures[`reading_${n}_facts`] = evaluated;
      figures[`drill_reading_${n}_facts`] = drilled;
    }
    const plan = stages.map((st) => `${st.maxFacts}:${st.steps}`).join(',');
    console.log(`anchor reading: ${HIDDEN}d × ${LAYERS}L, stages (max facts:steps) ${plan}, ${DRILLS} ${KIND} drills per stage (skew ${SKEW}, same attribute ${SAME}, questions ${QUESTIONS}, names ${NAMES}, induction ${INDUCTION}), plain ${PLAIN}, trained in ${trainS.toFixed(0)} s, load ${loadavg()[0].toFixed(2)}`);
    console.table(rows);
    console.log(JSON.stringify({ bench: 'anchor-reading', kind: KIND, stages: plan, final_loss: r3(loss), ...figures, train_s: Math.round(trainS), eval_s: Math.round((performance.now() - t) / 1000), bench_s: Math.round((performance.now() - t0) / 1000), load_average: Math.round(loadavg()[0] * 100) / 100 }));
  } finally {
    await registry.disposeAll();
    rmSync(root, { recursive: true, force: true });
  }
}

/** `8:1500,16:1000` → stages of up to 8 facts for 1,500 steps, then up to 16 for 1,000. */
function parseCurriculum(text: string): { maxFacts: number; steps: number }[] {
  return text.split(',').map((part) => {
    const [facts, steps] = part.split(':').map(Number);
    if (!(Number.isInteger(facts) && facts >= 2 && Number.isInteger(steps) && steps >= 1)) throw new Error(`--curriculum: "${part}" is not FACTS:STEPS (e.g. 8:1500,16:1000)`);
    return { maxFacts: facts, steps };
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
