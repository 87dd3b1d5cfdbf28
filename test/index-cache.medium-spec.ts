import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CoreModule, CubeIndexManager, MemoryService, SearchService } from '@engram/core';
import { CubeRepository } from '@engram/persistence';
import { createMediumHarness, MediumHarness, TestKey } from '@engram/testing';

/** The in-memory index cache is bounded by estimated bytes as well as by cube count (ADR 0112). */
describe('index cache bounded by bytes', () => {
  let h: MediumHarness;
  let owner: TestKey;
  const cubes: string[] = [];
  let oneCube = 0;

  const search = (cubeId: string, query: string) => h.app.get(SearchService).search(owner.ctx, cubeId, { query, topK: 1 }).then((r) => r.results.map((m) => m.text));

  beforeAll(async () => {
    h = await createMediumHarness();
    owner = await h.factory.apiKey();
    for (let c = 0; c < 3; c++) {
      const cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
      cubes.push(cubeId);
      const items = Array.from({ length: 200 }, (_, i) => ({ text: `cube ${c} note ${i} about the ${['harbour', 'orchard', 'tower'][c]} and item ${i * 7}` }));
      await h.app.get(MemoryService).add(owner.ctx, cubeId, { items });
    }
    const manager = h.app.get(CubeIndexManager);
    await search(cubes[0], 'harbour');
    oneCube = manager.cachedBytes;
    manager.evict(cubes[0]);
  });
  afterAll(() => h.close());

  it('estimates the bytes of a loaded index', () => {
    // 200 short memories: tens of kilobytes, not nothing and not megabytes.
    expect(oneCube).toBeGreaterThan(20_000);
    expect(oneCube).toBeLessThan(2_000_000);
  });

  it('drops the least recently used indexes past the byte budget and still answers from every cube', async () => {
    const manager = h.app.get(CubeIndexManager);
    const budget = Math.floor(oneCube * 2.5);
    (h.config as { indexCacheBytes: number }).indexCacheBytes = budget;
    try {
      for (const [c, cubeId] of cubes.entries()) {
        expect(await search(cubeId, `cube ${c} note 5 about the ${['harbour', 'orchard', 'tower'][c]}`)).toEqual([`cube ${c} note 5 about the ${['harbour', 'orchard', 'tower'][c]} and item 35`]);
      }
      expect(manager.cachedCubes).toBe(2);
      expect(manager.cachedBytes).toBeLessThanOrEqual(budget);
      // The first cube was dropped; it loads again (from its snapshot) and answers the same.
      expect(await search(cubes[0], 'cube 0 note 5 about the harbour')).toEqual(['cube 0 note 5 about the harbour and item 35']);
      expect(manager.cachedCubes).toBe(2);
    } finally {
      (h.config as { indexCacheBytes: number }).indexCacheBytes = 1024 ** 3;
    }
  });

  it('finishes the snapshot writes of evicted indexes before it shuts down', async () => {
    const fresh: string[] = [];
    for (let c = 0; c < 2; c++) {
      fresh.push((await h.factory.cube({ tenantId: owner.tenantId })).id);
      await h.app.get(MemoryService).add(owner.ctx, fresh[c], { items: Array.from({ length: 200 }, (_, i) => ({ text: `fresh cube ${c} note ${i}` })) });
    }
    await search(cubes[0], 'harbour');
    await h.app.get(CubeIndexManager).settled(cubes[0]); // its snapshot is current: loading it writes nothing
    // A cache of one cube: each rebuilt index starts writing its first snapshot (slowly: the
    // database answers late) and is evicted by the next search; the last cube loads from its
    // snapshot and has nothing to write.
    const app = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config, indexCacheCubes: 1 }), { logger: false });
    const manager = app.get(CubeIndexManager);
    const cubeRows = app.get(CubeRepository);
    const getAny = cubeRows.getAny.bind(cubeRows);
    jest.spyOn(cubeRows, 'getAny').mockImplementation(async (id) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return getAny(id);
    });
    try {
      for (const cubeId of [...fresh, cubes[0]]) await app.get(SearchService).search(owner.ctx, cubeId, { query: 'note 5', topK: 1 });
      expect(manager.cachedCubes).toBe(1);
    } finally {
      await app.close();
    }
    for (const cubeId of fresh) expect(fs.existsSync(path.join(manager.snapshotDir(cubeId), 'manifest.json'))).toBe(true);
  });

  it('keeps the cube in use even when it alone is over the budget', async () => {
    const manager = h.app.get(CubeIndexManager);
    (h.config as { indexCacheBytes: number }).indexCacheBytes = 1;
    for (const cubeId of cubes) manager.evict(cubeId);
    try {
      expect(await search(cubes[2], 'cube 2 note 9 about the tower')).toEqual(['cube 2 note 9 about the tower and item 63']);
      expect(manager.cachedCubes).toBe(1);
      expect(await search(cubes[1], 'cube 1 note 9 about the orchard')).toEqual(['cube 1 note 9 about the orchard and item 63']);
      expect(manager.cachedCubes).toBe(1);
    } finally {
      (h.config as { indexCacheBytes: number }).indexCacheBytes = 1024 ** 3;
    }
  });
});
