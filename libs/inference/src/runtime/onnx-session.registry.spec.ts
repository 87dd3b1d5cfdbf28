import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceErrorCode } from '../inference.error';
import { createTinyModel } from '../tiny/tiny-model.generator';
import { assertProviderAvailable, ortBinaryDir, outputLocations } from './execution-providers';
import { memoryFeeds } from './memory-feeds';
import { generate } from '../generation/generate';
import { loadLanguageModel } from './language-model';
import { OnnxSessionRegistry } from './onnx-session.registry';
import { floatTensor, int64Tensor } from './tensor';

const root = mkdtempSync(join(tmpdir(), 'engram-sess-'));
const dir = join(root, 'm');
createTinyModel({ outDir: dir, layers: 1, hidden: 16, heads: 2, vocab: 280 });

describe('OnnxSessionRegistry', () => {
  it('memoizes a session per model + provider + options', async () => {
    const registry = new OnnxSessionRegistry();
    const a = await loadLanguageModel(dir, registry);
    const b = await loadLanguageModel(dir, registry);
    expect(b.session).toBe(a.session);
    await loadLanguageModel(dir, registry, { intraOpThreads: 1 });
    expect(registry.size).toBe(2);
    await registry.disposeAll();
    expect(registry.size).toBe(0);
    await expect(a.session.run({})).rejects.toThrow(/released/);
  });

  it('evicts a failed load so that the next call retries', async () => {
    const registry = new OnnxSessionRegistry();
    let calls = 0;
    const source = { key: 'broken', build: () => (calls++, Uint8Array.of(1, 2, 3)) };
    await expect(registry.acquire(source)).rejects.toMatchObject({ code: InferenceErrorCode.SessionLoadFailed });
    expect(registry.size).toBe(0);
    await expect(registry.acquire(source)).rejects.toThrow(/could not load model broken/);
    expect(calls).toBe(2);
  });

  it('fails clearly when the CUDA provider libraries are missing', async () => {
    expect(() => assertProviderAvailable('cuda', join(root, 'no-such-dir'))).toThrow(/execution provider "cuda" is unavailable: .*libonnxruntime_providers_cuda\.so/);
    expect(() => assertProviderAvailable('cpu', join(root, 'no-such-dir'))).not.toThrow();
  });

  it('refuses to load on cuda here, with the reason, and caches nothing', async () => {
    const cudaInstalled = existsSync(join(ortBinaryDir(), 'libonnxruntime_providers_cuda.so'));
    if (cudaInstalled) return; // a GPU machine: covered by the device script instead
    const registry = new OnnxSessionRegistry();
    await expect(loadLanguageModel(dir, registry, { provider: 'cuda' })).rejects.toMatchObject({
      code: InferenceErrorCode.ProviderUnavailable,
      message: expect.stringMatching(/use provider "cpu"/),
    });
    expect(registry.size).toBe(0);
  });

  it('refuses webgpu without an adapter, naming the fix, and caches nothing; with one, decodes like the CPU', async () => {
    const registry = new OnnxSessionRegistry();
    const loading = loadLanguageModel(dir, registry, { provider: 'webgpu' });
    const err = await loading.then(() => undefined).catch((e: unknown) => e);
    if (err === undefined) {
      // A machine with a WebGPU adapter: a GPU (bench/device/run.sh), or Mesa's lavapipe
      // (.ci/run installs it where it can). Every read of a device tensor goes through the
      // registry's download session: onnxruntime-node's own getData() aborts the process.
      const gpu = await loading;
      const cpu = await loadLanguageModel(dir, registry);
      const close = (x: Float32Array, y: Float32Array): number => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
      const prompt = [5, 9, 44, 3];
      const a = await gpu.prefill(prompt);
      const b = await cpu.prefill(prompt);
      expect(close(a.logits, b.logits)).toBeLessThan(1e-3);
      expect(close(a.present.layers[0].key, b.present.layers[0].key)).toBeLessThan(1e-3);
      const step = await gpu.step({ inputIds: [7], past: a.present });
      expect(step.present.location).toBe('gpu-buffer');
      const step2 = await gpu.step({ inputIds: [8], past: step.present });
      const ref = await cpu.prefill([...prompt, 7, 8]);
      expect(close(step2.logits, ref.logits)).toBeLessThan(1e-3);
      const host = await step2.present.toHost();
      expect(host.seq).toBe(6);
      expect(close(host.layers[0].value, ref.present.layers[0].value)).toBeLessThan(1e-3);
      // A memory block (rank 3) in one slot and an empty slot beside it: WebGPU gets a zero neuron there.
      const c = cpu.config;
      const n = c.numLayers * 3 * c.hiddenSize;
      const wave = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.5);
      const block = { rank: 3, gate: wave(0.7), up: wave(1.3), down: wave(2.1) };
      const withBlock = await gpu.prefill(prompt, { memory: block });
      const withBlockCpu = await cpu.prefill(prompt, { memory: block });
      expect(close(withBlockCpu.logits, b.logits)).toBeGreaterThan(1e-3); // the block changes the answer
      expect(close(withBlock.logits, withBlockCpu.logits)).toBeLessThan(1e-3);
      // A routed path of two blocks: one slot on WebGPU (concatenated), two of four on the CPU.
      expect([gpu.memorySlots, cpu.memorySlots]).toEqual([1, 4]);
      const block2 = { rank: 2, gate: wave(0.3).subarray(0, (n / 3) * 2), up: wave(0.9).subarray(0, (n / 3) * 2), down: wave(1.7).subarray(0, (n / 3) * 2) };
      const [pathGpu, pathCpu] = [await gpu.prefill(prompt, { memory: [block, block2] }), await cpu.prefill(prompt, { memory: [block, block2] })];
      expect(close(pathCpu.logits, withBlockCpu.logits)).toBeGreaterThan(1e-4);
      expect(close(pathGpu.logits, pathCpu.logits)).toBeLessThan(1e-3);
      // A prompt longer than a prefill chunk: the KV stays on the device between chunks.
      const chunked = await loadLanguageModel(dir, registry, { provider: 'webgpu', prefillChunk: 3 });
      const long = [5, 9, 44, 3, 7, 8, 12, 30];
      const [gpuLong, cpuLong] = [await chunked.prefill(long, { memory: block }), await cpu.prefill(long, { memory: block })];
      expect(gpuLong.present.seq).toBe(8);
      expect(close(gpuLong.logits, cpuLong.logits)).toBeLessThan(1e-3);
      expect(close(gpuLong.present.layers[0].key, cpuLong.present.layers[0].key)).toBeLessThan(1e-3);
      // generate() decodes from a prompt whose KV never left the device: the same greedy tokens.
      const opts = { temperature: 0, maxTokens: 6, ignoreEos: true, keepLogits: true, memory: block };
      const [genGpu, genCpu] = [await generate(chunked, long, opts), await generate(cpu, long, opts)];
      expect(genGpu.tokenIds).toEqual(genCpu.tokenIds);
      genGpu.logits!.forEach((l, i) => expect(close(l, genCpu.logits![i])).toBeLessThan(1e-3));
      step.present.dispose();
      step2.present.dispose();
    } else {
      expect(err).toMatchObject({ code: InferenceErrorCode.ProviderUnavailable, message: expect.stringMatching(/"webgpu" is unavailable: no WebGPU adapter was found .*use provider "cpu"/) });
      expect(registry.size).toBe(0);
    }
    await registry.disposeAll();
  }, 180_000); // lavapipe compiles a shader per kernel on the CPU: over a minute on a busy 2-core machine

  it('runs attention fused or as standard ops alike, with GQA and past KV at re-placed positions, on the CPU and (with an adapter) on WebGPU', async () => {
    const gqa = join(root, 'gqa');
    createTinyModel({ outDir: gqa, layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 280, seed: 5 });
    const registry = new OnnxSessionRegistry();
    const close = (x: Float32Array, y: Float32Array): number => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
    const fused = await loadLanguageModel(gqa, registry, { attention: 'fused' });
    const standard = await loadLanguageModel(gqa, registry, { attention: 'standard' });
    expect(fused.session).not.toBe(standard.session);
    // Past KV of 6 tokens built at positions 0..5, fed as if at positions 4..9 (kv-blend's
    // re-placed segment: not re-rotated, so only the mask's use of the positions matters),
    // then new tokens at positions 0..3 and 10: the mask compares positions, not indices.
    const past = (await standard.prefill([11, 12, 13, 14, 15, 16])).present;
    const input = { inputIds: [5, 9, 44, 3, 7], positionIds: [0, 1, 2, 3, 10], past, pastPositionIds: [4, 5, 6, 7, 8, 9] };
    const [f, st] = [await fused.forward(input), await standard.forward(input)];
    expect(close(f.logits, st.logits)).toBeLessThan(1e-4);
    expect(close(f.present.layers[1].key, st.present.layers[1].key)).toBeLessThan(1e-5);
    const plain = await standard.forward({ inputIds: input.inputIds, positionIds: input.positionIds, past });
    expect(close(plain.logits, st.logits)).toBeGreaterThan(1e-3); // the positions do change the answer
    const gpu = await loadLanguageModel(gqa, registry, { provider: 'webgpu', attention: 'fused' }).catch(() => undefined);
    if (gpu) {
      const g = await gpu.forward(input);
      expect(close(g.logits, st.logits)).toBeLessThan(1e-3);
      expect(close(g.present.layers[1].value, st.present.layers[1].value)).toBeLessThan(1e-3);
    }
    await registry.disposeAll();
  });

  it('keeps decode-step KV where the provider put it and feeds it back without a copy (host tensors on the CPU)', async () => {
    const registry = new OnnxSessionRegistry();
    const m = await loadLanguageModel(dir, registry);
    const prompt = [5, 9, 44, 3, 100];
    const pre = await m.prefill(prompt);
    const s1 = await m.step({ inputIds: [7], past: pre.present });
    expect(s1.present.location).toBe('cpu');
    expect(s1.present.seq).toBe(6);
    const s2 = await m.step({ inputIds: [8], past: s1.present });
    const ref = await m.prefill([...prompt, 7, 8]);
    expect(Math.max(...s2.logits.map((v, i) => Math.abs(v - ref.logits[i])))).toBeLessThan(1e-4);
    const host = await s2.present.toHost();
    expect(host.seq).toBe(7);
    expect(Math.max(...host.layers[0].key.map((v, i) => Math.abs(v - ref.present.layers[0].key[i])))).toBeLessThan(1e-4);
    s1.present.dispose();
    await expect(m.step({ inputIds: [9], past: s1.present })).rejects.toThrow(/disposed device value/);
    const other = new OnnxSessionRegistry();
    const m2 = await loadLanguageModel(dir, other, { intraOpThreads: 1 });
    await expect(m2.step({ inputIds: [9], past: s2.present })).rejects.toThrow(/another model session/);
    await other.disposeAll();
    await registry.disposeAll();
  });

  it('writes an ONNX Runtime trace of every node run when asked to profile (its own session)', async () => {
    const registry = new OnnxSessionRegistry();
    const prefix = join(root, 'trace');
    const plain = await loadLanguageModel(dir, registry);
    const profiled = await loadLanguageModel(dir, registry, { profile: prefix });
    expect(profiled.session).not.toBe(plain.session);
    await profiled.prefill([5, 9, 44]);
    await registry.disposeAll();
    const files = readdirSync(root).filter((f) => f.startsWith('trace') && f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const events = JSON.parse(readFileSync(join(root, files[0]), 'utf8')) as { cat: string; name: string }[];
    expect(events.some((e) => e.cat === 'Session' && e.name === 'model_run')).toBe(true);
    expect(events.filter((e) => e.cat === 'Node').length).toBeGreaterThan(10);
  });

  it('puts KV outputs on the device and the logits on the host on WebGPU; everything on the host elsewhere', () => {
    const names = ['logits', 'present.0.key', 'present.0.value'];
    expect(outputLocations('webgpu', names)).toEqual({ logits: 'cpu', 'present.0.key': 'gpu-buffer', 'present.0.value': 'gpu-buffer' });
    expect(outputLocations('cpu', names)).toBe('cpu');
    expect(outputLocations('cuda', names)).toBe('cpu');
    expect(outputLocations('webgpu', [])).toBe('cpu'); // names unreadable: correct, only slower
  });

  it('an empty memory slot fed as one neuron of zeros (WebGPU) changes no logit', async () => {
    const registry = new OnnxSessionRegistry();
    const m = await loadLanguageModel(dir, registry);
    const c = m.config;
    const run = (emptyRank: 0 | 1) =>
      m.session.run({
        input_ids: int64Tensor([5, 9, 44], [1, 3]),
        attention_mask: int64Tensor([1, 1, 1], [1, 3]),
        position_ids: int64Tensor([0, 1, 2], [1, 3]),
        'past_key_values.0.key': floatTensor(new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]),
        'past_key_values.0.value': floatTensor(new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]),
        ...(m.session.hasInput('past_position_ids') ? { past_position_ids: int64Tensor([], [1, 0]) } : {}),
        ...memoryFeeds(undefined, m.memorySlots, c.numLayers, c.hiddenSize, emptyRank),
      });
    expect(m.memorySlots).toBeGreaterThan(0);
    const [zero, one] = [await run(0), await run(1)];
    expect(Array.from(one.logits.data as Float32Array)).toEqual(Array.from(zero.logits.data as Float32Array));
    await registry.disposeAll();
  });

  it('checks input names, types and shapes before running', async () => {
    const registry = new OnnxSessionRegistry();
    const m = await loadLanguageModel(dir, registry);
    await expect(m.session.run({ input_ids: int64Tensor([1], [1, 1]) })).rejects.toThrow(/missing input "attention_mask"/);
    const feeds = {
      input_ids: floatTensor(Float32Array.of(1), [1, 1]),
      attention_mask: int64Tensor([1], [1, 1]),
      position_ids: int64Tensor([0], [1, 1]),
      'past_key_values.0.key': floatTensor(new Float32Array(0), [1, 3, 0, 8]),
      'past_key_values.0.value': floatTensor(new Float32Array(0), [1, 2, 0, 8]),
      ...m.attach(undefined),
      bogus: int64Tensor([0], [1]),
    };
    const err = await m.session.run(feeds).catch((e: Error & { code: string }) => e);
    expect(err).toMatchObject({ code: InferenceErrorCode.InputMismatch });
    expect((err as Error).message).toMatch(/input "input_ids" is float32, expected int64/);
    expect((err as Error).message).toMatch(/"past_key_values.0.key" dim 1 is 3, expected 2/);
    expect((err as Error).message).toMatch(/unknown input "bogus"/);
    await registry.disposeAll();
  });

  it('rejects a model directory with missing or mismatched files', async () => {
    const registry = new OnnxSessionRegistry();
    await expect(loadLanguageModel(join(root, 'nope'), registry)).rejects.toMatchObject({ code: InferenceErrorCode.ModelNotFound });
    const bad = join(root, 'bad');
    createTinyModel({ outDir: bad, layers: 1, hidden: 16, heads: 2, vocab: 280 });
    const cfg = JSON.parse(require('node:fs').readFileSync(join(bad, 'config.json'), 'utf8'));
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 32, head_dim: 16 }));
    await expect(loadLanguageModel(bad, registry)).rejects.toThrow(/embed_tokens.weight" has shape \[280,16\], config.json implies \[280,32\]/);
    writeFileSync(join(bad, 'tokenizer.json'), '{ nope');
    await expect(loadLanguageModel(bad, registry)).rejects.toThrow(/tokenizer.json is not valid JSON/);
    expect(registry.size).toBe(0);
  });
});

describe('ModelHost', () => {
  it('shares one load per directory and options, and disposes every session', async () => {
    const { ModelHost } = await import('./model-host');
    const host = new ModelHost();
    const [a, b] = await Promise.all([host.load(dir), host.load(`${dir}/`)]);
    expect(b).toBe(a);
    expect(await host.loaded()).toEqual([a]);
    await expect(host.load(join(root, 'missing'))).rejects.toMatchObject({ code: InferenceErrorCode.ModelNotFound });
    expect(await host.loaded()).toHaveLength(1);
    const standard = await host.load(dir, { attention: 'standard' }); // another graph form: another load
    expect(standard.session).not.toBe(a.session);
    expect(await host.load(dir, { attention: 'standard' })).toBe(standard);
    await host.dispose();
    expect(host.sessions.size).toBe(0);
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
