import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel, generate, LanguageModel, loadLanguageModel, OnnxSessionRegistry } from '@engram/inference';
import { ActivationErrorCode } from './activation.error';
import { ActivationMemory } from './activation-memory';
import { chatPromptTokens, memoryPrefixTokens } from './memory-prompt';
import { KvCacheStore } from './kv-cache.store';
import { InMemoryObjectStore } from './tiers/object-store.tier';

const root = mkdtempSync(join(tmpdir(), 'engram-act-'));
const registry = new OnnxSessionRegistry();
let model: LanguageModel;
let other: LanguageModel;
const CHUNK = 8;

const MEMORY = 'Alice lives in Paris and works as an engineer. Bob prefers tea over coffee in the morning.';
const QUESTION = ' User: where does Alice live? Assistant:';

beforeAll(async () => {
  createTinyModel({ outDir: join(root, 'a'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, seed: 3, maxPositionEmbeddings: 256 });
  createTinyModel({ outDir: join(root, 'b'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, seed: 4, maxPositionEmbeddings: 256 });
  model = await loadLanguageModel(join(root, 'a'), registry);
  other = await loadLanguageModel(join(root, 'b'), registry);
});
afterAll(() => registry.disposeAll());

const memoryTokens = (): number[] => model.tokenizer.encode(MEMORY);
const promptTokens = (): number[] => [...memoryTokens(), ...model.tokenizer.encode(QUESTION)];

describe('ActivationMemory', () => {
  it('injecting a cache gives the logits of a full prefill (1e-4) and the same greedy tokens', async () => {
    const memory = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK, dir: join(root, 'exact') }));
    const built = await memory.build(model, { format: 'raw', text: MEMORY, sources: [{ memoryId: 'm1', text: MEMORY }], owner: 'cube-1' });
    expect(built.prefilledTokens).toBe(memoryTokens().length);
    expect(memoryTokens().length % CHUNK).not.toBe(0); // exercises the partial tail chunk too

    const prompt = promptTokens();
    const { prefix, cachedTokens, tiers } = await memory.prefixFor(model, prompt);
    expect(cachedTokens).toBe(memoryTokens().length);
    expect(tiers.every((t) => t === 'ram')).toBe(true);
    const opts = { temperature: 0, maxTokens: 8, ignoreEos: true, keepLogits: true };
    const full = await generate(model, prompt, opts);
    const injected = await generate(model, prompt, { ...opts, prefix });
    expect(injected.usage.cachedTokens).toBe(cachedTokens);
    expect(injected.tokenIds).toEqual(full.tokenIds);
    let maxDiff = 0;
    injected.logits!.forEach((l, i) => l.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - full.logits![i][j])))));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('reuses the longest cached prefix and prefills only the rest', async () => {
    const memory = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK }));
    await memory.build(model, { format: 'raw', text: MEMORY });
    const toks = memoryTokens();
    const diverging = [...toks.slice(0, 2 * CHUNK + 3), 7, 7, 7];
    expect((await memory.prefixFor(model, diverging)).cachedTokens).toBe(2 * CHUNK);
    const extended = await memory.build(model, { tokens: [...toks, ...model.tokenizer.encode(QUESTION)] });
    expect(extended.reusedTokens).toBe(toks.length);
    expect(extended.prefilledTokens).toBe(model.tokenizer.encode(QUESTION).length);
    const rebuilt = await memory.build(model, { format: 'raw', text: MEMORY });
    expect(rebuilt.prefilledTokens).toBe(0);
  });

  it('shares chunks only within a partition (tenant): another partition prefills everything and finds nothing', async () => {
    const memory = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK }));
    const a = await memory.build(model, { format: 'raw', text: MEMORY, partition: 'tenant-a' });
    const toks = memoryTokens();
    expect((await memory.prefixFor(model, toks, 'tenant-a')).cachedTokens).toBe(toks.length);
    expect((await memory.prefixFor(model, toks, 'tenant-b')).cachedTokens).toBe(0);
    expect((await memory.prefixFor(model, toks)).cachedTokens).toBe(0);
    const b = await memory.build(model, { format: 'raw', text: MEMORY, partition: 'tenant-b' });
    expect(b.reusedTokens).toBe(0);
    expect(b.prefilledTokens).toBe(toks.length);
    expect(b.entry.chunkHashes.some((h) => a.entry.chunkHashes.includes(h))).toBe(false);
    expect((await memory.build(model, { format: 'raw', text: MEMORY, partition: 'tenant-b' })).prefilledTokens).toBe(0);
  });

  it('deletes by owner and by source the caches another process wrote after this one opened the directory', async () => {
    const dir = join(root, 'two-processes');
    const worker = new KvCacheStore({ chunkTokens: CHUNK, dir }); // opened first, like a separate worker
    const server = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK, dir }));
    const byOwner = await server.build(model, { format: 'raw', text: MEMORY, owner: 'cube-1' });
    const bySource = await server.build(model, { format: 'raw', text: QUESTION, owner: 'cube-2', sources: [{ memoryId: 'm-1', text: QUESTION }] });
    expect(await worker.deleteByOwner('cube-1')).toBe(1);
    expect(await worker.invalidate('m-1')).toEqual([bySource.entry.id]);
    const reopened = new KvCacheStore({ chunkTokens: CHUNK, dir });
    expect(reopened.getEntry(byOwner.entry.id)).toBeUndefined();
    expect(reopened.getEntry(bySource.entry.id)).toBeUndefined();
    const blobs = (readdirSync(join(dir, 'chunks'), { recursive: true }) as string[]).filter((f) => /[0-9a-f]{64}/.test(f));
    expect(blobs).toEqual([]);
  });

  it('reuses the partial tail chunk of a cache another process wrote after this one opened the directory', async () => {
    const dir = join(root, 'two-processes-tail');
    const server = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK, dir })); // opened first, like the server
    const worker = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK, dir }));
    const { entry } = await worker.build(model, { format: 'raw', text: MEMORY, owner: 'cube-1' });
    expect(entry.tokens.length % CHUNK).not.toBe(0); // the test needs a partial tail
    const hit = await server.prefixFor(model, promptTokens());
    expect(hit.cachedTokens).toBe(entry.tokens.length);
    // And forgets it once the other process deletes it.
    expect(server.store.listEntries({ owner: 'cube-1' }).map((e) => e.id)).toEqual([entry.id]);
    await worker.store.deleteEntry(entry.id);
    expect(server.store.listEntries({ owner: 'cube-1' })).toEqual([]);
  });

  it('reloads caches from disk after a restart, and drops a corrupt chunk instead of serving it', async () => {
    const dir = join(root, 'restart');
    const first = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK, dir }));
    const { entry } = await first.build(model, { format: 'raw', text: MEMORY, owner: 'cube-1' });
    const restarted = new KvCacheStore({ chunkTokens: CHUNK, dir });
    expect(restarted.getEntry(entry.id)).toMatchObject({ owner: 'cube-1', tokens: entry.tokens });
    expect(await restarted.tierOf(entry.id)).toBe('disk');
    const again = new ActivationMemory(restarted);
    const hit = await again.prefixFor(model, promptTokens());
    expect(hit.cachedTokens).toBe(entry.tokens.length);
    expect(hit.tiers.every((t) => t === 'disk')).toBe(true);
    expect(restarted.metrics().disk).toMatchObject({ hits: entry.chunkHashes.length });
    expect(await restarted.tierOf(entry.id)).toBe('ram');

    const shard = join(dir, 'chunks', entry.chunkHashes[1].slice(0, 2));
    const file = join(shard, readdirSync(shard).find((f) => f.startsWith(entry.chunkHashes[1]))!);
    writeFileSync(file, Buffer.from('not a kv blob at all, certainly not 40 bytes long....'));
    const third = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK, dir }));
    expect((await third.prefixFor(model, promptTokens())).cachedTokens).toBe(CHUNK);
    const kv = await third.load(model, entry.id); // recomputes what was lost
    expect(kv.seq).toBe(entry.tokens.length);
  });

  it('falls back to the object store when RAM and disk lost a cache', async () => {
    const objects = new InMemoryObjectStore();
    const store = new KvCacheStore({ chunkTokens: CHUNK, dir: join(root, 'obj'), objectStore: objects });
    const memory = new ActivationMemory(store);
    const { entry } = await memory.build(model, { format: 'raw', text: MEMORY });
    expect(objects.objects.size).toBe(entry.chunkHashes.length);
    await store.evict(entry.id, 'ram');
    await store.evict(entry.id, 'disk');
    expect(await store.tierOf(entry.id)).toBe('object');
    const hit = await memory.prefixFor(model, entry.tokens);
    expect(hit.tiers.every((t) => t === 'object')).toBe(true);
    expect(await store.tierOf(entry.id)).toBe('ram');
  });

  it('keeps pinned caches in RAM under pressure and evicts the others', async () => {
    const store = new KvCacheStore({ chunkTokens: CHUNK, ramBytes: 64 * 1024 });
    const memory = new ActivationMemory(store);
    const pinned = await memory.build(model, { format: 'raw', text: MEMORY, pin: true });
    expect(pinned.entry.pinned).toBe(true);
    for (let i = 0; i < 6; i++) await memory.build(model, { format: 'raw', text: `${i} ${MEMORY} ${i}` });
    expect(await store.tierOf(pinned.entry.id)).toBe('ram');
    expect(store.metrics().ram!.evictions).toBeGreaterThan(0);
    expect(store.metrics().ram!.bytes).toBeLessThanOrEqual(64 * 1024 + pinned.entry.bytes);
    store.unpin(pinned.entry.id);
    for (let i = 0; i < 6; i++) await memory.build(model, { format: 'raw', text: `${i}${i} ${MEMORY}` });
    expect(await store.tierOf(pinned.entry.id)).toBe('missing');
  });

  it('invalidates the caches built from a memory, keeping chunks other caches share', async () => {
    const store = new KvCacheStore({ chunkTokens: CHUNK, dir: join(root, 'inv') });
    const memory = new ActivationMemory(store);
    const a = await memory.build(model, { format: 'raw', text: MEMORY, sources: [{ memoryId: 'm1', text: MEMORY }] });
    const b = await memory.build(model, { format: 'raw', text: `${MEMORY}${QUESTION}`, sources: [{ memoryId: 'm2', text: 'x' }] });
    expect(await store.invalidateIfChanged('m1', a.entry.sources[0].textHash)).toEqual([]);
    expect(await store.invalidate('m1')).toEqual([a.entry.id]);
    expect(store.getEntry(a.entry.id)).toBeUndefined();
    expect(await store.tierOf(b.entry.id)).toBe('ram');
    expect(store.listEntries()).toHaveLength(1);
    expect(await new KvCacheStore({ chunkTokens: CHUNK, dir: join(root, 'inv') }).listEntries()).toHaveLength(1);
  });

  it('refuses a cache built by another model fingerprint', async () => {
    const memory = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK }));
    const { entry } = await memory.build(model, { format: 'raw', text: MEMORY });
    await expect(memory.withCaches(other, [entry.id], [1, 2])).rejects.toMatchObject({ code: ActivationErrorCode.FingerprintMismatch });
    await expect(memory.withCaches(model, ['nope'], [1])).rejects.toMatchObject({ code: ActivationErrorCode.CacheNotFound });
    expect((await memory.prefixFor(other, entry.tokens)).cachedTokens).toBe(0);
    const ok = await memory.withCaches(model, [entry.id], [1, 2]);
    expect(ok.tokens).toEqual([...entry.tokens, 1, 2]);
    expect(ok.cachedTokens).toBe(entry.tokens.length);
  });

  it('caches memory as a leading system message that chat prompts start with', async () => {
    const memory = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK }));
    const { entry } = await memory.build(model, { text: MEMORY, owner: 'cube-1' });
    expect(entry.tokens).toEqual(memoryPrefixTokens(model.tokenizer, MEMORY));
    const messages = [{ role: 'user', content: 'where does Alice live?' }];
    const prompt = chatPromptTokens(model.tokenizer, messages, MEMORY);
    expect(prompt.slice(0, entry.tokens.length)).toEqual(entry.tokens);
    const hit = await memory.prefixFor(model, prompt);
    expect(hit.cachedTokens).toBe(entry.tokens.length);
    const opts = { temperature: 0, maxTokens: 4, ignoreEos: true, keepLogits: true };
    const full = await generate(model, prompt, opts);
    const injected = await generate(model, prompt, { ...opts, prefix: hit.prefix });
    expect(injected.tokenIds).toEqual(full.tokenIds);
    injected.logits!.forEach((l, i) => l.forEach((v, j) => expect(Math.abs(v - full.logits![i][j])).toBeLessThan(1e-4)));
  });

  it('refuses memory text over the context length', async () => {
    const memory = new ActivationMemory(new KvCacheStore({ chunkTokens: CHUNK }));
    await expect(memory.build(model, { tokens: new Array(300).fill(5) })).rejects.toThrow(/exceeds the model's context length of 256/);
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
