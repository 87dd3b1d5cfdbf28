// A shutdown while a large cube's first graph is being built (ADR 0114) stops the build and
// saves the index without it, instead of waiting for the build (minutes at 1M: a deploy's
// SIGTERM would time out and kill the process before the snapshot was written). The
// snapshot then loads, answers the same, and builds its graph again in the background.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CubeIndexManager, MemoryService, SearchService } from '@engram/core';
import type { CubeIndex } from '@engram/plaintext';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const DOCS = 6_000;

describe('shutting down while a first graph is being built', () => {
  let h: E2eHarness;

  beforeAll(async () => {
    h = await createE2eHarness({ indexGraphMinDocuments: 100 });
  }, 120_000);
  afterAll(() => h?.close());

  it('stops the build, saves the index without its graph, and the snapshot answers the same', async () => {
    const owner = await h.factory.apiKey();
    const cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const memories = h.app.get(MemoryService);
    const words = ['harbour', 'orchard', 'lantern', 'violin', 'glacier', 'meadow', 'copper', 'thistle', 'falcon', 'ember'];
    const search = async () => (await h.app.get(SearchService).search(owner.ctx, cubeId, { query: 'entry 4242 lantern', topK: 5 })).results.map((hit) => hit.id);
    await memories.add(owner.ctx, cubeId, { items: [{ text: 'entry start about the harbour' }] });
    await search(); // loaded while too small for a graph
    for (let i = 0; i < DOCS; i += 1000) {
      const items = Array.from({ length: 1000 }, (_, j) => ({ text: `entry ${i + j} about the ${words[(i + j) % 10]} and the ${words[((i + j) * 3) % 10]}` }));
      await memories.add(owner.ctx, cubeId, { items });
    }
    // This search takes the rows in (no yield between them and its answer) and starts the first graph's build.
    const before = await search();
    const manager = h.app.get(CubeIndexManager);
    const index = (await (manager as unknown as { cubes: Map<string, Promise<{ index: CubeIndex }>> }).cubes.get(cubeId))!.index;
    expect(index.hasGraph).toBe(false);
    expect(index.graphBuilding).toBe(true); // the first graph is being built in slices

    await manager.beforeApplicationShutdown();
    expect(index.graphBuilding).toBe(false); // stopped, not waited for
    expect(index.hasGraph).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(manager.snapshotDir(cubeId), 'manifest.json'), 'utf8')) as { changeSeq: number };
    expect(manifest.changeSeq).toBeGreaterThan(0);

    // Loaded again from that snapshot: the same answer (both exact scans), and the graph is built in the background.
    manager.evict(cubeId);
    expect(await search()).toEqual(before);
    const reloaded = (await (manager as unknown as { cubes: Map<string, Promise<{ index: CubeIndex }>> }).cubes.get(cubeId))!.index;
    await reloaded.graphReady();
    expect(reloaded.graphLinksAll()).toBe(true);
  }, 120_000);

  it('stops the graph build of an index the cache drops to make room', async () => {
    const owner = await h.factory.apiKey();
    const big = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const small = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const memories = h.app.get(MemoryService);
    await memories.add(owner.ctx, small, { items: [{ text: 'the only record of the small cube' }] });
    await memories.add(owner.ctx, big, { items: [{ text: 'record 0 of the big cube' }] });
    const manager = h.app.get(CubeIndexManager);
    const cached = () => (manager as unknown as { cubes: Map<string, Promise<{ index: CubeIndex }>> }).cubes;
    (h.config as { indexCacheCubes: number }).indexCacheCubes = 1;
    try {
      await h.app.get(SearchService).search(owner.ctx, big, { query: 'record', topK: 1 }); // loaded: too small for a graph
      for (let i = 1; i < DOCS; i += 1000) {
        await memories.add(owner.ctx, big, { items: Array.from({ length: 1000 }, (_, j) => ({ text: `record ${i + j} of the big cube` })) });
      }
      // This search takes the rows in (no yield between them and its answer) and starts the first graph's build.
      await h.app.get(SearchService).search(owner.ctx, big, { query: 'record 42', topK: 1 });
      const index = (await cached().get(big))!.index;
      expect(index.graphBuilding).toBe(true); // its graph is being built in slices
      await h.app.get(SearchService).search(owner.ctx, small, { query: 'record', topK: 1 });
      expect(cached().has(big)).toBe(false);
      expect(index.graphBuilding).toBe(false);
      await index.graphReady(); // the build was stopped, not finished
      expect(index.graphLinksAll()).toBe(false);
    } finally {
      (h.config as { indexCacheCubes: number }).indexCacheCubes = 256;
    }
  }, 120_000);
});
