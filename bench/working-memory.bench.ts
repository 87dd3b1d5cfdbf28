// The working memory (ADR 0402) through the real server: a cube with a policy
// `activation { model, maxTokens }`, its cache built by the activation.refresh job, then
// chat TTFT with the working memory's KV reused against the same prompt fully prefilled
// (the working memory's text as memoryText, which no cache holds), and what a rebuild
// after an edit of the newest memory and after a delete of one in the middle reuses
// (whole chunks of ENGRAM_KV_CHUNK_TOKENS before the change).
// Tiny model written here (random weights: timings only). Table, then ONE JSON line.
//   npm run bench:working-memory -- [--memories 120] [--max-tokens 1024] [--hidden 128] [--layers 4] [--questions 20] [--delete-at 0.5]
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '@engram/config';
import { WorkingMemoryRepository } from '@engram/persistence';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { createApp } from '@engram/server';
import { textArg as arg } from './support/args';
import { scratchDatabase } from './support/scratch-service';

const MEMORIES = Number(arg('memories', '120'));
const MAX_TOKENS = Number(arg('max-tokens', '1024'));
const HIDDEN = Number(arg('hidden', '128'));
const LAYERS = Number(arg('layers', '4'));
const QUESTIONS = Number(arg('questions', '20'));
/** Where in the working memory the deleted memory sits (0: first, 1: last). */
const DELETE_AT = Number(arg('delete-at', '0.5'));
const ADMIN = 'bench-admin-token-0123456789';

const log = (msg: string): void => void process.stderr.write(`[bench:working-memory] ${msg}\n`);
const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const db = await scratchDatabase();
  const modelsDir = mkdtempSync(join(tmpdir(), 'engram-wm-models-'));
  createTinyModel({ outDir: join(modelsDir, 'tiny'), layers: LAYERS, hidden: HIDDEN, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 2048, seed: 11 });
  const config = { ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: 'hash' }), workerInProcess: false, adminToken: ADMIN };
  const app = await createApp(config, { quiet: true, runWorker: false, announceAdminToken: () => undefined });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const call = async <T>(token: string, method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${route}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${route} answered ${res.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const drain = async () => {
    await new Promise((r) => setTimeout(r, 300)); // the debounced lifecycle tick comes due
    await app.get(JobRunner).drain();
  };
  try {
    await call(ADMIN, 'POST', '/v1/admin/models', { name: 'tiny', path: join(modelsDir, 'tiny') });
    const tenant = await call<{ id: string }>(ADMIN, 'POST', '/v1/admin/tenants', { name: 'bench' });
    const { key } = await call<{ key: string }>(ADMIN, 'POST', `/v1/admin/tenants/${tenant.id}/keys`, { scopes: ['cubes:write', 'memories:read', 'memories:write', 'inference:run'] });
    const cube = await call<{ id: string }>(key, 'POST', '/v1/cubes', { name: 'wm' });
    const texts = Array.from({ length: MEMORIES }, (_, i) => `Fact ${i}: person ${i % 37} likes item ${(i * 7) % 53} and lives in town ${(i * 11) % 29}.`);
    for (let i = 0; i < texts.length; i += 50) await call(key, 'POST', `/v1/cubes/${cube.id}/memories`, { items: texts.slice(i, i + 50).map((text) => ({ text })) });
    await call(key, 'PUT', `/v1/cubes/${cube.id}/lifecycle`, { activation: { model: 'tiny', maxTokens: MAX_TOKENS, debounceMs: 0 } });
    const t0 = performance.now();
    await drain();
    const rows = app.get(WorkingMemoryRepository);
    const first = (await rows.get(cube.id))!;
    log(`built: ${first.tokenCount} tokens, ${first.sourceMemoryIds.length} memories in ${first.buildMs} ms (drain ${Math.round(performance.now() - t0)} ms)`);

    type Chat = { usage: { prompt_tokens: number }; engram: { cachedTokens: number; timings: { timeToFirstTokenMs: number }; workingMemory?: { hit: boolean } } };
    const ask = (i: number, engram: object) => call<Chat>(key, 'POST', '/v1/chat/completions', { model: 'tiny', max_tokens: 1, temperature: 0, messages: [{ role: 'user', content: `What does person ${i} like?` }], engram: { cubeId: cube.id, retrieve: false, ...engram } });
    await ask(0, {}); // warm the session
    const hit: number[] = [];
    const full: number[] = [];
    let promptTokens = 0;
    let cached = 0;
    for (let i = 0; i < QUESTIONS; i++) {
      const a = await ask(i, {});
      if (!a.engram.workingMemory?.hit) throw new Error('expected a working-memory hit');
      hit.push(a.engram.timings.timeToFirstTokenMs);
      cached = a.engram.cachedTokens;
      const b = await ask(i, { memoryText: first.text, workingMemory: false });
      if (b.engram.cachedTokens !== 0 || b.usage.prompt_tokens !== a.usage.prompt_tokens) throw new Error('the baseline must prefill the same prompt');
      full.push(b.engram.timings.timeToFirstTokenMs);
      promptTokens = a.usage.prompt_tokens;
    }

    const newest = first.sourceMemoryIds[first.sourceMemoryIds.length - 1];
    await call(key, 'PATCH', `/v1/cubes/${cube.id}/memories/${newest}`, { text: 'Fact edited: person 1 now likes item 99.' });
    await drain();
    const edited = (await rows.get(cube.id))!;
    const early = edited.sourceMemoryIds[Math.min(edited.sourceMemoryIds.length - 1, Math.floor(edited.sourceMemoryIds.length * DELETE_AT))];
    await call(key, 'DELETE', `/v1/cubes/${cube.id}/memories/${early}`);
    await drain();
    const deleted = (await rows.get(cube.id))!;

    const out = {
      wm_tokens: first.tokenCount,
      wm_memories: first.sourceMemoryIds.length,
      build_ms: first.buildMs,
      prompt_tokens: promptTokens,
      cached_tokens: cached,
      ttft_p50_hit_ms: r2(p50(hit)),
      ttft_p50_prefill_ms: r2(p50(full)),
      ttft_speedup: r2(p50(full) / p50(hit)),
      edit_newest_reused_tokens: edited.reusedTokens,
      edit_newest_prefilled_tokens: edited.prefilledTokens,
      edit_newest_build_ms: edited.buildMs,
      delete_at_reused_tokens: deleted.reusedTokens,
      delete_at_prefilled_tokens: deleted.prefilledTokens,
      delete_at_build_ms: deleted.buildMs,
    };
    console.log(`model: ${LAYERS} layers, hidden ${HIDDEN}, context 2048; ${MEMORIES} memories, maxTokens ${MAX_TOKENS}; ${QUESTIONS} questions`);
    console.log('| measure | value |\n|---|---|');
    console.log(`| working memory | ${out.wm_tokens} tokens, ${out.wm_memories} memories, first build ${out.build_ms} ms |`);
    console.log(`| TTFT p50, KV reused (${out.cached_tokens} of ${out.prompt_tokens} prompt tokens) | ${out.ttft_p50_hit_ms} ms |`);
    console.log(`| TTFT p50, same prompt prefilled | ${out.ttft_p50_prefill_ms} ms (×${out.ttft_speedup}) |`);
    console.log(`| rebuild after editing the newest memory | ${out.edit_newest_reused_tokens} reused, ${out.edit_newest_prefilled_tokens} prefilled, ${out.edit_newest_build_ms} ms |`);
    console.log(`| rebuild after deleting the memory at ${DELETE_AT} of it | ${out.delete_at_reused_tokens} reused, ${out.delete_at_prefilled_tokens} prefilled, ${out.delete_at_build_ms} ms |`);
    console.log(JSON.stringify(out));
  } finally {
    await app.close();
    await db.drop();
    rmSync(modelsDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
