import { randomUUID } from 'node:crypto';
import { BankBlockRepository, BankBlockWrite, BankRepository, ModelRepository } from '@engram/persistence';
import { createMediumHarness, MediumHarness } from '@engram/testing';
import { DataSource } from 'typeorm';

/** bank_blocks and bank_deleted_memories against PostgreSQL (ADR 0305). */
describe('BankBlockRepository', () => {
  let h: MediumHarness;
  let rows: BankBlockRepository;
  let modelId: string;
  let cubeId: string;
  const [m1, m2, m3] = [randomUUID(), randomUUID(), randomUUID()];
  const written = (level: number, node: number, memoryIds: string[], generation: number, extra: Partial<BankBlockWrite> = {}): BankBlockWrite => ({
    level,
    node,
    memoryIds,
    stale: false,
    locked: false,
    generation,
    steps: 10,
    finalLoss: 1.5,
    writtenAt: '2026-01-02T03:04:05.000Z',
    ...extra,
  });
  const newBank = async () => {
    const id = randomUUID();
    await h.app.get(BankRepository).create({ id, cubeId, modelId, modelFingerprint: 'f', embedder: {}, embedderFingerprint: 'e', levels: 2, branching: 2, ranks: [2, 2], replay: { source: 'none', perStep: 8, weight: 20, samples: 128 }, directory: `/tmp/${id}` });
    await rows.reset(id, 1, { phase: 'ready' });
    return id;
  };

  beforeAll(async () => {
    h = await createMediumHarness();
    rows = h.app.get(BankBlockRepository);
    const model = await h.app.get(ModelRepository).create({ name: 'tiny', fingerprint: 'f', directory: '/m', format: 'safetensors', config: {} });
    if (!model.ok) throw new Error('model');
    modelId = model.model.id;
    cubeId = (await h.factory.cube()).id;
  });
  afterAll(() => h.close());

  it('records a commit’s blocks and the bank’s generation together, and never moves the generation back', async () => {
    const bank = await newBank();
    expect(await rows.commit(bank, 2, [written(1, 0, [m1, m2], 2), written(2, 1, [m1], 2)], [], { progress: { phase: 'written' } })).toBe(true);
    expect((await h.app.get(BankRepository).getAny(bank))!).toMatchObject({ generation: 2, state: 'ready', progress: { phase: 'written' } });
    expect(await rows.get(bank, 1, 0)).toEqual({ bankId: bank, level: 1, node: 0, memoryIds: [m1, m2], stale: false, locked: false, generation: 2, steps: 10, writes: 1, finalLoss: 1.5, writtenAt: new Date('2026-01-02T03:04:05.000Z') });
    await rows.commit(bank, 3, [written(1, 0, [m2], 3, { stale: true, steps: 0, finalLoss: null })], [m1]);
    // A second commit of the same block counts as its second write.
    expect(await rows.get(bank, 1, 0)).toMatchObject({ memoryIds: [m2], stale: true, generation: 3, steps: 0, writes: 2, finalLoss: null });
    expect(await rows.get(bank, 2, 1)).toMatchObject({ writes: 1 });
    expect(await rows.deletedIds(bank)).toEqual([m1]);
    await rows.commit(bank, 2, []);
    expect((await h.app.get(BankRepository).getAny(bank))!.generation).toBe(3);
    expect(await rows.commit(randomUUID(), 4, [written(1, 0, [m1], 4)])).toBe(false);
  });

  it('marks only the blocks holding a memory stale, records a deleted one once, and counts per level', async () => {
    const bank = await newBank();
    const other = await newBank();
    await rows.commit(bank, 2, [written(1, 0, [m1, m2], 2), written(1, 1, [m3], 2), written(2, 0, [m1], 2)]);
    await rows.commit(other, 2, [written(1, 0, [m1], 2)]);
    expect(await rows.markStale(bank, m1, true)).toBe(2);
    expect(await rows.markStale(bank, m1, true)).toBe(2); // a retried job: same state
    expect((await rows.list(bank)).map((b) => [b.level, b.node, b.stale])).toEqual([[1, 0, true], [1, 1, false], [2, 0, true]]);
    expect(await rows.get(other, 1, 0)).toMatchObject({ stale: false });
    expect(await rows.deletedIds(bank)).toEqual([m1]);
    expect(await rows.markStale(bank, m3, false)).toBe(1);
    expect(await rows.deletedIds(bank)).toEqual([m1]);
    const counts = await rows.counts(bank);
    expect(counts).toEqual({ levels: new Map([[1, { written: 2, stale: 2 }], [2, { written: 1, stale: 1 }]]), deleted: 1 });
    expect((await rows.holding(m1)).filter((b) => b.bankId === bank || b.bankId === other).map((b) => [b.bankId, b.level, b.node]).sort()).toEqual([[bank, 1, 0], [bank, 2, 0], [other, 1, 0]].sort());
  });

  it('answers "which blocks hold memory X" through the GIN index on memory_ids', async () => {
    const db = h.app.get(DataSource);
    const plan = await db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      return (await tx.query(`EXPLAIN SELECT bank_id FROM bank_blocks WHERE memory_ids @> ARRAY[$1]::uuid[]`, [m1])) as Array<{ 'QUERY PLAN': string }>;
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('IDX_bank_blocks_memory_ids');
  });

  it('empties a rebuilt bank, and deleting a bank deletes its rows', async () => {
    const bank = await newBank();
    await rows.commit(bank, 2, [written(1, 0, [m1], 2)], [m2]);
    expect(await rows.reset(bank, 1, { phase: 'ready' })).toBe(true);
    expect(await rows.list(bank)).toEqual([]);
    expect(await rows.deletedIds(bank)).toEqual([]);
    await rows.commit(bank, 2, [written(1, 0, [m1], 2)], [m2]);
    await h.app.get(BankRepository).delete(cubeId, bank);
    expect(await rows.list(bank)).toEqual([]);
    expect(await rows.deletedIds(bank)).toEqual([]);
  });
});
