// Locality of bank writes through the server's path (ADR 0304): the bank jobs have no
// generic corpus, so their replay comes from the anchor itself (sampled text) or from the
// cube's other memories. Same synthetic world as bench:parametric; a tiny anchor trained in
// this process; the cube holds one memory per person and attribute (three phrasings). Every
// variant writes the whole cube into a fresh bank (same tree) with the options BankJobs uses
// — `replayFor` + `writeAsync({ epochs, gradient: 'onnx' })` — and reports held-out generic
// perplexity (routed block attached) against the anchor alone, and exact-match recall.
// Table, then ONE JSON line.
//   npm run bench:parametric:server -- [--seed 7] [--people 32] [--epochs 20] [--samples 128] [--per-step 8] [--weight 20] [--stop 1] [--variants none,anchor,memories,corpus,anchor+memories]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '@engram/inference';
import {
  DEFAULT_REPLAY,
  DEFAULT_WRITE_EPOCHS,
  initParams64,
  ParametricBank,
  tinyLlamaConfig,
  trainAnchorOnnx,
  type AnchorModel,
  type BankText,
  type ReplaySettings,
  type WriteOptions,
} from '@engram/parametric';
import { HashEmbedder } from '@engram/plaintext';
import { ATTRIBUTES, fingerprintOf, genericSentence, makePeople, nextToken, perplexity, question, sentences, toMem64, WordTokenizer, type Person } from './support/parametric-world';
import { textArg as arg } from './support/args';

const SEED = Number(arg('seed', '7'));
const PEOPLE = Number(arg('people', '32'));
const FAMOUS = Number(arg('famous', '16'));
const GENERIC = Number(arg('generic', '1500'));
const HIDDEN = Number(arg('hidden', '48'));
const LAYERS = Number(arg('layers', '2'));
const ANCHOR_STEPS = Number(arg('anchor-steps', '500'));
const LEVELS = Number(arg('levels', '2'));
const BRANCHING = Number(arg('branching', '4'));
const RANKS = arg('ranks', '8,32').split(',').map(Number);
/** The server's default (WriteBankDto.epochs). */
const EPOCHS = Number(arg('epochs', String(DEFAULT_WRITE_EPOCHS)));
const SAMPLES = Number(arg('samples', String(DEFAULT_REPLAY.samples)));
const PER_STEP = Number(arg('per-step', String(DEFAULT_REPLAY.perStep)));
const WEIGHT = Number(arg('weight', String(DEFAULT_REPLAY.weight)));
/** Samples stop at the anchor's end of text (' .'); 0 lets them run to 32 tokens. */
const STOP = arg('stop', '1') === '1';
const VARIANTS = arg('variants', 'none,anchor,memories,corpus,anchor+memories').split(',') as Variant[];
type Variant = 'none' | 'anchor' | 'memories' | 'corpus' | 'anchor+memories';

const r2 = (x: number): number => Math.round(x * 100) / 100;
const r4 = (x: number): number => Math.round(x * 10000) / 10000;
const log = (msg: string): void => void process.stderr.write(`[bench:parametric:server] ${msg}\n`);

async function main(): Promise<void> {
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'engram-parametric-server-'));
  const rnd = mulberry32(SEED);
  const taken = new Set<string>();
  const famous = makePeople(FAMOUS, rnd, taken);
  const people = makePeople(PEOPLE, rnd, taken);
  const generic = Array.from({ length: GENERIC }, () => genericSentence(rnd));
  const heldOut = Array.from({ length: 150 }, () => genericSentence(rnd));
  const factSentences = (ps: Person[]) => ps.flatMap(sentences);
  const tok = new WordTokenizer([...generic, ...heldOut, ...factSentences(famous), ...factSentences(people)]);
  const config = tinyLlamaConfig({ vocab: tok.size, hidden: HIDDEN, layers: LAYERS, heads: 4, intermediate: HIDDEN * 3, maxPositions: 64 });

  // The anchor, trained as bench:parametric trains it (generic text + famous people).
  const anchorParams = initParams64(config, SEED);
  let t = performance.now();
  await trainAnchorOnnx(config, anchorParams, [...generic, ...factSentences(famous), ...factSentences(famous)].map((s) => tok.encode(s)), { steps: ANCHOR_STEPS, batch: 12, lr: 3e-3, seed: SEED });
  log(`anchor trained in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  // As the server loads it (loadAnchorModel): BOS + tokens, no segmentation — a memory is one
  // sequence. Every text the anchor learnt ends with ' .': that is its end of text (a real
  // model's EOS), where a sample stops.
  const anchor: AnchorModel = { config, params: anchorParams, fingerprint: fingerprintOf(anchorParams), tokenize: (s) => tok.encode(s), eosTokenIds: STOP ? [tok.ids.get('.')!] : [] };

  // The cube: one memory per person and attribute, its three phrasings.
  const memories: BankText[] = people.flatMap((p, pi) =>
    ATTRIBUTES.map((a, ai) => ({ id: `p${pi}-${a.name}`, text: a.templates.map((tpl) => tpl.replace('{n}', p.name).replace('{v}', p.values[ai])).join(' ') })),
  );
  const embedder = new HashEmbedder({ dimension: 256 });
  const heldSeqs = heldOut.map((s) => tok.encode(s));
  const pplAnchor = perplexity(config, anchorParams, heldSeqs);
  const accAnchor = people.reduce((a, p) => a + ATTRIBUTES.filter((_, ai) => nextToken(config, anchorParams, tok.encode(question(p, ai))) === tok.ids.get(p.values[ai])).length, 0) / (PEOPLE * ATTRIBUTES.length);

  const results: Array<Record<string, number | string | boolean>> = [];
  for (const variant of VARIANTS) {
    const bank = await ParametricBank.build({ dir: join(root, variant), modelFingerprint: anchor.fingerprint, hidden: HIDDEN, layers: LAYERS, embedder, texts: memories, levels: LEVELS, branching: BRANCHING, ranks: RANKS, seed: SEED });
    t = performance.now();
    let replay: Partial<WriteOptions> = {};
    let sequences = 0;
    if (variant === 'corpus') {
      // Reference: the bench's own replay, the anchor's generic training text (a corpus the server does not have).
      replay = { replay: generic, replayPerStep: PER_STEP, replayWeight: WEIGHT, replayTarget: 'anchor' };
      sequences = generic.length;
    } else if (variant === 'anchor+memories') {
      // Both pools in one: anchor samples (no leaf) and the cube's memories (their leaves).
      const a = await bank.replayFor(anchor, { source: 'anchor', perStep: PER_STEP, weight: WEIGHT, samples: SAMPLES });
      const m = await bank.replayFor(anchor, { source: 'memories', perStep: PER_STEP, weight: WEIGHT, samples: SAMPLES }, { embedder, texts: memories });
      const seqs = [...(a.options.replaySequences ?? []), ...(m.options.replaySequences ?? [])];
      replay = { ...a.options, replaySequences: seqs, replayLeaves: [...seqs.slice(0, a.sequences).map(() => null), ...(m.options.replayLeaves ?? [])] };
      sequences = seqs.length;
    } else {
      const settings: ReplaySettings = { source: variant, perStep: PER_STEP, weight: WEIGHT, samples: SAMPLES };
      const plan = await bank.replayFor(anchor, settings, { embedder, texts: memories });
      replay = plan.options;
      sequences = plan.sequences;
    }
    const replaySeconds = (performance.now() - t) / 1000;
    t = performance.now();
    // What BankJobs.write passes (plus the seed, for a fair comparison across variants).
    const write = await bank.writeAsync(anchor, memories.map((m) => m.id), memories, { epochs: EPOCHS, gradient: 'onnx', seed: SEED, ...replay });
    const writeSeconds = (performance.now() - t) / 1000;
    const memOf = async (text: string) => toMem64(bank.fetchConcatenated(await bank.route(embedder, text)));
    const heldMems = await Promise.all(heldOut.map(memOf));
    const ppl = perplexity(config, anchorParams, heldSeqs, (i) => heldMems[i]);
    let hits = 0;
    let routedRight = 0;
    for (const [pi, p] of people.entries()) {
      for (let ai = 0; ai < ATTRIBUTES.length; ai++) {
        const q = question(p, ai);
        const path = await bank.route(embedder, q);
        if (path.at(-1) === bank.tree.leaves.get(`p${pi}-${ATTRIBUTES[ai].name}`)) routedRight++;
        if (nextToken(config, anchorParams, tok.encode(q), toMem64(bank.fetchConcatenated(path))) === tok.ids.get(p.values[ai])) hits++;
      }
    }
    const n = PEOPLE * ATTRIBUTES.length;
    results.push({
      variant,
      replaySequences: sequences,
      ppl: r4(ppl),
      pplChangePct: r2((100 * (ppl - pplAnchor)) / pplAnchor),
      accRouted: r4(hits / n),
      routingAccuracy: r4(routedRight / n),
      writeSteps: write.steps,
      writeSeconds: r2(writeSeconds),
      replayPrepSeconds: r2(replaySeconds),
      writeLossFinal: r4(write.finalLoss),
    });
    log(`${variant}: ppl ${ppl.toFixed(3)} (${results.at(-1)!.pplChangePct}%), exact match ${(100 * hits / n).toFixed(1)}%, write ${writeSeconds.toFixed(1)} s`);
    bank.close();
  }
  rmSync(root, { recursive: true, force: true });

  const figures = {
    bench: 'parametric-server',
    seed: SEED,
    people: PEOPLE,
    memories: memories.length,
    epochs: EPOCHS,
    replay: { perStep: PER_STEP, weight: WEIGHT, samples: SAMPLES },
    pplAnchor: r4(pplAnchor),
    accAnchor: r4(accAnchor),
    variants: results,
    totalSeconds: r2((performance.now() - t0) / 1000),
  };
  process.stdout.write(`\nServer-path bank writes (seed ${SEED}, ${memories.length} memories, ${EPOCHS} epochs, replay ${PER_STEP}/step × weight ${WEIGHT}, ${SAMPLES} samples; anchor ppl ${pplAnchor.toFixed(3)}, exact match ${(100 * accAnchor).toFixed(1)}%)\n`);
  const header = ['replay source', 'sequences', 'held-out ppl', 'Δ vs anchor', 'exact match (routed)', 'routing', 'write s'];
  const rows = results.map((r) => [String(r.variant), String(r.replaySequences), String(r.ppl), `${Number(r.pplChangePct) >= 0 ? '+' : ''}${r.pplChangePct}%`, `${(100 * Number(r.accRouted)).toFixed(1)}%`, `${(100 * Number(r.routingAccuracy)).toFixed(1)}%`, String(r.writeSeconds)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const line of [header, ...rows]) process.stdout.write(`  ${line.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
