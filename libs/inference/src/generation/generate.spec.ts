import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLlamaGraph } from '../graph/llama-graph.builder';
import { InferenceErrorCode } from '../inference.error';
import { loadModelWeights, openModelDirectory } from '../model/model-directory';
import { writeOnnxModel } from '../onnx/onnx-model.writer';
import { referenceForward } from '../reference/llama.reference';
import { LanguageModel, loadLanguageModel } from '../runtime/language-model';
import { concatMemoryBlocks } from '../runtime/memory-feeds';
import { OnnxSessionRegistry } from '../runtime/onnx-session.registry';
import { createTinyModel } from '../tiny/tiny-model.generator';
import { argmax } from './sampler';
import { generate, generateChat, TokenEvent } from './generate';

const root = mkdtempSync(join(tmpdir(), 'engram-gen-'));
const dir = join(root, 'tiny');
createTinyModel({ outDir: dir, layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, seed: 11, maxPositionEmbeddings: 64 });
const registry = new OnnxSessionRegistry();
let model: LanguageModel;

beforeAll(async () => {
  model = await loadLanguageModel(dir, registry);
});
afterAll(() => registry.disposeAll());

const prompt = (): number[] => model.tokenizer.encode('Alice lives in Paris and');

describe('generate', () => {
  it('greedy decoding follows the reference model token by token', async () => {
    const result = await generate(model, prompt(), { temperature: 0, maxTokens: 6, ignoreEos: true });
    expect(result.tokenIds).toHaveLength(6);
    const weights = loadModelWeights(model.directory);
    let ids = prompt();
    for (const t of result.tokenIds) {
      const ref = referenceForward(model.config, weights, { inputIds: ids });
      expect(argmax(ref.logits.subarray((ids.length - 1) * model.config.vocabSize))).toBe(t);
      ids = [...ids, t];
    }
    expect(result.finishReason).toBe('length');
    expect(result.usage).toEqual({ promptTokens: prompt().length, cachedTokens: 0, completionTokens: 6 });
  });

  it('decodes with a routed path of blocks (one memory slot per level) like the reference with them concatenated', async () => {
    const { hiddenSize: d, numLayers: L } = model.config;
    const blocks = [3, 0, 5].map((rank, b) => {
      const f = (o: number) => Float32Array.from({ length: L * rank * d }, (_, i) => 0.4 * Math.sin(b * 97 + o * 13 + i));
      return { rank, gate: f(1), up: f(2), down: f(3) };
    });
    const feeds = model.attach(blocks);
    expect(model.attach(blocks)).toBe(feeds); // built once per memory object, reused by every step
    const result = await generate(model, prompt(), { temperature: 0, maxTokens: 5, ignoreEos: true, memory: blocks });
    const plain = await generate(model, prompt(), { temperature: 0, maxTokens: 5, ignoreEos: true, keepLogits: true });
    const memory = concatMemoryBlocks(blocks, d, L);
    const weights = loadModelWeights(model.directory);
    let ids = prompt();
    for (const t of result.tokenIds) {
      const ref = referenceForward(model.config, weights, { inputIds: ids, memory });
      expect(argmax(ref.logits.subarray((ids.length - 1) * model.config.vocabSize))).toBe(t);
      ids = [...ids, t];
    }
    // The blocks matter: the first step's logits differ from the anchor's alone.
    const first = referenceForward(model.config, weights, { inputIds: prompt(), memory }).logits.subarray((prompt().length - 1) * model.config.vocabSize);
    const alone = plain.logits![0];
    expect(Math.max(...first.map((v, i) => Math.abs(v - alone[i])))).toBeGreaterThan(1e-2);
  });

  it('reproduces a sampled completion from the same seed, and differs across seeds', async () => {
    const opts = { temperature: 1.5, topP: 0.95, maxTokens: 12, ignoreEos: true };
    const a = await generate(model, prompt(), { ...opts, seed: 1 });
    const b = await generate(model, prompt(), { ...opts, seed: 1 });
    const c = await generate(model, prompt(), { ...opts, seed: 2 });
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
  });

  it('streams deltas that add up to the text, and stops before a stop string', async () => {
    const full = await generate(model, prompt(), { temperature: 0, maxTokens: 12, ignoreEos: true });
    const stop = full.text.slice(3, 5);
    expect(stop.length).toBe(2);
    const events: TokenEvent[] = [];
    const cut = await generate(model, prompt(), { temperature: 0, maxTokens: 12, ignoreEos: true, stop: [stop], onToken: (e) => events.push(e) });
    expect(cut.finishReason).toBe('stop');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(events.map((e) => e.text).join('')).toBe(cut.text);
    const streamed: string[] = [];
    await generate(model, prompt(), { temperature: 0, maxTokens: 12, ignoreEos: true, onToken: (e) => streamed.push(e.text) });
    expect(streamed.join('')).toBe(full.text);
  });

  it('streams the text held back for a possible stop string when EOS (a stop token) ends generation there', async () => {
    const full = await generate(model, prompt(), { temperature: 0, maxTokens: 12, ignoreEos: true });
    // Ends after token 4, whose text ends with the first character of a stop string that never comes.
    const end = full.tokenIds.findIndex((t, i) => i >= 4 && full.tokenIds.indexOf(t) === i);
    const before = model.tokenizer.decode(full.tokenIds.slice(0, end));
    const stop = `${before.slice(-1)}\u0001never`;
    const streamed: string[] = [];
    const r = await generate(model, prompt(), { temperature: 0, maxTokens: 12, ignoreEos: true, stop: [stop], stopTokenIds: [full.tokenIds[end]], onToken: (e) => streamed.push(e.text) });
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe(before);
    expect(streamed.join('')).toBe(r.text);
  });

  it('stops on a stop token id without emitting it', async () => {
    const full = await generate(model, prompt(), { temperature: 0, maxTokens: 5, ignoreEos: true });
    const r = await generate(model, prompt(), { temperature: 0, maxTokens: 5, ignoreEos: true, stopTokenIds: [full.tokenIds[2]] });
    expect(r.tokenIds).toEqual(full.tokenIds.slice(0, full.tokenIds.indexOf(full.tokenIds[2])));
    expect(r.finishReason).toBe('stop');
  });

  it('is cancelled by an AbortSignal', async () => {
    const controller = new AbortController();
    let seen = 0;
    const run = generate(model, prompt(), {
      temperature: 0, maxTokens: 20, ignoreEos: true,
      signal: controller.signal,
      onToken: () => { if (++seen === 2) controller.abort(); },
    });
    await expect(run).rejects.toMatchObject({ code: InferenceErrorCode.Aborted });
    expect(seen).toBe(2);
  });

  it('refuses a prompt over the context length, and finishes with "length" at the limit', async () => {
    await expect(generate(model, new Array(65).fill(5), { maxTokens: 1 })).rejects.toMatchObject({ code: InferenceErrorCode.ContextOverflow });
    const r = await generate(model, new Array(60).fill(5), { temperature: 0, maxTokens: 50, ignoreEos: true });
    expect(r.tokenIds.length).toBe(5);
    expect(r.finishReason).toBe('length');
  });

  it('renders the chat template and generates from messages', async () => {
    const r = await generateChat(model, [{ role: 'user', content: 'hi' }], { temperature: 0, maxTokens: 3, ignoreEos: true });
    expect(r.usage.promptTokens).toBe(model.tokenizer.encode(model.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).length);
  });

  it('gives the same greedy tokens with a KV prefix as with a full prefill', async () => {
    const ids = prompt();
    const full = await generate(model, ids, { temperature: 0, maxTokens: 5, ignoreEos: true, keepLogits: true });
    const prefix = (await model.prefill(ids)).present; // whole prompt cached: the last token is re-run
    const cached = await generate(model, ids, { temperature: 0, maxTokens: 5, ignoreEos: true, keepLogits: true, prefix });
    expect(cached.usage.cachedTokens).toBe(ids.length - 1);
    expect(cached.tokenIds).toEqual(full.tokenIds);
    cached.logits!.forEach((l, i) => l.forEach((v, j) => expect(Math.abs(v - full.logits![i][j])).toBeLessThan(1e-4)));
  });
});

describe('loading an HF/optimum-style ONNX export', () => {
  it('serves a model.onnx without memory inputs with the same logits', async () => {
    const exportDir = join(root, 'export');
    mkdirSync(exportDir);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(exportDir, f));
    const src = openModelDirectory(dir);
    writeOnnxModel(buildLlamaGraph(src.config, loadModelWeights(src), { memoryInputs: false }).model(), join(exportDir, 'model.onnx'));
    const exported = await loadLanguageModel(exportDir, registry);
    expect(exported.supportsMemory).toBe(false);
    expect(exported.directory.format).toBe('onnx');
    const a = await exported.prefill(prompt());
    const b = await model.prefill(prompt());
    a.logits.forEach((v, i) => expect(Math.abs(v - b.logits[i])).toBeLessThan(1e-5));
    await expect(exported.forward({ inputIds: [1], memory: { rank: 1, gate: new Float32Array(64), up: new Float32Array(64), down: new Float32Array(64) } }))
      .rejects.toMatchObject({ code: InferenceErrorCode.InputMismatch });
  });

  it('also loads a graph written with external data', async () => {
    const extDir = join(root, 'external');
    mkdirSync(join(extDir, 'onnx'), { recursive: true }); // transformers.js layout
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(extDir, f));
    const src = openModelDirectory(dir);
    const { dataFile } = writeOnnxModel(buildLlamaGraph(src.config, loadModelWeights(src), { memoryInputs: false }).model(), join(extDir, 'onnx', 'model.onnx'), { external: true });
    expect(dataFile).toBeDefined();
    const m = await loadLanguageModel(extDir, registry);
    const a = await m.prefill(prompt());
    const b = await model.prefill(prompt());
    a.logits.forEach((v, i) => expect(Math.abs(v - b.logits[i])).toBeLessThan(1e-5));
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
