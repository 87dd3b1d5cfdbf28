// The memory OS end to end (issue 14, ADR 0403) on the synthetic world of bench:parametric:
// a tiny anchor trained here (generic text, famous people, and "read the context" drills so
// it can answer from text in its prompt), long-tail people whose facts are plaintext
// memories, questions with Zipf popularity over many turns. A scheduler cycle builds the
// working memory (the hottest facts that fit `--wm-tokens`, kept as a KV cache through
// @engram/activation) and consolidates hot, stable facts into a bank (verified
// ParametricBank.consolidateAsync, the write path of the server's consolidation job).
// Midway 10% of the facts change (half edited in place, half superseded by a new memory);
// their blocks go stale at once (left out of the request), and one more cycle rebuilds the
// working memory and rewrites the stale blocks. Same model, same questions, three modes:
//   (a) text: working-memory text + retrieved facts + question, all prefilled;
//   (b) scheduled: working-memory KV (reused) + bank blocks routed by the retrieved memory (the
//       blocks of its path that hold it fresh) + retrieved text for what is in neither;
//   (c) bank only: the question alone with the routed blocks.
// Table, then ONE JSON line. `--trace`: one row per changed fact — the answer, the answer without the blocks, with the blocks on the whole prompt (no KV reuse), in text mode and from the blocks alone, where the new text was, which levels were attached (stale answers are always listed).
//   npm run bench:memory-os -- [--people 96] [--turns 2000] [--eval 300] [--reading 60] [--wm-tokens 1024] [--anchor-steps 1500] [--drills 3000] [--drill-kind short|context|lookup|prefixed] [--drill-questions 1] [--drill-score tail|answers] [--drill-tokens 1088] [--drill-repeats 0.5] [--drill-skew 1] [--drill-people 200] [--hidden 64] [--layers 2] [--epochs 30] [--threads 0] [--provider cpu|cuda|webgpu] [--seed 7] [--trace]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ActivationMemory, KvCacheStore } from '@engram/activation';
import { generate, loadLanguageModel, mulberry32, OnnxSessionRegistry, type ExecutionProvider, type MemoryBlock } from '@engram/inference';
import { DEFAULT_REPLAY, initParams64, memoryRoute, ParametricBank, sampleAnchorSequences, tinyLlamaConfig, trainAnchorOnnx, type AnchorModel, type BankText } from '@engram/parametric';
import { HashEmbedder } from '@engram/plaintext';
import { writeAnchorModelDir } from './support/anchor-model-dir';
import { contextDrill, lookupDrill, parseDrillKind, prefixedDrill, shortDrill } from './support/context-drills';
import { textArg as arg } from './support/args';
import { readingAccuracy } from './support/reading';
import { ATTRIBUTES, genericSentence, makePeople, sentences, WordTokenizer, type Person } from './support/parametric-world';

const PEOPLE = Number(arg('people', '96'));
const FAMOUS = Number(arg('famous', '16'));
const GENERIC = Number(arg('generic', '1500'));
const DRILLS = Number(arg('drills', '3000'));
const DRILL_PEOPLE = Number(arg('drill-people', '200'));
const DRILL_KIND = parseDrillKind(arg('drill-kind', 'short'));
const WM_TOKENS_ARG = Number(arg('wm-tokens', '1024'));
const DRILL_TOKENS = Number(arg('drill-tokens', String(WM_TOKENS_ARG + 64)));
const DRILL_REPEATS = Number(arg('drill-repeats', '0.5'));
const DRILL_SKEW = Number(arg('drill-skew', '1'));
const DRILL_QUESTIONS = Number(arg('drill-questions', '1'));
const DRILL_SCORE = arg('drill-score', 'tail') === 'answers' ? 'answers' : 'tail';
const HIDDEN = Number(arg('hidden', '64'));
const LAYERS = Number(arg('layers', '2'));
const ANCHOR_STEPS = Number(arg('anchor-steps', '1500'));
const TURNS = Number(arg('turns', '2000'));
const EVAL = Number(arg('eval', '300'));
const READING = Number(arg('reading', '60'));
const WM_TOKENS = WM_TOKENS_ARG;
const ZIPF = Number(arg('zipf', '1.1'));
const CHANGED = Number(arg('changed', '0.1'));
const MIN_ACCESSES = Number(arg('min-accesses', '2'));
const MAX_PER_RUN = Number(arg('max-per-run', '256'));
const EPOCHS = Number(arg('epochs', '30'));
const MIN_RECALL = Number(arg('min-recall', '0.5'));
const MAX_PPL = Number(arg('max-ppl-increase', '0.05'));
const THREADS = Number(arg('threads', '0'));
/** Execution provider of the answering model (the anchor and the bank train on the CPU either way). */
const PROVIDER = arg('provider', 'cpu') as ExecutionProvider;
const SEED = Number(arg('seed', '7'));
const TRACE = process.argv.includes('--trace'); // one row per changed fact (stale answers are always traced)

const log = (msg: string): void => void process.stderr.write(`[bench:memory-os] ${msg}\n`);
const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const NO_BLOCK: MemoryBlock = { rank: 0, gate: new Float32Array(0), up: new Float32Array(0), down: new Float32Array(0) };

/** One fact of a long-tail person, as a plaintext memory. */
interface Fact {
  key: string; // person × attribute: what questions ask
  person: Person;
  attr: number;
  value: string;
  memoryId: string;
  accesses: number;
  version: number;
}
const factText = (f: Pick<Fact, 'person' | 'attr' | 'value'>): string => ATTRIBUTES[f.attr].templates[0].replace('{n}', f.person.name).replace('{v}', f.value);
const questionText = (f: Pick<Fact, 'person' | 'attr'>): string => ATTRIBUTES[f.attr].templates[0].replace('{n}', f.person.name).split(' {v}')[0];

async function main(): Promise<void> {
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'engram-memory-os-bench-'));
  const rnd = mulberry32(SEED);
  const taken = new Set<string>();
  const famous = makePeople(FAMOUS, rnd, taken);
  const drillPeople = makePeople(DRILL_PEOPLE, rnd, taken);
  const people = makePeople(PEOPLE, rnd, taken);
  const generic = Array.from({ length: GENERIC }, () => genericSentence(rnd));
  const allValues = ATTRIBUTES.flatMap((a) => a.values);
  const tok = new WordTokenizer([...generic, ...[...famous, ...drillPeople, ...people].flatMap(sentences), allValues.join(' ')]);
  const words = (text: string): number[] => tok.encode(text).slice(1);
  // Positions for a working memory of WM_TOKENS plus retrieved text and the question.
  const config = tinyLlamaConfig({ vocab: tok.size, hidden: HIDDEN, layers: LAYERS, heads: 4, intermediate: HIDDEN * 3, maxPositions: WM_TOKENS + 256 });

  // 1. Anchor: generic text, famous people, and "read the context" drills (ADR 0404) so it
  //    can answer from text in its prompt: facts of drill people with values drawn per
  //    drill (nothing to memorise), then some of them again. `short` (default): 3–6 facts,
  //    one repeat, every token scored; `context`: up to `--drill-tokens` of facts, the
  //    repeated values scored only; `lookup`: up to `--drill-tokens` / 7 facts, half the
  //    contexts of one attribute (only the name finds the value). It never sees the
  //    long-tail people.
  const drills = Array.from({ length: DRILLS }, () =>
    DRILL_KIND === 'short' ? shortDrill(drillPeople, tok, rnd) : DRILL_KIND === 'prefixed' ? prefixedDrill(drillPeople, tok, rnd, { maxTokens: DRILL_TOKENS - 64, skew: DRILL_SKEW, questions: DRILL_QUESTIONS, score: DRILL_SCORE }) : DRILL_KIND === 'lookup' ? lookupDrill(drillPeople, tok, rnd, { maxFacts: Math.floor(DRILL_TOKENS / 7), skew: DRILL_SKEW }) : contextDrill(drillPeople, tok, rnd, { maxTokens: DRILL_TOKENS, skew: DRILL_SKEW, repeatShare: DRILL_REPEATS }),
  );
  const plain = [...generic, ...famous.flatMap(sentences), ...famous.flatMap(sentences)].map((s) => tok.encode(s));
  const anchorData = [...plain, ...drills.map((d) => d.ids)];
  const lossMasks = [...plain.map(() => undefined), ...drills.map((d) => d.mask)];
  const params = initParams64(config, SEED);
  let t = performance.now();
  const anchorLoss = await trainAnchorOnnx(config, params, anchorData, { steps: ANCHOR_STEPS, batch: 12, lr: 3e-3, seed: SEED, lossMasks, onProgress: (s, n, l) => s % 250 === 0 && log(`anchor step ${s}/${n} loss ${l.toFixed(3)}`) });
  const anchorSeconds = (performance.now() - t) / 1000;
  log(`anchor trained in ${anchorSeconds.toFixed(1)} s (loss ${anchorLoss.toFixed(3)})`);
  const modelDir = join(root, 'model');
  writeAnchorModelDir(modelDir, config, params, tok, '.');
  const registry = new OnnxSessionRegistry();
  const lm = await loadLanguageModel(modelDir, registry, { intraOpThreads: THREADS || undefined, provider: PROVIDER });
  const anchor: AnchorModel = { config, params, fingerprint: lm.fingerprint, tokenize: (s) => tok.encode(s), eosTokenIds: [tok.ids.get('.')!] };
  // How well the anchor reads a fact from a context of n facts of the long-tail people (bench/support/reading.ts).
  const reading: Record<string, number> = {};
  const readRnd = mulberry32(SEED + 99);
  for (const n of [4, 16, 64, 150]) reading[`reading_${n}_facts`] = await readingAccuracy(lm, tok, people, n, { questions: READING, rnd: readRnd });
  log(`reading: ${JSON.stringify(reading)}`);

  // 2. The cube: one memory per person × attribute; questions with Zipf popularity.
  const facts: Fact[] = people.flatMap((p) => ATTRIBUTES.map((_, a) => ({ key: `${p.id}/${a}`, person: p, attr: a, value: p.values[a], memoryId: `${p.id}-${a}`, accesses: 0, version: 1 })));
  const order = [...facts];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const weights = order.map((_, r) => 1 / Math.pow(r + 1, ZIPF));
  const total = weights.reduce((a, b) => a + b, 0);
  const ask = (): Fact => {
    let u = rnd() * total;
    for (let i = 0; i < order.length; i++) if ((u -= weights[i]) <= 0) return order[i];
    return order[order.length - 1];
  };
  const superseded = new Set<string>(); // memory ids no longer active
  const changedAt = new Map<string, number>(); // memory id → when its text last changed (an edit or a new superseding memory)
  const byKey = new Map(facts.map((f) => [f.key, f]));
  const successorOf = new Map<string, Fact>(); // superseded memory id → the fact whose new memory took its place
  const embedder = new HashEmbedder({ dimension: 256 });
  const bank = await ParametricBank.build({ dir: join(root, 'bank'), modelFingerprint: anchor.fingerprint, hidden: HIDDEN, layers: LAYERS, embedder, texts: facts.map((f) => ({ id: f.memoryId, text: factText(f) })), levels: 2, branching: 8, ranks: [8, 32], dtype: 'f32', seed: SEED });
  const heldOut = sampleAnchorSequences(anchor, { count: 16, maxTokens: 32, seed: 7919 });
  const activation = new ActivationMemory(new KvCacheStore({ dir: join(root, 'kv'), ramBytes: 256 * 1024 ** 2 }));

  // Phase 1: questions are asked; retrieval counts an access of the asked fact's memory.
  for (let i = 0; i < TURNS / 2; i++) ask().accesses++;

  // A scheduler cycle: working memory = hottest active facts within the token budget;
  // consolidation = hot facts (≥ MIN_ACCESSES) not held yet + stale blocks, one verified generation.
  let wm: Fact[] = [];
  let wmIds: number[] = [];
  const cycles: Array<Record<string, number | string>> = [];
  const cycle = async (name: string): Promise<void> => {
    const hot = [...byKey.values()].sort((a, b) => b.accesses - a.accesses || a.key.localeCompare(b.key));
    wm = [];
    let used = 1;
    for (const f of hot) {
      const n = words(factText(f)).length;
      if (f.accesses === 0 || used + n > WM_TOKENS) continue;
      wm.push(f);
      used += n;
    }
    wmIds = [tok.bos, ...wm.flatMap((f) => words(factText(f)))];
    let tc = performance.now();
    await activation.build(lm, { tokens: wmIds });
    const wmMs = performance.now() - tc;
    const blocks = [...bank.provenance.blocks.values()];
    const held = new Set(blocks.flatMap((b) => b.memoryIds));
    const fresh = new Set(blocks.filter((b) => !b.stale).flatMap((b) => b.memoryIds));
    const candidates = hot.filter((f) => f.accesses >= MIN_ACCESSES && !superseded.has(f.memoryId) && !fresh.has(f.memoryId)).slice(0, MAX_PER_RUN);
    // As the server's consolidation does (ADR 0405): the memory that superseded one a stale block held is written in its place.
    const successors = [...new Set(blocks.filter((b) => b.stale).flatMap((b) => b.memoryIds))].map((id) => successorOf.get(id)?.memoryId).filter((id): id is string => !!id && !held.has(id));
    const written = [...new Set([...candidates.map((c) => c.memoryId), ...successors])];
    const current = new Map([...byKey.values()].map((f) => [f.memoryId, f]));
    const corpus: BankText[] = [...new Set([...held, ...written])].filter((id) => current.has(id)).map((id) => ({ id, text: factText(current.get(id)!) }));
    // As the server's consolidation does (ADR 0403): a memory whose words changed since the tree placed it is re-placed by its current words and written at its new place.
    const moved = (await bank.reassign(embedder, corpus)).map((m) => m.id);
    await bank.assign(embedder, corpus);
    const replay = await bank.replayFor(anchor, DEFAULT_REPLAY);
    const stale = bank.provenance.staleBlocks().length;
    tc = performance.now();
    const report = await bank.consolidateAsync(anchor, [...new Set([...written, ...moved])], corpus, {
      gradient: 'onnx',
      epochs: EPOCHS,
      seed: SEED,
      ...replay.options,
      onProgress: (s, n, l) => s % 500 === 0 && log(`${name}: write step ${s}/${n} loss ${l.toFixed(3)}`),
      verify: {
        heldOut,
        memoryIds: corpus.map((c) => c.id),
        accept: (v) => (v.recall < MIN_RECALL ? `recall ${r3(v.recall)} < ${MIN_RECALL}` : v.perplexityIncrease > MAX_PPL ? `ppl +${r2(v.perplexityIncrease * 100)}% > ${MAX_PPL * 100}%` : null),
      },
    });
    const v = report.verification;
    cycles.push({ cycle: name, wmFacts: wm.length, wmTokens: wmIds.length, wmBuildMs: r2(wmMs), consolidated: candidates.length, successors: successors.length, replaced: moved.length, staleBlocksRewritten: stale, outcome: report.rejected ? `rolled back: ${report.rejected}` : 'committed', generation: report.generation, writeS: r2((performance.now() - tc) / 1000), recall: v ? r3(v.recall) : NaN, anchorRecall: v ? r3(v.anchorRecall) : NaN, pplIncreasePct: v ? r2(v.perplexityIncrease * 100) : NaN });
    log(`${name}: ${JSON.stringify(cycles.at(-1))}`);
  };
  await cycle('cycle 1');

  // Midway: CHANGED of the facts change — even ones edited in place, odd ones superseded by a new memory.
  const changed: Array<{ fact: Fact; old: string; kind: 'edit' | 'supersede'; wasInBank: boolean; oldId: string }> = [];
  const pool = [...facts];
  for (let i = 0; i < Math.round(CHANGED * facts.length); i++) {
    const f = pool.splice(Math.floor(rnd() * pool.length), 1)[0];
    const values = ATTRIBUTES[f.attr].values.filter((x) => x !== f.value);
    const old = f.value;
    const oldId = f.memoryId;
    const wasInBank = bank.provenance.holding(oldId).some((blk) => !blk.stale);
    f.value = values[Math.floor(rnd() * values.length)];
    f.version++;
    if (i % 2 === 1) {
      superseded.add(oldId);
      successorOf.set(oldId, f);
      f.memoryId = `${oldId}-v${f.version}`;
      f.accesses = 0; // a new memory: no reads yet
    }
    // Stale at once: every block holding the old memory leaves chat (as markStaleInCube does).
    for (const b of bank.provenance.holding(oldId)) b.stale = true;
    changedAt.set(f.memoryId, Date.now());
    changed.push({ fact: f, old, kind: i % 2 === 1 ? 'supersede' : 'edit', wasInBank, oldId });
  }
  for (let i = 0; i < TURNS / 2; i++) ask().accesses++;
  await cycle('cycle 2');

  // 3. Answers in the three modes.
  const routeBlocks = async (q: string): Promise<readonly MemoryBlock[]> => {
    const path = await bank.route(embedder, q);
    const blocks = bank.fetch(path);
    return blocks.map((b, i) => (bank.provenance.get(i + 1, path[i])?.stale ? NO_BLOCK : b));
  };
  const inWm = (f: Fact) => wm.includes(f);
  // Route by memory (ADR 0403): the best retrieved memory — the asked fact, for this ideal
  // retriever — decides the path (its tree leaf); a level's block is attached only when it
  // holds that memory, is fresh, and no retrieved memory it holds changed after it was
  // written (`memoryRoute`, the server's rule). Otherwise the bank stays silent for it.
  const memoryRouted = (f: Fact): { path: number[]; attach: boolean[] } | null => {
    const path = bank.tree.pathOf(f.memoryId);
    if (!path) return null;
    const person = new Set(ATTRIBUTES.map((_, a) => byKey.get(`${f.person.id}/${a}`)!.memoryId));
    const states = path.map((node, i) => {
      const rec = bank.provenance.get(i + 1, node);
      const written = rec ? Date.parse(rec.writtenAt) : 0;
      return { level: i + 1, written: !!rec, holds: !!rec?.memoryIds.includes(f.memoryId), stale: !!rec?.stale, newer: !!rec?.memoryIds.some((id) => person.has(id) && (changedAt.get(id) ?? 0) > written) };
    });
    const { attach, reason } = memoryRoute(path.length, states);
    return reason ? null : { path, attach };
  };
  const inBank = (f: Fact) => memoryRouted(f) !== null;
  const scheduledBlocks = async (f: Fact): Promise<readonly MemoryBlock[] | undefined> => {
    const routed = memoryRouted(f);
    return routed ? bank.fetch(routed.path).map((b, i) => (routed.attach[i] ? b : NO_BLOCK)) : undefined;
  };
  /** Retrieval: the asked person's current facts (an ideal retriever), minus what the mode already holds. */
  const retrieved = (f: Fact, skip: (x: Fact) => boolean): number[] => ATTRIBUTES.map((_, a) => byKey.get(`${f.person.id}/${a}`)!).filter((x) => !skip(x)).flatMap((x) => words(factText(x)));
  const answer = async (prompt: number[], options: { prefix?: boolean; memory?: readonly MemoryBlock[] }): Promise<{ token: number; ms: number; prefilled: number }> => {
    const start = performance.now();
    const hit = options.prefix ? await activation.prefixFor(lm, prompt) : null;
    const out = await generate(lm, prompt, { temperature: 0, maxTokens: 1, ignoreEos: true, prefix: hit?.prefix, memory: options.memory });
    return { token: out.tokenIds[0], ms: performance.now() - start, prefilled: prompt.length - (hit?.cachedTokens ?? 0) };
  };
  const modes = { text: { hit: 0, ms: [] as number[], prefilled: [] as number[] }, scheduled: { hit: 0, ms: [] as number[], prefilled: [] as number[] } };
  const sources = { wm: 0, bank: 0, retrieved: 0, withBlock: 0 }; // where the fact's text is; and how many (b) answers had a block attached
  for (let i = 0; i < 3; i++) await answer([...wmIds, ...words('the home of')], {}); // warm-up
  for (let i = 0; i < EVAL; i++) {
    const f = ask();
    const q = words(questionText(f));
    const want = tok.ids.get(f.value)!;
    const a = await answer([...wmIds, ...retrieved(f, inWm), ...q], {});
    // The working memory's KV (made without blocks) is reused and the blocks act on the tokens after it, as in the server (ADR 0403).
    const blocks = await scheduledBlocks(f);
    const b = await answer([...wmIds, ...retrieved(f, (x) => inWm(x) || inBank(x)), ...q], { prefix: true, memory: blocks });
    sources[inWm(f) ? 'wm' : inBank(f) ? 'bank' : 'retrieved']++;
    if (blocks) sources.withBlock++;
    for (const [mode, r] of [['text', a], ['scheduled', b]] as const) {
      modes[mode].hit += r.token === want ? 1 : 0;
      modes[mode].ms.push(r.ms);
      modes[mode].prefilled.push(r.prefilled);
    }
  }
  // Stale answers: every changed fact asked once after the cycle, scheduled mode. The same
  // count for a value the fact never had (chance: a model that guesses a frequent value) and
  // with the bank alone tell memory from bias.
  let stale = 0;
  let changedRight = 0;
  let chanceStale = 0;
  let chanceLikeOld = 0; // the same for a never-had value drawn as old values are (another changed fact's old value): the anchor's default guess is the commonest value, which old values hit more often than values taken in turn
  let bankOnlyStale = 0;
  let textStale = 0; // (a) on the same questions: what the model does with the text alone
  let staleWithBlock = 0; // (b)'s stale answers given with a block attached (the bank spoke)
  const diagnosis = new Map<string, { n: number; stale: number; bankOnlyStale: number; right: number }>();
  const traces: Array<Record<string, string | number | boolean>> = [];
  const word = (id: number): string => [...tok.ids].find(([, v]) => v === id)?.[0] ?? `#${id}`;
  for (const [i, { fact: f, old, kind, wasInBank, oldId }] of changed.entries()) {
    const routedLeaf = (await bank.route(embedder, questionText(f))).at(-1);
    const group = `${kind}, ${wasInBank ? 'was consolidated' : 'was not'}, now ${inBank(f) ? 'in bank' : 'not in bank'}, question ${routedLeaf === bank.tree.leaves.get(oldId) ? 'routes to the old leaf' : 'routes elsewhere'}`;
    const d = diagnosis.get(group) ?? { n: 0, stale: 0, bankOnlyStale: 0, right: 0 };
    d.n++;
    diagnosis.set(group, d);
    const q = words(questionText(f));
    const blocks = await scheduledBlocks(f);
    const prompt = [...wmIds, ...retrieved(f, (x) => inWm(x) || inBank(x)), ...q];
    const r = await answer(prompt, { prefix: true, memory: blocks });
    if (r.token === tok.ids.get(old) && blocks) staleWithBlock++;
    const textAnswer = (await answer([...wmIds, ...retrieved(f, inWm), ...q], {})).token;
    if (textAnswer === tok.ids.get(old)) textStale++;
    if (TRACE || r.token === tok.ids.get(old)) {
      // Per answer: where the new value's text is, which blocks spoke, and what each source alone says.
      const routed = memoryRouted(f);
      const attached = routed ? routed.path.map((node, lv) => (routed.attach[lv] ? bank.provenance.get(lv + 1, node) : undefined)) : [];
      const held = attached.flatMap((rec) => rec?.memoryIds ?? []);
      const heldFacts = [...byKey.values()].filter((x) => held.includes(x.memoryId) && x.attr === f.attr);
      const newPos = inWm(f) ? wmIds.length - wm.slice(0, wm.indexOf(f)).reduce((n, x) => n + words(factText(x)).length, 1) : -1;
      traces.push({
        fact: `${f.person.name} ${ATTRIBUTES[f.attr].name}`,
        kind,
        change: `${old}→${f.value}`,
        stale: r.token === tok.ids.get(old),
        answer: word(r.token),
        noBlocks: blocks ? word((await answer(prompt, { prefix: true })).token) : '-',
        wholePrompt: blocks ? word((await answer(prompt, { memory: blocks })).token) : '-', // the blocks on the working memory's tokens too (no KV reuse)
        textMode: word(textAnswer),
        blocksAlone: blocks ? word((await answer([tok.bos, ...q], { memory: blocks })).token) : '-',
        newTextIn: inWm(f) ? `wm (${newPos} tokens before the retrieved text)` : inBank(f) ? 'bank only' : 'retrieved',
        levels: routed ? routed.attach.map((a, lv) => (a ? lv + 1 : '')).filter(Boolean).join('+') : 'none',
        blockSameAttr: heldFacts.length,
        blockOldValue: heldFacts.filter((x) => x.value === old).length,
        oldInPrompt: prompt.filter((t) => t === tok.ids.get(old)).length,
        newInPrompt: prompt.filter((t) => t === tok.ids.get(f.value)).length,
        oldIdLeaf: bank.tree.leaves.get(oldId) ?? -1,
        leaf: bank.tree.leaves.get(f.memoryId) ?? -1,
      });
    }
    const never = ATTRIBUTES[f.attr].values.filter((x) => x !== old && x !== f.value);
    if (r.token === tok.ids.get(old)) (stale++, d.stale++);
    if (r.token === tok.ids.get(f.value)) d.right++;
    if (r.token === tok.ids.get(never[i % never.length])) chanceStale++;
    const likeOld = changed.filter((c, j) => j !== i && c.fact.attr === f.attr && c.old !== old && c.old !== f.value).map((c) => c.old);
    if (likeOld.length && r.token === tok.ids.get(likeOld[i % likeOld.length])) chanceLikeOld++;
    if (r.token === tok.ids.get(f.value)) changedRight++;
    if ((await answer([tok.bos, ...q], { memory: await routeBlocks(questionText(f)) })).token === tok.ids.get(old)) (bankOnlyStale++, d.bankOnlyStale++);
  }
  // Bank only vs the anchor alone, on every fact the bank holds fresh.
  const consolidated = [...byKey.values()].filter(inBank);
  let bankHit = 0;
  let anchorHit = 0;
  for (const f of consolidated) {
    const q = [tok.bos, ...words(questionText(f))];
    const want = tok.ids.get(f.value)!;
    if ((await answer(q, { memory: await routeBlocks(questionText(f)) })).token === want) bankHit++;
    if ((await answer(q, {})).token === want) anchorHit++;
  }
  await registry.disposeAll();
  rmSync(root, { recursive: true, force: true });

  const ttftText = median(modes.text.ms);
  const ttftScheduled = median(modes.scheduled.ms);
  const summary = {
    provider: PROVIDER,
    ttft_p50_text_ms: r3(ttftText),
    ttft_p50_scheduled_ms: r3(ttftScheduled),
    ttft_speedup: r2(ttftText / ttftScheduled),
    accuracy_text: r3(modes.text.hit / EVAL),
    accuracy_scheduled: r3(modes.scheduled.hit / EVAL),
    accuracy_bank_only: r3(consolidated.length ? bankHit / consolidated.length : 0),
    accuracy_anchor: r3(consolidated.length ? anchorHit / consolidated.length : 0),
    stale_answer_rate: r3(changed.length ? stale / changed.length : 0),
    stale_answer_rate_text: r3(changed.length ? textStale / changed.length : 0),
    stale_answers_with_block: staleWithBlock,
    stale_chance_like_old: r3(changed.length ? chanceLikeOld / changed.length : 0),
    prefilled_tokens_text: r2(mean(modes.text.prefilled)),
    prefilled_tokens_scheduled: r2(mean(modes.scheduled.prefilled)),
    ...reading,
    anchor_train_s: Math.round(anchorSeconds),
    bench_s: Math.round((performance.now() - t0) / 1000),
    load_average: r2(loadavg()[0]),
  };
  console.log(`memory-os bench: ${PEOPLE} people × ${ATTRIBUTES.length} facts, anchor ${HIDDEN}d × ${LAYERS}L (${ANCHOR_STEPS} steps, ${DRILLS} ${DRILL_KIND} drills, ${anchorSeconds.toFixed(0)} s), ${TURNS} Zipf(${ZIPF}) turns, ${EVAL} evaluated, working memory ≤ ${WM_TOKENS} tokens, ${changed.length} facts changed, provider ${PROVIDER}, intra-op threads ${THREADS || 'default'}, load average ${loadavg()[0].toFixed(2)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.table(cycles);
  console.table([
    { mode: '(a) text only', accuracy: summary.accuracy_text, ttftP50Ms: summary.ttft_p50_text_ms, prefilledPerAnswer: summary.prefilled_tokens_text },
    { mode: '(b) scheduled', accuracy: summary.accuracy_scheduled, ttftP50Ms: summary.ttft_p50_scheduled_ms, prefilledPerAnswer: summary.prefilled_tokens_scheduled },
    { mode: '(c) bank only, consolidated facts', accuracy: summary.accuracy_bank_only, ttftP50Ms: NaN, prefilledPerAnswer: NaN },
    { mode: 'anchor alone, same facts', accuracy: summary.accuracy_anchor, ttftP50Ms: NaN, prefilledPerAnswer: NaN },
  ]);
  console.table([{ answeredFrom_wm: sources.wm, answeredFrom_bank: sources.bank, answeredFrom_retrieved: sources.retrieved, answersWithBlock: sources.withBlock, changedFacts: changed.length, staleAnswers: stale, staleWithBlock, textModeStale: textStale, neverValueAnswers: chanceStale, neverValueLikeOld: chanceLikeOld, bankOnlyStale, changedAnsweredRight: changedRight, consolidatedFacts: consolidated.length }]);
  console.table([...diagnosis].map(([group, d]) => ({ changedFacts: group, ...d })));
  if (traces.length) console.table(traces);
  console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
