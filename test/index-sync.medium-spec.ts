import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { AccessService, CoreModule, CubeIndexManager, CubeService, EmbedderRegistry, MemoryService, Scope, SearchService } from '@engram/core';
import { MemoryRepository } from '@engram/persistence';
import { CubeIndex } from '@engram/plaintext';
import { createMediumHarness, MediumHarness, TestKey } from '@engram/testing';

/** Two engram processes on one database: each sees the other's writes through the change sequence. */
describe('search indexes derived from PostgreSQL', () => {
  let h: MediumHarness;
  let second: INestApplicationContext;
  let owner: TestKey;
  let cubeId: string;

  beforeAll(async () => {
    h = await createMediumHarness();
    // Same database and data directory, separate process state (its own in-memory indexes).
    second = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config }), { logger: false });
    owner = await h.factory.apiKey();
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
  });
  afterAll(async () => {
    await second.close();
    await h.close();
  });

  const search = (app: INestApplicationContext, query: string, topK = 5) =>
    app.get(SearchService).search(owner.ctx, cubeId, { query, topK }).then((r) => r.results.map((m) => m.text));

  it('sees writes of another instance on its next search', async () => {
    expect(await search(second, 'anything')).toEqual([]);
    await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The lighthouse keeper is named Orla' }] });
    expect(await search(second, 'who keeps the lighthouse', 1)).toEqual(['The lighthouse keeper is named Orla']);
  });

  it('drops a memory deleted by another instance at once', async () => {
    const { body } = await second.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The ferry leaves at noon' }] });
    expect(await search(h.app, 'ferry noon', 1)).toEqual(['The ferry leaves at noon']);
    await second.get(MemoryService).delete(owner.ctx, cubeId, body.items[0].id);
    expect(await search(h.app, 'ferry noon')).not.toContain('The ferry leaves at noon');
  });

  it('saves a checksummed snapshot and rebuilds from PostgreSQL when it is corrupt', async () => {
    const manager = h.app.get(CubeIndexManager);
    await search(h.app, 'lighthouse');
    await manager.beforeApplicationShutdown(); // saves dirty indexes
    const dir = manager.snapshotDir(cubeId);
    expect(fs.existsSync(path.join(dir, 'manifest.json'))).toBe(true);

    // A third process starting on a corrupt snapshot still answers, from PostgreSQL.
    // A cube this small keeps no graph: its vectors file is the copy of its vectors.
    const vectors = path.join(dir, 'vectors.bin');
    const bytes = fs.readFileSync(vectors);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(vectors, bytes);
    const third = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config }), { logger: false });
    try {
      expect(await search(third, 'who keeps the lighthouse', 1)).toEqual(['The lighthouse keeper is named Orla']);
    } finally {
      await third.close();
    }
  });

  it('loads an intact snapshot and replays only the changes after it', async () => {
    await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The harbour master owns a red boat' }] });
    const fresh = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config }), { logger: false });
    try {
      expect(await search(fresh, 'red boat harbour', 1)).toEqual(['The harbour master owns a red boat']);
      expect(await search(fresh, 'lighthouse keeper', 1)).toEqual(['The lighthouse keeper is named Orla']);
    } finally {
      await fresh.close();
    }
  });

  it('loads the whole index from its snapshot, reading from PostgreSQL only the changes after it', async () => {
    await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The lamplighter of the pier is named Ivo', observedAt: new Date('2024-05-01T00:00:00Z') }] });
    await search(h.app, 'lamplighter'); // the index takes the change in
    await h.app.get(CubeIndexManager).beforeApplicationShutdown(); // and writes its snapshot
    const manifest = JSON.parse(fs.readFileSync(path.join(h.app.get(CubeIndexManager).snapshotDir(cubeId), 'manifest.json'), 'utf8')) as { changeSeq: number; extras?: Record<string, unknown> };
    expect(Object.keys(manifest.extras ?? {}).sort()).toEqual(['documents.bin', 'entities.bin', 'lexical.bin']); // no rows: results read them from PostgreSQL
    await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The net mender lives above the bakery', tags: ['late'] }] });
    const fresh = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config }), { logger: false });
    try {
      const reads: number[] = [];
      const repo = fresh.get(MemoryRepository);
      const changesSince = repo.changesSince.bind(repo);
      jest.spyOn(repo, 'changesSince').mockImplementation((id, after, limit, embeddingsAfter) => {
        reads.push(after);
        return changesSince(id, after, limit, embeddingsAfter);
      });
      const found = await fresh.get(SearchService).search(owner.ctx, cubeId, { query: 'who lights the pier lamps', topK: 1 });
      expect(found.results[0]).toMatchObject({ id: expect.any(String), text: 'The lamplighter of the pier is named Ivo', observedAt: '2024-05-01T00:00:00.000Z' });
      expect(await search(fresh, 'net mender bakery', 1)).toEqual(['The net mender lives above the bakery']);
      expect(reads.length).toBeGreaterThan(0);
      expect(Math.min(...reads)).toBe(manifest.changeSeq); // no read from the start of the cube
    } finally {
      await fresh.close();
    }
  });

  it('serves a cube from what another instance saved, graph included, building and reading nothing it can load', async () => {
    // Past a few documents the index keeps an HNSW graph, so the snapshot holds one.
    const config = { ...h.config, indexGraphMinDocuments: 8 };
    const fleet = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const colours = ['red', 'blue', 'green', 'white'];
    await h.app.get(MemoryService).add(owner.ctx, fleet, { items: Array.from({ length: 40 }, (_, i) => ({ text: `Boat ${i} of the fleet is painted ${colours[i % 4]} and moored at berth ${i * 3}` })) });
    const first = await NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
    const other = await NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
    const ask = (app: INestApplicationContext) => app.get(SearchService).search(owner.ctx, fleet, { query: 'which boat is moored at berth 27', topK: 3 }).then((r) => r.results.map((m) => m.text));
    try {
      const answer = await ask(first); // rebuilt from PostgreSQL; graph built and snapshot written in the background
      expect(answer[0]).toBe('Boat 9 of the fleet is painted blue and moored at berth 27');
      await first.get(CubeIndexManager).settled(fleet);
      const manifestFile = path.join(first.get(CubeIndexManager).snapshotDir(fleet), 'manifest.json');
      const saved = fs.readFileSync(manifestFile, 'utf8');
      expect((JSON.parse(saved) as { sha256: string | null }).sha256).toEqual(expect.any(String)); // a graph was saved

      const loads: unknown[] = [];
      const load = CubeIndex.prototype.load;
      const loadSpy = jest.spyOn(CubeIndex.prototype, 'load').mockImplementation(async function (this: CubeIndex, ...args) {
        const result = await load.apply(this, args);
        loads.push(result);
        return result;
      });
      const feed = jest.spyOn(other.get(MemoryRepository), 'changesSince');
      try {
        expect(await ask(other)).toEqual(answer);
        // The whole index and its graph were loaded; the snapshot is current, so the change feed was not read.
        expect(loads).toEqual([expect.objectContaining({ status: 'loaded', documents: true, graph: true })]);
        expect(feed).not.toHaveBeenCalled();
        await other.get(CubeIndexManager).settled(fleet);
        expect(fs.readFileSync(manifestFile, 'utf8')).toBe(saved); // nor written again
      } finally {
        loadSpy.mockRestore();
        feed.mockRestore();
      }
    } finally {
      await first.close();
      await other.close();
    }
  });

  it('reads the change feed only when the cube changed since the index was brought up to date', async () => {
    const feed = jest.spyOn(h.app.get(MemoryRepository), 'changesSince');
    try {
      await search(h.app, 'lighthouse');
      feed.mockClear();
      await search(h.app, 'lighthouse');
      await search(h.app, 'ferry');
      expect(feed).not.toHaveBeenCalled();
      const { body } = await second.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The lighthouse lamp is green' }] });
      expect(await search(h.app, 'lighthouse lamp colour', 1)).toEqual(['The lighthouse lamp is green']);
      expect(feed).toHaveBeenCalledTimes(1);
      await second.get(MemoryService).update(owner.ctx, cubeId, body.items[0].id, { text: 'The lighthouse lamp is amber' });
      expect(await search(h.app, 'lighthouse lamp colour', 1)).toEqual(['The lighthouse lamp is amber']);
    } finally {
      feed.mockRestore();
    }
  });

  it('searches a known cube\'s index while its access check is read, and answers only what the check allows (ADR 0131)', async () => {
    const cube = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const service = h.app.get(SearchService);
    const texts = (r: { results: { text: string }[] }) => r.results.map((m) => m.text);
    await h.app.get(MemoryService).add(owner.ctx, cube, { items: [{ text: 'The kiln fires on Tuesdays' }] });
    await service.search(owner.ctx, cube, { query: 'kiln' }); // the tenant reads the cube: known from now on
    const indexSearch = jest.spyOn(CubeIndex.prototype, 'search');
    const check = jest.spyOn(h.app.get(AccessService), 'cubeWithChangeSeq');
    try {
      expect(texts(await service.search(owner.ctx, cube, { query: 'kiln', topK: 1 }))).toEqual(['The kiln fires on Tuesdays']);
      expect(indexSearch).toHaveBeenCalledTimes(1);
      expect(check).toHaveBeenCalledTimes(1);
      // Another instance wrote meanwhile: the early answer is behind, the index catches up and searches again.
      await second.get(MemoryService).add(owner.ctx, cube, { items: [{ text: 'The kiln cools overnight' }] });
      indexSearch.mockClear();
      const embed = jest.spyOn(h.app.get(EmbedderRegistry), 'embed');
      try {
        expect(texts(await service.search(owner.ctx, cube, { query: 'kiln cools overnight', topK: 1 }))).toEqual(['The kiln cools overnight']);
        expect(embed).toHaveBeenCalledTimes(1); // the query's vector is kept for the second search
      } finally {
        embed.mockRestore();
      }
      expect(indexSearch).toHaveBeenCalledTimes(2);
      // Another tenant's key: 404, and the index is not searched for it.
      const stranger = await h.factory.apiKey();
      indexSearch.mockClear();
      await expect(service.search(stranger.ctx, cube, { query: 'kiln' })).rejects.toMatchObject({ code: 'not_found' });
      expect(indexSearch).not.toHaveBeenCalled();
      // Deleted by another instance while its index is still in memory here: 404, even for a
      // filter the search refuses (the check comes first), and nothing of it is answered.
      await second.get(CubeService).delete(owner.ctx, cube);
      await expect(service.search(owner.ctx, cube, { query: 'kiln', filters: { kind: 42 } })).rejects.toMatchObject({ code: 'not_found' });
      await expect(service.search(owner.ctx, cube, { query: 'kiln' })).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      indexSearch.mockRestore();
      check.mockRestore();
    }
  });

  it('records the accesses of its last searches when it shuts down, before its database closes', async () => {
    const { body } = await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The quarry closes at dusk' }] });
    const id = body.items[0].id;
    const before = (await h.app.get(MemoryService).get(owner.ctx, cubeId, id)).accessCount;
    const leaving = await NestFactory.createApplicationContext(CoreModule.forRoot({ ...h.config }), { logger: false });
    expect(await search(leaving, 'when does the quarry close', 1)).toEqual(['The quarry closes at dusk']);
    await leaving.close(); // the recorder's one-second timer has not fired: shutdown must flush
    expect((await h.app.get(MemoryService).get(owner.ctx, cubeId, id)).accessCount).toBe(before + 1);
  });

  it('counts accesses without rewriting the memories: summed per memory, last access stamped, a vanished memory skipped, not the batch', async () => {
    const { body } = await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The kiln fires on Fridays' }, { text: 'The kiln cools overnight' }] });
    const [kept, gone] = body.items.map((m) => m.id);
    const db = h.app.get(DataSource);
    const version = async (id: string) => (await db.query(`SELECT xmin::text AS x FROM memories WHERE id = $1`, [id]))[0]?.x as string | undefined;
    const rowBefore = await version(kept);
    const repo = h.app.get(MemoryRepository);
    const before = (await repo.get(cubeId, kept))!.accessCount;
    await db.query(`DELETE FROM memories WHERE id = $1`, [gone]); // purged between a search and the flush
    const at = Date.now();
    await repo.recordAccess(new Map([[gone, 1], [kept, 2]]));
    await repo.recordAccess(new Map([[kept, 3]]));
    const after = (await repo.get(cubeId, kept))!;
    expect(after.accessCount).toBe(before + 5);
    expect(after.lastAccessedAt!.getTime()).toBeGreaterThanOrEqual(at - 1000);
    expect(await version(kept)).toBe(rowBefore); // the memory's own row was not written
    expect(await db.query(`SELECT 1 FROM memory_access WHERE memory_id = $1`, [gone])).toEqual([]);
  });

  it('reads result rows from PostgreSQL as they are now, leaving out one erased after the index was brought up to date', async () => {
    const { body } = await h.app.get(MemoryService).add(owner.ctx, cubeId, { items: [{ text: 'The signal box opens at six' }, { text: 'The signal box closes at ten' }] });
    const [kept, erased] = body.items.map((m) => m.id);
    const eraser = await h.factory.apiKey({ tenantId: owner.tenantId, scopes: [Scope.MemoriesRead, Scope.MemoriesErase] });
    await h.app.get(MemoryService).update(owner.ctx, cubeId, kept, { text: 'The signal box opens at seven' });
    await search(h.app, 'signal box'); // the index is current
    // The erase commits between the index's search and the read of the hits' rows.
    const rows = h.app.get(MemoryRepository);
    const getByLabels = rows.getByLabels.bind(rows);
    const spy = jest.spyOn(rows, 'getByLabels').mockImplementation(async (...args) => {
      await h.app.get(MemoryService).delete(eraser.ctx, cubeId, erased, { erase: true });
      return getByLabels(...args);
    });
    try {
      const found = await h.app.get(SearchService).search(owner.ctx, cubeId, { query: 'when does the signal box open or close', topK: 5 });
      expect(found.results.map((r) => r.id)).toContain(kept);
      expect(found.results.map((r) => r.id)).not.toContain(erased);
      expect(found.results.find((r) => r.id === kept)?.text).toBe('The signal box opens at seven');
    } finally {
      spy.mockRestore();
    }
  });

  it('counts the rows a rebuild indexes, leaving deleted ones out', async () => {
    const other = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const repo = h.app.get(MemoryRepository);
    expect(await repo.countIndexed(other)).toBe(0);
    const { body } = await h.app.get(MemoryService).add(owner.ctx, other, { items: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] });
    await h.app.get(MemoryService).delete(owner.ctx, other, body.items[1].id);
    expect(await repo.countIndexed(other)).toBe(2);
  });

  it('keeps cubes apart in a shared process', async () => {
    const otherCube = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    await h.app.get(MemoryService).add(owner.ctx, otherCube, { items: [{ text: 'Orla also keeps bees' }] });
    expect(await search(h.app, 'bees', 10)).not.toContain('Orla also keeps bees');
  });


});
