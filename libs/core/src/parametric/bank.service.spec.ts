import { BankBlockRepository, BankRecord, BankRepository, ConsolidationRepository, MemoryRepository, ModelRecord, ModelRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { CreateBankDto } from '../dtos/bank.dto';
import { EngramError } from '../errors/engram.error';
import { ModelService } from '../inference/model.service';
import { JobQueueService } from '../jobs/job-queue.service';
import { EmbedderRegistry } from '../memories/embedder.registry';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { BankService } from './bank.service';
import { BankProvenance } from './bank-provenance.service';
import { BankStore } from './bank.store';
import { QuotaService } from '../quotas/quota.service';
import type { EngramConfig } from '@engram/config';

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

const ctx: RequestContext = { auth: { kind: 'key', actorId: 'k', keyId: 'k', tenantId: 't', scopes: [], cubeIds: null }, requestId: 'r' };
const CUBE = '11111111-1111-4111-8111-111111111111';
const model = { id: 'm1', name: 'tiny', fingerprint: 'f', directory: '/m', format: 'safetensors', config: {}, createdAt: new Date() } as ModelRecord;
const ready = { id: 'b1', cubeId: CUBE, state: 'ready', modelFingerprint: 'f', generation: 3, levels: 2, embedder: { type: 'hash', dimension: 8 } } as unknown as BankRecord;

function service(stubs: { requireCube?: jest.Mock; get?: jest.Mock; resolve?: jest.Mock; routeAndFetchOrAbstain?: jest.Mock; staleLevels?: jest.Mock; routeStates?: jest.Mock; pathOf?: jest.Mock } = {}) {
  const access = strictMock<AccessService>({ requireCube: stubs.requireCube ?? jest.fn().mockResolvedValue({ id: CUBE, tenantId: 't', settings: {} }) });
  const banks = strictMock<BankRepository>({ get: stubs.get ?? jest.fn().mockResolvedValue(ready) });
  const models = strictMock<ModelService>({ resolve: stubs.resolve ?? jest.fn().mockResolvedValue(model) });
  const embedder = { fingerprint: 'hash:8', dimension: 8, embed: jest.fn() };
  const embedders = strictMock<EmbedderRegistry>({ forSettings: jest.fn().mockReturnValue(embedder), embed: jest.fn(), stored: jest.fn().mockReturnValue({ type: 'hash', dimension: 8 }), validate: jest.fn().mockResolvedValue({ type: 'hash', dimension: 8 }) });
  const store = strictMock<BankStore>({ routeAndFetchOrAbstain: stubs.routeAndFetchOrAbstain ?? jest.fn(), pathOf: stubs.pathOf ?? jest.fn().mockReturnValue([1, 2]), fetch: jest.fn().mockReturnValue([2, 3].map((rank) => ({ rank, gate: new Float32Array(rank), up: new Float32Array(rank), down: new Float32Array(rank) }))) });
  const provenance = strictMock<BankProvenance>({ current: jest.fn(async (bank: BankRecord) => bank) });
  const svc = new BankService(access, banks, strictMock<MemoryRepository>({}), models, strictMock<ModelRepository>({}), embedders, strictMock<JobQueueService>({}), store, provenance, strictMock<BankBlockRepository>({}), strictMock<QuotaService>({ requireJobSlot: jest.fn().mockResolvedValue(undefined), requireBankBytes: jest.fn().mockResolvedValue(undefined) }), { bankMaxBytes: 1024 ** 3 } as EngramConfig, strictMock<AuditService>({}), strictMock<ConsolidationRepository>({ staleLevels: stubs.staleLevels ?? jest.fn().mockResolvedValue([]), routeStates: stubs.routeStates ?? jest.fn().mockResolvedValue([]) }));
  return { svc, access };
}

const dto = (fields: Partial<CreateBankDto>) => Object.assign(new CreateBankDto(), { model: 'tiny', ...fields });

describe('BankService', () => {
  it('checks access to the cube before anything else', async () => {
    const denied = jest.fn().mockRejectedValue(EngramError.notFound('cube'));
    const resolve = jest.fn();
    const { svc } = service({ requireCube: denied, resolve });
    await expect(svc.create(ctx, CUBE, dto({}))).rejects.toMatchObject({ message: 'cube not found' });
    expect(denied).toHaveBeenCalledWith(ctx.auth, Permission.BankWrite, CUBE);
    expect(resolve).not.toHaveBeenCalled();
    await expect(svc.get(ctx, CUBE, 'b1')).rejects.toMatchObject({ message: 'cube not found' });
    expect(denied).toHaveBeenLastCalledWith(ctx.auth, Permission.BankRead, CUBE);
  });

  it('refuses an ONNX export, a rank list of the wrong length and a geometry of too many blocks', async () => {
    const onnx = service({ resolve: jest.fn().mockResolvedValue({ ...model, format: 'onnx' }) });
    await expect(onnx.svc.create(ctx, CUBE, dto({}))).rejects.toMatchObject({ code: 'model_invalid' });
    const { svc } = service();
    await expect(svc.create(ctx, CUBE, dto({ levels: 2, blockSizes: [4] }))).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(svc.create(ctx, CUBE, dto({ levels: 6, branching: 64 }))).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('refuses a geometry whose file would pass ENGRAM_BANK_MAX_BYTES for this model (rank × model size, not slots alone)', async () => {
    // 16 + 256 + 4096 slots of rank 256 on 32 layers × 4096 hidden: far past 1 GiB.
    const big = service({ resolve: jest.fn().mockResolvedValue({ ...model, config: { layers: 32, hiddenSize: 4096 } }) });
    const refused = big.svc.create(ctx, CUBE, dto({ levels: 3, branching: 16, blockSizes: [256, 256, 256] }));
    await expect(refused).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringMatching(/ENGRAM_BANK_MAX_BYTES/) });
  });

  it('answers 409 for a bank of another model and for a bank still building', async () => {
    const { svc } = service();
    await expect(svc.routeForChat(CUBE, 'b1', { ...model, fingerprint: 'other' }, 'hi')).rejects.toMatchObject({ code: 'conflict' });
    const building = service({ get: jest.fn().mockResolvedValue({ ...ready, state: 'building' }) });
    await expect(building.svc.routeForChat(CUBE, 'b1', model, 'hi')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('routes with the bank’s own embedder and reports the generation it used', async () => {
    const memory = [{ rank: 2, gate: new Float32Array(2), up: new Float32Array(2), down: new Float32Array(2) }];
    const routeAndFetchOrAbstain = jest.fn().mockResolvedValue({ path: [1, 0], similarity: 0.61234, memory });
    const { svc } = service({ routeAndFetchOrAbstain });
    await expect(svc.routeForChat(CUBE, 'b1', model, 'where?')).resolves.toEqual({ bankId: 'b1', source: 'request', generation: 3, used: true, reason: null, routedBy: 'text', memoryId: null, similarity: 0.6123, path: [1, 0], memory, staleLevels: [], leftOut: [] });
    expect(routeAndFetchOrAbstain.mock.calls[0][1].fingerprint).toBe('hash:8');
    expect(routeAndFetchOrAbstain.mock.calls[0][2]).toBe('where?');
    // A bank the request names is routed whatever the similarity.
    expect(routeAndFetchOrAbstain.mock.calls[0][3]).toBe(-Infinity);
  });

  it('lets the policy’s bank abstain on text further than minRouteSimilarity from its leaf', async () => {
    const routeAndFetchOrAbstain = jest.fn().mockResolvedValue({ path: null, similarity: 0.04 });
    const staleLevels = jest.fn();
    const { svc } = service({ routeAndFetchOrAbstain, staleLevels });
    await expect(svc.routeForChat(CUBE, 'b1', model, 'hi', null, 'policy', 0.3)).resolves.toEqual({
      bankId: 'b1', source: 'policy', generation: 3, used: false, reason: 'no-match', routedBy: 'text', memoryId: null, similarity: 0.04, path: [], memory: [], staleLevels: [], leftOut: [],
    });
    expect(routeAndFetchOrAbstain.mock.calls[0][3]).toBe(0.3);
    expect(staleLevels).not.toHaveBeenCalled();
  });

  it('leaves a stale block of the path out (rank 0) and says which level', async () => {
    const block = (rank: number) => ({ rank, gate: new Float32Array(rank), up: new Float32Array(rank), down: new Float32Array(rank) });
    const memory = [block(2), block(3)];
    const staleLevels = jest.fn().mockResolvedValue([2]);
    const { svc } = service({ routeAndFetchOrAbstain: jest.fn().mockResolvedValue({ path: [1, 0], similarity: 0.5, memory }), staleLevels });
    const routed = await svc.routeForChat(CUBE, 'b1', model, 'where?');
    expect(staleLevels).toHaveBeenCalledWith('b1', [1, 0]);
    expect(routed.staleLevels).toEqual([2]);
    expect(routed.memory.map((m) => m.rank)).toEqual([2, 0]);
    expect(routed.memory[0]).toBe(memory[0]);
  });

  describe('routing by the best retrieved memory', () => {
    const state = (level: number, fields: object = {}) => ({ level, written: true, holds: true, stale: false, newer: false, ...fields });

    it('attaches the blocks of the memory’s own path that hold it, fresh', async () => {
      const routeStates = jest.fn().mockResolvedValue([state(1), state(2, { holds: false })]);
      const routeAndFetchOrAbstain = jest.fn();
      const { svc } = service({ routeStates, routeAndFetchOrAbstain });
      const routed = await svc.routeForChat(CUBE, 'b1', model, 'where?', { best: 'm1', inPrompt: ['m1', 'm2'] });
      expect(routeStates).toHaveBeenCalledWith('b1', [1, 2], 'm1', ['m1', 'm2']);
      expect(routeAndFetchOrAbstain).not.toHaveBeenCalled();
      expect(routed).toMatchObject({ used: true, routedBy: 'memory', memoryId: 'm1', path: [1, 2], leftOut: [{ level: 2, why: 'not-holding' }] });
      expect(routed.memory.map((m) => m.rank)).toEqual([2, 0]);
    });

    it('attaches nothing when the memory is in no block, or its blocks are stale or older than a retrieved memory', async () => {
      const outside = service({ pathOf: jest.fn().mockReturnValue(undefined) });
      await expect(outside.svc.routeForChat(CUBE, 'b1', model, 'where?', { best: 'm1', inPrompt: [] })).resolves.toMatchObject({ used: false, reason: 'not-consolidated', memory: [] });
      const stale = service({ routeStates: jest.fn().mockResolvedValue([state(1, { stale: true }), state(2, { newer: true })]) });
      const routed = await stale.svc.routeForChat(CUBE, 'b1', model, 'where?', { best: 'm1', inPrompt: [] });
      expect(routed).toMatchObject({ used: false, reason: 'stale', staleLevels: [1, 2], memory: [] });
      const unwritten = service({ routeStates: jest.fn().mockResolvedValue([state(1, { holds: false }), state(2, { written: false, holds: false })]) });
      await expect(unwritten.svc.routeForChat(CUBE, 'b1', model, 'where?', { best: 'm1', inPrompt: [] })).resolves.toMatchObject({ used: false, reason: 'not-consolidated' });
    });

    it('skips the policy’s bank with a reason where a named one is refused', async () => {
      const building = service({ get: jest.fn().mockResolvedValue({ ...ready, state: 'building' }) });
      await expect(building.svc.routeForChat(CUBE, 'b1', model, 'hi', null, 'policy')).resolves.toMatchObject({ source: 'policy', used: false, reason: 'not-ready' });
      const { svc } = service();
      await expect(svc.routeForChat(CUBE, 'b1', { ...model, fingerprint: 'other' }, 'hi', null, 'policy')).resolves.toMatchObject({ used: false, reason: 'other-model' });
      const gone = service({ get: jest.fn().mockResolvedValue(null) });
      await expect(gone.svc.routeForChat(CUBE, 'b1', model, 'hi', null, 'policy')).resolves.toMatchObject({ used: false, reason: 'gone' });
      await expect(gone.svc.routeForChat(CUBE, 'b1', model, 'hi')).rejects.toMatchObject({ code: 'not_found' });
    });
  });
});
