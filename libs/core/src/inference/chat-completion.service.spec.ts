import { KvState } from '@engram/inference';
import { KvCacheRecord, KvCacheRepository, ModelRecord } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { ChatCompletionRequestDto } from '../dtos/chat-completion.dto';
import { EngramError } from '../errors/engram.error';
import { RequestContext } from '../services/request-context';
import { BankService } from '../parametric/bank.service';
import { ActivationStore } from './activation.store';
import { ChatCompletionService } from './chat-completion.service';
import { KvHitCounter } from './kv-hit.counter';
import { ChatRetrieval } from './chat-retrieval';
import { WorkingMemoryService } from './working-memory.service';
import { ModelRuntime } from './model.runtime';
import { ModelService } from './model.service';
import { QuotaService } from '../quotas/quota.service';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';

/** A strict mock: calling anything that was not stubbed fails the test. */
function strictMock<T extends object>(stubs: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(stubs as T, {
    get: (target, prop) => {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if (prop === 'then') return undefined;
      throw new Error(`unexpected call: ${String(prop)}`);
    },
  });
}

const kv = (seq: number): KvState => ({ numLayers: 1, kvHeads: 1, headDim: 2, seq, layers: [{ key: new Float32Array(seq * 2), value: new Float32Array(seq * 2) }] });
const ctx: RequestContext = { auth: { kind: 'key', actorId: 'k', keyId: 'k', tenantId: 't', scopes: [], cubeIds: null }, requestId: 'r' };
const CUBE = '11111111-1111-4111-8111-111111111111';
const model = { id: 'm1', name: 'tiny', fingerprint: 'f', directory: '/m', format: 'safetensors', config: {}, createdAt: new Date() } as ModelRecord;
const ownCache = { id: 'c1', cubeId: CUBE, modelId: 'm1', text: 'memory', tokenCount: 5 } as KvCacheRecord;
const lm = { maxContext: 64, tokenizer: { encode: () => Array.from({ length: 12 }, (_, i) => i), applyChatTemplate: () => 'prompt', fewestTokens: () => 0 }, prefill: jest.fn(async () => ({ logits: new Float32Array(1), present: kv(5) })) };
const result = { tokenIds: [1], text: 'ok', finishReason: 'stop', usage: { promptTokens: 12, cachedTokens: 5, completionTokens: 1 }, timings: { prefillMs: 1, timeToFirstTokenMs: 1, decodeMs: 1, decodeTokensPerSecond: 0 } };

function service(overrides: { requireCube?: jest.Mock; prefixFor?: jest.Mock; generate?: jest.Mock; findByText?: jest.Mock; routeForChat?: jest.Mock; policyBank?: string } = {}) {
  const generate = overrides.generate ?? jest.fn().mockResolvedValue(result);
  const access = strictMock<AccessService>({ requireCubeWithChangeSeq: overrides.requireCube ?? jest.fn().mockResolvedValue({ cube: { id: CUBE }, changeSeq: 1 }), requirePermission: jest.fn() });
  const models = strictMock<ModelService>({ resolve: jest.fn().mockResolvedValue(model) });
  const kvCaches = strictMock<KvCacheRepository>({ findByText: overrides.findByText ?? jest.fn().mockResolvedValue(ownCache), getMany: jest.fn().mockResolvedValue([ownCache]) });
  const runtime = strictMock<ModelRuntime>({ load: jest.fn().mockResolvedValue(lm), generate });
  const activation = strictMock<ActivationStore>({
    prefixFor: overrides.prefixFor ?? jest.fn().mockResolvedValue({ prefix: kv(9), cachedTokens: 9, tiers: ['ram', 'ram', 'disk'] }),
    chunkTokens: 4,
  });
  const retrieval = strictMock<ChatRetrieval>({ retrieve: jest.fn().mockResolvedValue({ message: null, memoryIds: [], tokens: 0, ranked: ['m9'] }) });
  const workingMemory = strictMock<WorkingMemoryService>({ forChat: jest.fn().mockResolvedValue(null) });
  const policies = strictMock<LifecyclePolicies>({ effective: jest.fn().mockResolvedValue({ consolidation: { bankId: overrides.policyBank ?? null, minRouteSimilarity: 0.3 } }) });
  const banks = strictMock<BankService>(overrides.routeForChat ? { routeForChat: overrides.routeForChat } : {});
  return { chat: new ChatCompletionService(access, models, kvCaches, runtime, activation, banks, strictMock<QuotaService>({ requireTokens: jest.fn().mockResolvedValue(undefined), chargeTokens: jest.fn().mockResolvedValue(undefined) }), retrieval, new KvHitCounter(), workingMemory, policies), access, generate, retrieval };
}

const request = (engram?: object) => Object.assign(new ChatCompletionRequestDto(), { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], temperature: 0, ...(engram ? { engram } : {}) });

describe('ChatCompletionService', () => {
  it('checks access to the cube before anything else', async () => {
    const denied = jest.fn().mockRejectedValue(EngramError.notFound('cube'));
    const { chat, generate } = service({ requireCube: denied });
    await expect(chat.complete(ctx, request({ cubeId: CUBE, memoryText: 'memory' }))).rejects.toMatchObject({ message: 'cube not found' });
    expect(denied).toHaveBeenCalledWith(ctx.auth, Permission.ModelUse, CUBE);
    expect(generate).not.toHaveBeenCalled();
  });

  it('never injects more cached KV than the cube’s own cache holds', async () => {
    const { chat, generate } = service();
    const res = await chat.complete(ctx, request({ cubeId: CUBE, memoryText: 'memory' }));
    expect(generate.mock.calls[0][2].prefix.seq).toBe(5);
    expect(res.engram.tiers).toEqual(['ram', 'ram']);
  });

  it('injects nothing for memory text the cube has no cache of', async () => {
    const prefixFor = jest.fn();
    const { chat, generate } = service({ findByText: jest.fn().mockResolvedValue(null), prefixFor });
    await chat.complete(ctx, request({ cubeId: CUBE, memoryText: 'someone else’s memory' }));
    expect(prefixFor).not.toHaveBeenCalled();
    expect(generate.mock.calls[0][2].prefix).toBeUndefined();
  });

  const routed = (used: boolean) => ({
    bankId: 'b1',
    source: 'request',
    generation: 2,
    used,
    reason: used ? null : 'not-consolidated',
    routedBy: 'memory',
    memoryId: 'm9',
    similarity: null,
    path: used ? [1, 0] : [],
    memory: used ? [1, 2].map((rank) => ({ rank, gate: new Float32Array(rank), up: new Float32Array(rank), down: new Float32Array(rank) })) : [],
    staleLevels: [],
    leftOut: [],
  });

  it('attaches the blocks the bank routed by the best retrieved memory and reports them; the cached prefix (made without blocks) is reused', async () => {
    const bank = routed(true);
    const routeForChat = jest.fn().mockResolvedValue(bank);
    const { chat, generate } = service({ routeForChat });
    const res = await chat.complete(ctx, request({ cubeId: CUBE, bankId: 'b1', memoryText: 'memory' }));
    expect(routeForChat).toHaveBeenCalledWith(CUBE, 'b1', model, 'hi', { best: 'm9', inPrompt: [] });
    expect(generate.mock.calls[0][2]).toMatchObject({ memory: bank.memory });
    expect(generate.mock.calls[0][2].prefix.seq).toBe(5);
    expect(res.engram.cachedTokens).toBe(5);
    expect(res.engram.bank).toEqual({ id: 'b1', source: 'request', used: true, reason: null, routedBy: 'memory', memoryId: 'm9', similarity: null, generation: 2, path: [1, 0], rank: 3, staleLevels: [], leftOut: [] });
  });

  it('with blocks attached and the cache missed, prefills the cached prefix without the blocks, so the answer does not depend on a hit', async () => {
    const bank = routed(true);
    const prefixFor = jest.fn().mockResolvedValue({ prefix: undefined, cachedTokens: 0, tiers: [] });
    const { chat, generate } = service({ routeForChat: jest.fn().mockResolvedValue(bank), prefixFor });
    const res = await chat.complete(ctx, request({ cubeId: CUBE, bankId: 'b1', memoryText: 'memory' }));
    expect(lm.prefill).toHaveBeenCalledWith([0, 1, 2, 3, 4], { past: undefined });
    expect(generate.mock.calls[0][2]).toMatchObject({ memory: bank.memory });
    expect(generate.mock.calls[0][2].prefix.seq).toBe(5);
    expect(res.engram.cachedTokens).toBe(0);
  });

  it('uses the consolidation policy’s bank without being told, and reuses the cached KV when it attaches no block', async () => {
    const routeForChat = jest.fn().mockResolvedValue({ ...routed(false), source: 'policy' });
    const { chat, generate } = service({ routeForChat, policyBank: 'b1' });
    const res = await chat.complete(ctx, request({ cubeId: CUBE, memoryText: 'memory' }));
    expect(routeForChat).toHaveBeenCalledWith(CUBE, 'b1', model, 'hi', { best: 'm9', inPrompt: [] }, 'policy', 0.3);
    expect(generate.mock.calls[0][2]).toMatchObject({ memory: undefined });
    expect(generate.mock.calls[0][2].prefix.seq).toBe(5);
    expect(res.engram.bank).toMatchObject({ id: 'b1', source: 'policy', used: false, reason: 'not-consolidated', rank: 0 });
  });

  it('uses no bank when the request turns it off', async () => {
    const routeForChat = jest.fn();
    const { chat } = service({ routeForChat, policyBank: 'b1' });
    for (const bankId of [null, false]) expect((await chat.complete(ctx, request({ cubeId: CUBE, memoryText: 'memory', bankId }))).engram.bank).toBeUndefined();
    expect(routeForChat).not.toHaveBeenCalled();
  });
});
