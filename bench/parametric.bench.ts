// Parametric memory in miniature (Pouransari et al. 2025, DESIGN.md §7, ADR 0301): a tiny
// anchor trained on CPU on generic text (+ a few "famous" people so it learns the fact
// phrasings), a bank over long-tail people it never saw, their facts written into the
// bank with the anchor frozen. Reports exact-match attribute accuracy (anchor alone /
// routed block / wrong block / a dense model with ~2x the anchor's parameters), locality,
// forgetting, fetch latency per tier, fetch+attach vs one decode step, bank size, and
// cold positional reads in a ≥1e9-parameter (sparse) bank. Table, then ONE JSON line.
//   npm run bench:parametric -- [--provider cpu|cuda|webgpu] [--people 32] [--anchor-steps 500] [--epochs 30] [--replay 8] [--replay-weight 20] [--replay-target anchor|tokens] [--gradient onnx|typescript] [--abstain 0.3] [--dense 1] [--big 1] [--facts-first-target 2] [--weight-decay 0] [--answer-tokens 32] [--seed 7]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  buildLlamaGraph,
  DEFAULT_MEMORY_SLOTS,
  encodeOnnxModel,
  floatTensor,
  int64Tensor,
  EMPTY_MEMORY_RANK,
  memoryFeeds,
  mulberry32,
  OnnxSessionRegistry,
  pastKeyName,
  pastValueName,
  presentKeyName,
  presentValueName,
  type ExecutionProvider,
  type LlamaConfig,
  type MemoryBlock,
} from '@engram/inference';
import {
  forwardBackward,
  initParams64,
  OnnxMemoryGradient,
  ParametricBank,
  paramArrays,
  tinyLlamaConfig,
  toLlamaWeights,
  trainAnchor,
  trainAnchorOnnx,
  typescriptGradient,
  type AnchorModel,
  type BankText,
  type Memory64,
  type Params64,
} from '@engram/parametric';
import { HashEmbedder } from '@engram/plaintext';
import {
  ATTRIBUTES,
  bio,
  fingerprintOf,
  genericSentence,
  makePeople,
  nextToken,
  paramCount,
  perplexity,
  question,
  sentences,
  toMem64,
  WordTokenizer,
  type Person,
} from './support/parametric-world';
import { textArg as arg } from './support/args';
import { bigBankPhase } from './support/big-bank';

/** Execution provider of the inference sessions (training runs on the CPU either way). */
const PROVIDER = arg('provider', 'cpu') as ExecutionProvider;
const PEOPLE = Number(arg('people', '32'));
const FAMOUS = Number(arg('famous', '16'));
const GENERIC = Number(arg('generic', '1500'));
const HIDDEN = Number(arg('hidden', '48'));
const LAYERS = Number(arg('layers', '2'));
const ANCHOR_STEPS = Number(arg('anchor-steps', '500'));
const BATCH = Number(arg('batch', '12'));
const LEVELS = Number(arg('levels', '2'));
const BRANCHING = Number(arg('branching', '4'));
const RANKS = arg('ranks', '8,32').split(',').map(Number);
const EPOCHS = Number(arg('epochs', '30'));
const REPLAY = Number(arg('replay', '8'));
const ABSTAIN = Number(arg('abstain', '0.3'));
const REPLAY_TARGET = arg('replay-target', 'anchor') as 'anchor' | 'tokens';
const REPLAY_WEIGHT = Number(arg('replay-weight', '20'));
const WRITE_LR = Number(arg('write-lr', '0.01'));
const WEIGHT_DECAY = Number(arg('weight-decay', '0'));
const FACTS_FIRST_TARGET = Number(arg('facts-first-target', '2'));
const DENSE = arg('dense', '1') === '1';
const BIG = arg('big', '1') === '1';
const BIG_BLOCKS = Number(arg('big-blocks', '48'));
const ANSWER_TOKENS = Number(arg('answer-tokens', '32'));
const THREADS = Number(arg('threads', '0'));
const SEED = Number(arg('seed', '7'));
const GRADIENT = arg('gradient', 'onnx') as 'onnx' | 'typescript';
const trainFull = (cfg: LlamaConfig, p: Params64, seqs: number[][], o: Parameters<typeof trainAnchor>[3]) =>
  GRADIENT === 'onnx' ? trainAnchorOnnx(cfg, p, seqs, o) : Promise.resolve(trainAnchor(cfg, p, seqs, o));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r4 = (x: number): number => Math.round(x * 10000) / 10000;
const log = (msg: string): void => void process.stderr.write(`[bench:parametric] ${msg}\n`);

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'engram-parametric-bench-'));
  const rnd = mulberry32(SEED);
  const taken = new Set<string>();
  const famous = makePeople(FAMOUS, rnd, taken);
  const people = makePeople(PEOPLE, rnd, taken);
  const generic = Array.from({ length: GENERIC }, () => genericSentence(rnd));
  const heldOut = Array.from({ length: 150 }, () => genericSentence(rnd));
  const factSentences = (ps: Person[]) => ps.flatMap(sentences);
  const tok = new WordTokenizer([...generic, ...heldOut, ...factSentences(famous), ...factSentences(people)]);
  const config = tinyLlamaConfig({ vocab: tok.size, hidden: HIDDEN, layers: LAYERS, heads: 4, intermediate: HIDDEN * 3, maxPositions: 64 });

  // 1. Anchor: generic text + famous people (it learns the phrasings, not the long tail).
  const anchorData = [...generic, ...factSentences(famous), ...factSentences(famous)].map((s) => tok.encode(s));
  const anchorParams = initParams64(config, SEED);
  let ta = performance.now();
  const anchorLoss = await trainFull(config, anchorParams, anchorData, {
    steps: ANCHOR_STEPS,
    batch: BATCH,
    lr: 3e-3,
    seed: SEED,
    onProgress: (s, n, l) => s % 100 === 0 && log(`anchor step ${s}/${n} loss ${l.toFixed(3)}`),
  });
  const anchorSeconds = (performance.now() - ta) / 1000;
  log(`anchor trained in ${anchorSeconds.toFixed(1)} s with ${GRADIENT} gradients (final loss ${anchorLoss.toFixed(3)})`);
  const anchor: AnchorModel = {
    config,
    params: anchorParams,
    fingerprint: fingerprintOf(anchorParams),
    tokenize: (t) => tok.encode(t),
    segment: (t) => t.split(' . ').map((s) => (s.endsWith('.') ? s : `${s} .`)),
  };

  // 1b. Memory-gradient engines: TypeScript backward vs the ONNX gradient graph on ORT.
  const R = RANKS.reduce((a, b) => a + b, 0);
  const probe = factSentences(people).slice(0, 40).map((x) => tok.encode(x));
  const maxSeq = Math.max(...factSentences(people).map((x) => tok.encode(x).length));
  const probeMem = toMem64({ rank: R, gate: new Float32Array(LAYERS * R * HIDDEN).fill(0.01), up: new Float32Array(LAYERS * R * HIDDEN).fill(0.01), down: new Float32Array(LAYERS * R * HIDDEN).fill(0.01) });
  const engines = [typescriptGradient(anchor), await OnnxMemoryGradient.create(anchor, { maxSeq, rank: R })];
  const gradMs: Record<string, number> = {};
  const grads: Float64Array[] = [];
  for (const engine of engines) {
    const grad = { rank: R, gate: new Float64Array(probeMem.gate.length), up: new Float64Array(probeMem.up.length), down: new Float64Array(probeMem.down.length) };
    await engine.accumulate(probe[0], probeMem, { ...grad, gate: new Float64Array(grad.gate.length), up: new Float64Array(grad.up.length), down: new Float64Array(grad.down.length) }, 1);
    const t = performance.now();
    for (const ids of probe) await engine.accumulate(ids, probeMem, grad, 1 / probe.length);
    gradMs[engine.kind] = (performance.now() - t) / probe.length;
    grads.push(grad.down);
    await engine.dispose();
  }
  let gradDiff = 0;
  let gradScale = 0;
  for (let i = 0; i < grads[0].length; i++) {
    gradDiff = Math.max(gradDiff, Math.abs(grads[0][i] - grads[1][i]));
    gradScale = Math.max(gradScale, Math.abs(grads[0][i]));
  }
  log(`memory gradient per sequence: typescript ${gradMs.typescript.toFixed(2)} ms, onnx ${gradMs.onnx.toFixed(2)} ms (max |Δ| ${gradDiff.toExponential(2)} of ${gradScale.toExponential(2)})`);

  // 2. Bank over the long-tail people (one memory = one person's bio).
  const embedder = new HashEmbedder({ dimension: 256 });
  const texts: BankText[] = people.map((p) => ({ id: p.id, text: bio(p, rnd) }));
  let tb = performance.now();
  const bank = await ParametricBank.build({
    dir: join(root, 'bank'),
    modelFingerprint: anchor.fingerprint,
    hidden: HIDDEN,
    layers: LAYERS,
    embedder,
    texts,
    levels: LEVELS,
    branching: BRANCHING,
    ranks: RANKS,
    dtype: 'f32',
    seed: SEED,
  });
  const buildSeconds = (performance.now() - tb) / 1000;

  // 3. Write every person into the bank.
  tb = performance.now();
  let tokensWritten = 0;
  for (const t of texts) tokensWritten += anchor.segment!(t.text).reduce((a, s) => a + tok.encode(s).length, 0);
  const write = await bank.writeAsync(anchor, texts.map((t) => t.id), texts, {
    gradient: GRADIENT,
    epochs: EPOCHS,
    batch: BATCH,
    lr: WRITE_LR,
    seed: SEED,
    replay: REPLAY > 0 ? generic : undefined,
    replayPerStep: REPLAY || undefined,
    replayTarget: REPLAY_TARGET,
    replayWeight: REPLAY_WEIGHT,
    weightDecay: WEIGHT_DECAY,
    factsFirstTarget: FACTS_FIRST_TARGET,
    onProgress: (s, n, l) => s % 200 === 0 && log(`write step ${s}/${n} loss ${l.toFixed(3)}`),
  });
  const writeSeconds = (performance.now() - tb) / 1000;
  log(`wrote ${texts.length} memories into ${write.blocks.length} blocks in ${writeSeconds.toFixed(1)} s (loss ${write.firstLoss.toFixed(3)} → ${write.finalLoss.toFixed(3)})`);

  // 4. Accuracy.
  const leafOf = (p: Person) => bank.tree.leaves.get(p.id)!;
  const routeCache = new Map<string, number[]>();
  const routeOf = async (text: string) => {
    let r = routeCache.get(text);
    if (!r) routeCache.set(text, (r = await bank.route(embedder, text)));
    return r;
  };
  const memOfPath = (path: number[]) => toMem64(bank.fetchConcatenated(path));
  const leaves = [...new Set(people.map(leafOf))];
  const accuracy = async (ps: Person[], mode: 'anchor' | 'routed' | 'oracle' | 'wrong', params = anchorParams, cfg = config) => {
    let hit = 0;
    let total = 0;
    let routedRight = 0;
    for (const p of ps) {
      for (let a = 0; a < ATTRIBUTES.length; a++) {
        const q = question(p, a);
        let mem: Memory64 | undefined;
        if (mode === 'routed') {
          const path = await routeOf(q);
          if (path.at(-1) === leafOf(p)) routedRight++;
          mem = memOfPath(path);
        } else if (mode === 'oracle') mem = memOfPath(bank.tree.pathOfLeaf(leafOf(p)));
        else if (mode === 'wrong') {
          const other = leaves.find((l, i) => l !== leafOf(p) && bank.tree.pathOfLeaf(l)[0] !== bank.tree.pathOfLeaf(leafOf(p))[0] && i >= 0) ?? leaves.find((l) => l !== leafOf(p))!;
          mem = memOfPath(bank.tree.pathOfLeaf(other));
        }
        const want = tok.ids.get(p.values[a])!;
        if (nextToken(cfg, params, tok.encode(q), mem) === want) hit++;
        total++;
      }
    }
    return { acc: hit / total, routing: routedRight / total };
  };
  const accAnchor = await accuracy(people, 'anchor');
  const accRouted = await accuracy(people, 'routed');
  const accOracle = await accuracy(people, 'oracle');
  const accWrong = await accuracy(people, 'wrong');
  const accFamous = await accuracy(famous, 'anchor');
  const chance = ATTRIBUTES.reduce((a, x) => a + 1 / x.values.length, 0) / ATTRIBUTES.length;
  log(`accuracy anchor ${accAnchor.acc.toFixed(3)} routed ${accRouted.acc.toFixed(3)} (routing ${accRouted.routing.toFixed(3)}) oracle ${accOracle.acc.toFixed(3)} wrong ${accWrong.acc.toFixed(3)}`);

  // 5. Locality: held-out generic text with and without the block its text routes to.
  const heldSeqs = heldOut.map((s) => tok.encode(s));
  const heldPaths = await Promise.all(heldOut.map((s) => routeOf(s)));
  const pplAnchor = perplexity(config, anchorParams, heldSeqs);
  const pplMemory = perplexity(config, anchorParams, heldSeqs, (i) => memOfPath(heldPaths[i]));
  // The same on sentences the write replayed: a gap to held-out text is the replay not generalising.
  const seenText = generic.slice(0, heldOut.length);
  const seenSeqs = seenText.map((s) => tok.encode(s));
  const seenPaths = await Promise.all(seenText.map((s) => routeOf(s)));
  const pplSeenAnchor = perplexity(config, anchorParams, seenSeqs);
  const pplSeenMemory = perplexity(config, anchorParams, seenSeqs, (i) => memOfPath(seenPaths[i]));
  // Router abstention: below a cosine threshold to the leaf centroid the anchor runs alone.
  const scored = async (t: string) => bank.tree.routeScored((await embedder.embed([t]))[0]);
  const questionSims = await Promise.all(people.flatMap((p) => ATTRIBUTES.map((_, a) => scored(question(p, a)))));
  const heldSims = await Promise.all(heldOut.map(scored));
  const heldAbstain = heldSims.map((r) => r.similarity < ABSTAIN);
  const pplAbstain = perplexity(config, anchorParams, heldSeqs, (i) => (heldAbstain[i] ? undefined : memOfPath(heldPaths[i])));
  const questionsAnswered = questionSims.filter((r) => r.similarity >= ABSTAIN).length / questionSims.length;
  let abstainHits = 0;
  {
    let qi = 0;
    for (const p of people) {
      for (let a = 0; a < ATTRIBUTES.length; a++, qi++) {
        const r = questionSims[qi];
        const mem = r.similarity >= ABSTAIN ? memOfPath(r.path) : undefined;
        if (nextToken(config, anchorParams, tok.encode(question(p, a)), mem) === tok.ids.get(p.values[a])) abstainHits++;
      }
    }
  }
  const accRoutedAbstaining = abstainHits / questionSims.length;
  log(`similarity to leaf: questions median ${median(questionSims.map((r) => r.similarity)).toFixed(3)} min ${Math.min(...questionSims.map((r) => r.similarity)).toFixed(3)}; held-out generic median ${median(heldSims.map((r) => r.similarity)).toFixed(3)} max ${Math.max(...heldSims.map((r) => r.similarity)).toFixed(3)}`);

  // 6. Dense baseline with ~2x the anchor's parameters, same data + the long-tail facts, same steps.
  let dense: { acc: number; params: number; seconds: number; ppl: number } | null = null;
  if (DENSE) {
    const denseConfig = tinyLlamaConfig({ vocab: tok.size, hidden: HIDDEN, layers: LAYERS * 2, heads: 4, intermediate: HIDDEN * 3, maxPositions: 64 });
    const denseParams = initParams64(denseConfig, SEED + 1);
    const td = performance.now();
    await trainFull(denseConfig, denseParams, [...anchorData, ...factSentences(people).map((s) => tok.encode(s))], {
      steps: ANCHOR_STEPS,
      batch: BATCH,
      lr: 3e-3,
      seed: SEED,
      onProgress: (s, n, l) => s % 100 === 0 && log(`dense step ${s}/${n} loss ${l.toFixed(3)}`),
    });
    const a = await accuracy(people, 'anchor', denseParams, denseConfig);
    dense = { acc: a.acc, params: paramCount(denseParams), seconds: (performance.now() - td) / 1000, ppl: perplexity(denseConfig, denseParams, heldSeqs) };
  }

  // 7. Forgetting: delete one person, rewrite the stale blocks without them.
  const victim = people[0];
  const neighbours = people.filter((p) => p !== victim && bank.tree.pathOfLeaf(leafOf(p))[0] === bank.tree.pathOfLeaf(leafOf(victim))[0]);
  const victimBefore = await accuracy([victim], 'oracle');
  const neighboursBefore = await accuracy(neighbours, 'oracle');
  const stale = bank.deleteMemories([victim.id]);
  const tr = performance.now();
  const rewrite = await bank.rewriteStaleAsync(anchor, texts, { gradient: GRADIENT, epochs: EPOCHS, batch: BATCH, lr: WRITE_LR, seed: SEED + 1, replay: REPLAY > 0 ? generic : undefined, replayPerStep: REPLAY || undefined, replayTarget: REPLAY_TARGET, replayWeight: REPLAY_WEIGHT, weightDecay: WEIGHT_DECAY, factsFirstTarget: FACTS_FIRST_TARGET });
  const rewriteSeconds = (performance.now() - tr) / 1000;
  const victimAfter = await accuracy([victim], 'oracle');
  const neighboursAfter = await accuracy(neighbours, 'oracle');
  const victimAnchor = await accuracy([victim], 'anchor');

  // 8. Cost: fetch per tier, fetch + attach vs one decode step on ONNX Runtime.
  const store = bank.store;
  const samplePaths = leaves.map((l) => bank.tree.pathOfLeaf(l));
  const cold: number[] = [];
  const warm: number[] = [];
  const ramOnly: number[] = [];
  const repeat: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    for (const path of samplePaths) {
      store.invalidate();
      let t = performance.now();
      store.fetch(path);
      cold.push(performance.now() - t);
      store.dropPathCache();
      t = performance.now();
      store.fetch(path);
      warm.push(performance.now() - t);
      t = performance.now();
      store.fetch(path);
      repeat.push(performance.now() - t);
      t = performance.now();
      store.block(1, path[0]);
      ramOnly.push(performance.now() - t);
    }
  }
  const registry = new OnnxSessionRegistry();
  const weights = toLlamaWeights(config, anchorParams);
  const session = await registry.acquire({ key: `bench-${anchor.fingerprint}`, build: () => encodeOnnxModel(buildLlamaGraph(config, weights).model()) }, { intraOpThreads: 1, provider: PROVIDER });
  const routedPath = await routeOf(question(people[1], 0));
  const routedMem = bank.fetch(routedPath);
  const kvShape = (P: number) => [1, config.numKvHeads, P, config.headDim];
  // The memory feeds are what LanguageModel.attach builds on a request's first step (views
  // of the fetched blocks, one memory slot per level) and reuses on every later step.
  const attachFresh = (mem: readonly MemoryBlock[]) => memoryFeeds(mem, DEFAULT_MEMORY_SLOTS, LAYERS, HIDDEN, EMPTY_MEMORY_RANK[PROVIDER]);
  const routedFeeds = attachFresh(routedMem);
  const feedsFor = (ids: number[], past: Float32Array[][] | null, P: number) => {
    const feeds: Record<string, ReturnType<typeof floatTensor>> = {
      input_ids: int64Tensor(ids, [1, ids.length]),
      attention_mask: int64Tensor(new Array(P + ids.length).fill(1), [1, P + ids.length]),
      position_ids: int64Tensor(ids.map((_, i) => P + i), [1, ids.length]),
      ...routedFeeds,
    };
    for (let l = 0; l < LAYERS; l++) {
      feeds[pastKeyName(l)] = floatTensor(past ? past[l][0] : new Float32Array(0), kvShape(P));
      feeds[pastValueName(l)] = floatTensor(past ? past[l][1] : new Float32Array(0), kvShape(P));
    }
    return feeds;
  };
  const promptIds = tok.encode(question(people[1], 0));
  const pre = await session.run(feedsFor(promptIds, null, 0));
  // ORT with the fetched blocks (one slot per level) agrees with the TypeScript forward pass
  // (blocks concatenated along R) used for the accuracies.
  const tsNext = nextToken(config, anchorParams, promptIds, memOfPath(routedPath));
  const V = config.vocabSize;
  const ortRow = (pre.logits.data as Float32Array).subarray((promptIds.length - 1) * V, promptIds.length * V);
  const ortNext = ortRow.indexOf(Math.max(...ortRow));
  const past = Array.from({ length: LAYERS }, (_, l) => [pre[presentKeyName(l)].data as Float32Array, pre[presentValueName(l)].data as Float32Array]);
  const decode: number[] = [];
  for (let rep = 0; rep < 30; rep++) {
    const t = performance.now();
    await session.run(feedsFor([tsNext], past, promptIds.length));
    decode.push(performance.now() - t);
  }
  const attach: number[] = [];
  for (let rep = 0; rep < 30; rep++) {
    store.dropPathCache();
    const fresh = store.fetch(routedPath);
    const t = performance.now();
    attachFresh(fresh);
    attach.push(performance.now() - t);
  }
  await registry.disposeAll();
  const bankBytes = statSync(join(root, 'bank', 'bank.bin')).size;

  // 9. A ≥1e9-parameter bank (sparse file): cold positional reads of written blocks.
  const big = BIG ? await bigBankPhase({ root, seed: SEED, blocks: BIG_BLOCKS, threads: THREADS, provider: PROVIDER, answerTokens: ANSWER_TOKENS }) : null;
  const bankParams = bank.inspect().parameters;
  bank.close();
  rmSync(root, { recursive: true, force: true });

  const anchorParamsN = paramCount(anchorParams);
  const blockParams = RANKS.reduce((a, r) => a + 3 * LAYERS * r * HIDDEN, 0);
  const figures = {
    bench: 'parametric',
    people: PEOPLE,
    questions: PEOPLE * ATTRIBUTES.length,
    anchorParams: anchorParamsN,
    fetchedParams: blockParams,
    fetchedShareOfAnchor: r4(blockParams / anchorParamsN),
    bankParams,
    anchorSteps: ANCHOR_STEPS,
    anchorSeconds: r2(anchorSeconds),
    anchorGradient: GRADIENT,
    chance: r4(chance),
    accAnchor: r4(accAnchor.acc),
    accRouted: r4(accRouted.acc),
    accOracleRoute: r4(accOracle.acc),
    accWrongBlock: r4(accWrong.acc),
    routingAccuracy: r4(accRouted.routing),
    accFamousAnchor: r4(accFamous.acc),
    accDense2x: dense ? r4(dense.acc) : null,
    dense2xParams: dense?.params ?? null,
    pplAnchor: r4(pplAnchor),
    pplWithMemory: r4(pplMemory),
    pplChangePct: r2((100 * (pplMemory - pplAnchor)) / pplAnchor),
    pplChangeReplayedPct: r2((100 * (pplSeenMemory - pplSeenAnchor)) / pplSeenAnchor),
    weightDecay: WEIGHT_DECAY,
    factsFirstTarget: FACTS_FIRST_TARGET,
    pplDense2x: dense ? r4(dense.ppl) : null,
    replayTarget: REPLAY_TARGET,
    replayWeight: REPLAY_WEIGHT,
    abstainThreshold: ABSTAIN,
    pplWithMemoryAbstaining: r4(pplAbstain),
    pplChangeAbstainingPct: r2((100 * (pplAbstain - pplAnchor)) / pplAnchor),
    heldOutAbstainedShare: r4(heldAbstain.filter(Boolean).length / heldAbstain.length),
    questionsRoutedShare: r4(questionsAnswered),
    accRoutedAbstaining: r4(accRoutedAbstaining),
    forgetVictimBefore: r4(victimBefore.acc),
    forgetVictimAfter: r4(victimAfter.acc),
    forgetVictimAnchor: r4(victimAnchor.acc),
    forgetNeighboursBefore: r4(neighboursBefore.acc),
    forgetNeighboursAfter: r4(neighboursAfter.acc),
    forgetStaleBlocks: stale.length,
    rewriteSeconds: r2(rewriteSeconds),
    buildSeconds: r2(buildSeconds),
    buildTextsPerSecond: r2(texts.length / buildSeconds),
    writeGradient: write.gradient,
    gradMsPerSeqTypescript: r4(gradMs.typescript),
    gradMsPerSeqOnnx: r4(gradMs.onnx),
    gradMaxAbsDiff: gradDiff,
    gradMaxAbs: gradScale,
    writeSteps: write.steps,
    writeSeconds: r2(writeSeconds),
    writeTokensPerSecond: r2((tokensWritten * EPOCHS) / writeSeconds),
    writeLossFirst: r4(write.firstLoss),
    writeLossFinal: r4(write.finalLoss),
    fetchColdMs: r4(median(cold)),
    fetchWarmMs: r4(median(warm)),
    fetchRamTierMs: r4(median(ramOnly)),
    fetchRepeatPathMs: r4(median(repeat)),
    attachMs: r4(median(attach)),
    decodeStepMs: r4(median(decode)),
    fetchAttachShareColdPct: r2((100 * (median(cold) + median(attach))) / median(decode)),
    fetchAttachShareWarmPct: r2((100 * (median(warm) + median(attach))) / median(decode)),
    ortAgreesWithTs: ortNext === tsNext,
    tierMetrics: store.metrics,
    bankFileBytes: bankBytes,
    big,
    totalSeconds: r2((performance.now() - t0) / 1000),
  };

  const rows: Array<[string, string]> = [
    ['anchor params / fetched block params', `${anchorParamsN} / ${blockParams} (${(100 * figures.fetchedShareOfAnchor).toFixed(1)}%)`],
    ['exact match: anchor alone', `${(100 * accAnchor.acc).toFixed(1)}%  (chance ${(100 * chance).toFixed(1)}%)`],
    ['exact match: anchor + routed block', `${(100 * accRouted.acc).toFixed(1)}%  (routing to the right leaf ${(100 * accRouted.routing).toFixed(1)}%)`],
    ['exact match: anchor + own leaf path', `${(100 * accOracle.acc).toFixed(1)}%`],
    ['exact match: anchor + wrong block', `${(100 * accWrong.acc).toFixed(1)}%`],
    ['exact match: dense 2x (facts in training)', dense ? `${(100 * dense.acc).toFixed(1)}%  (${dense.params} params, ${dense.seconds.toFixed(0)} s)` : 'skipped'],
    ['exact match: famous people, anchor', `${(100 * accFamous.acc).toFixed(1)}%`],
    [`held-out ppl: anchor / + memory (replay → ${REPLAY_TARGET})`, `${pplAnchor.toFixed(3)} / ${pplMemory.toFixed(3)} (${figures.pplChangePct}%; on replayed sentences ${figures.pplChangeReplayedPct}%)`],
    ['held-out ppl, router abstaining < cos ' + ABSTAIN, `${pplAbstain.toFixed(3)} (${figures.pplChangeAbstainingPct}%; abstained on ${(100 * figures.heldOutAbstainedShare).toFixed(0)}% of generic, ${(100 * (1 - questionsAnswered)).toFixed(0)}% of questions; exact match then ${(100 * accRoutedAbstaining).toFixed(1)}%)`],
    ['forget: victim before / after / anchor', `${(100 * victimBefore.acc).toFixed(0)}% / ${(100 * victimAfter.acc).toFixed(0)}% / ${(100 * victimAnchor.acc).toFixed(0)}%`],
    ['forget: neighbours before / after', `${(100 * neighboursBefore.acc).toFixed(1)}% / ${(100 * neighboursAfter.acc).toFixed(1)}% (${neighbours.length} people)`],
    ['fetch cold / warm blocks / repeated path / RAM-tier block (ms)', `${figures.fetchColdMs} / ${figures.fetchWarmMs} / ${figures.fetchRepeatPathMs} / ${figures.fetchRamTierMs}`],
    ['decode step / fetch+attach share (tiny anchor)', `${figures.decodeStepMs} ms / cold ${figures.fetchAttachShareColdPct}% warm ${figures.fetchAttachShareWarmPct}%`],
    ['memory gradient per sequence: TS / ONNX Runtime', `${gradMs.typescript.toFixed(2)} / ${gradMs.onnx.toFixed(2)} ms (max |Δ| ${gradDiff.toExponential(1)} vs max |g| ${gradScale.toExponential(1)})`],
    [`write (${write.gradient} gradients)`, `${write.steps} steps, ${writeSeconds.toFixed(1)} s, loss ${write.firstLoss.toFixed(2)} → ${write.finalLoss.toFixed(2)}`],
    ['bank file', `${(bankBytes / 1024).toFixed(0)} KiB`],
    ['512d×8L: path fetch cold / warm / repeat; attach 1st / later step (ms)', big ? `${big.pathFetchColdMs} / ${big.pathFetchWarmMs} / ${big.pathFetchRepeatMs}; ${big.attachFirstStepMs} / ${big.attachLaterStepMs}` : 'skipped'],
    ['512d×8L: decode step without / with memory (ms)', big ? `${big.decodeStepNoMemoryMs} / ${big.decodeStepMs}` : 'skipped'],
    ['512d×8L: fetch+attach share of a step, cold / warm / repeat', big ? `${big.fetchAttachShareColdPct}% / ${big.fetchAttachShareWarmPct}% / ${big.fetchAttachShareRepeatPct}% (later steps ${big.attachShareLaterStepPct}%)` : 'skipped'],
    [`512d×8L: same per token of a ${ANSWER_TOKENS}-token answer, cold / warm`, big ? `${big.fetchAttachShareColdPerAnswerTokenPct}% / ${big.fetchAttachShareWarmPerAnswerTokenPct}%` : 'skipped'],
    ['1e9 bank cold reads (median/p95/max ms)', big ? `${big.coldReadMsMedian} / ${big.coldReadMsP95} / ${big.coldReadMsMax}; raw pread ${big.rawPreadMsMedian} / ${big.rawPreadMsP95} (${big.parameters} params, ${big.apparentGiB} GiB sparse, ${big.onDiskMiB} MiB used, cache dropped: ${big.pageCacheDropped})` : 'skipped'],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`\nParametric memory bench (seed ${SEED}, ${PEOPLE} people, anchor ${HIDDEN}d×${LAYERS}L, tree ${LEVELS}×${BRANCHING}, ranks ${RANKS.join('/')})\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
