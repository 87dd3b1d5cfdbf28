import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AccessService, CoreModule, CubeService, MemoryService, SearchService } from '@engram/core';
import { MemoryRepository } from '@engram/persistence';
import { createMediumHarness, MediumHarness, TestKey } from '@engram/testing';

/**
 * A search over a cube whose index is in memory checks access, freshness and reads its hits'
 * rows in one query, after searching: it must still refuse at once what the checked way
 * refuses, and still see every committed write.
 */
describe('search over an index in memory', () => {
  let h: MediumHarness;
  let second: INestApplicationContext;
  let owner: TestKey;
  let cubeId: string;

  beforeAll(async () => {
    h = await createMediumHarness();
    // Another engram process on the same database (its own in-memory indexes).
    second = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config }), { logger: false });
    owner = await h.factory.apiKey();
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The lighthouse keeper is named Orla' }, { text: 'The ferry leaves at noon' }] });
  });
  afterAll(async () => {
    await second.close();
    await h.close();
  });
  afterEach(() => jest.restoreAllMocks());

  const search = (ctx = owner.ctx, query = 'who keeps the lighthouse') =>
    h.app.get(SearchService).search(ctx, cubeId, { query, topK: 5 }).then((r) => r.results.map((m) => m.text));

  it('answers a hot cube with one query for access, change sequence and rows', async () => {
    await search(); // loads the index
    const checked = jest.spyOn(h.app.get(AccessService), 'requireCubeWithChangeSeq');
    const rows = jest.spyOn(h.app.get(MemoryRepository), 'getByLabels');
    const together = jest.spyOn(h.app.get(MemoryRepository), 'getLiveCubeWithRows');
    expect((await search())[0]).toBe('The lighthouse keeper is named Orla');
    expect(together).toHaveBeenCalledTimes(1);
    expect(checked).not.toHaveBeenCalled();
    expect(rows).not.toHaveBeenCalled();
  });

  it('finds a write of another instance at once (the index is behind: it catches up first)', async () => {
    await search();
    await second.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The lighthouse was painted red in spring' }] });
    expect(await search(owner.ctx, 'lighthouse painted red')).toContain('The lighthouse was painted red in spring');
  });

  it('leaves out a memory another instance deleted, at once', async () => {
    const { body } = await second.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The harbour opens at dawn' }] });
    expect(await search(owner.ctx, 'harbour dawn')).toContain('The harbour opens at dawn');
    await second.get(MemoryService).delete(owner.ctx, cubeId, body.items[0].id);
    expect(await search(owner.ctx, 'harbour dawn')).not.toContain('The harbour opens at dawn');
  });

  it('does not search a hot cube for another tenant, and answers 404', async () => {
    await search();
    const stranger = await h.factory.apiKey();
    const together = jest.spyOn(h.app.get(MemoryRepository), 'getLiveCubeWithRows');
    await expect(search(stranger.ctx)).rejects.toMatchObject({ code: 'not_found' });
    expect(together).not.toHaveBeenCalled();
  });

  it('refuses a key limited to other cubes', async () => {
    await search();
    const other = await h.factory.cube({ tenantId: owner.tenantId });
    const limited = await h.factory.apiKey({ tenantId: owner.tenantId, cubeIds: [other.id] });
    await expect(search(limited.ctx)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a cube deleted by another instance at once, though its index is still in memory', async () => {
    const doomed = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    await h.app.get(MemoryService).add(owner.ctx, doomed, { items: [{ text: 'A memory of a cube about to go' }] });
    const find = () => h.app.get(SearchService).search(owner.ctx, doomed, { query: 'memory cube', topK: 5 });
    expect((await find()).results).toHaveLength(1);
    await second.get(CubeService).delete(owner.ctx, doomed);
    await expect(find()).rejects.toMatchObject({ code: 'not_found' });
  });
});
