import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Scope } from '@engram/core';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import { byteProgress, exportCube, importArchiveFile, importFrom } from '../apps/cli/src/commands/cube-archive.command';

const FIXTURES = join(process.cwd(), 'test/fixtures/importers');

describe('engram cube export|import and engram import --from (against a running engram)', () => {
  let h: E2eHarness;
  let url: string;
  let key: string;
  let dir: string;
  const as = () => ({ Authorization: `Bearer ${key}` });
  const texts = async (cubeId: string) => {
    const res = await h.http.get(`/v1/cubes/${cubeId}/memories?limit=500`).set(as()).expect(200);
    return res.body.items.map((m: { text: string }) => m.text) as string[];
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    const server = h.app.getHttpServer() as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    key = (await h.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport] })).key;
    dir = mkdtempSync(join(tmpdir(), 'engram-cli-'));
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves in from mem0: memories searchable, history as versions, the report says what was left out', async () => {
    const { report, result } = await importFrom({ system: 'mem0', file: join(FIXTURES, 'mem0-get-all.json'), cube: 'from-mem0', url, key });
    expect(report).toMatchObject({ read: 7, written: 4, duplicates: 2 });
    const body = result as { cube: { id: string; name: string }; counts: { memories: number; versions: number } };
    expect(body.cube.name).toBe('from-mem0');
    expect(body.counts).toMatchObject({ memories: 4, versions: 5 });
    const hits = await h.http.post(`/v1/cubes/${body.cube.id}/search`).set(as()).send({ query: 'aisle seat on a flight', topK: 1 }).expect(200);
    expect(hits.body.results[0]).toMatchObject({ text: 'Prefers aisle seats on long flights', tags: ['user:ana', 'agent:travel-bot'] });
    const history = await h.http.get(`/v1/cubes/${body.cube.id}/memories/${hits.body.results[0].id}/history`).set(as()).expect(200);
    const versions = Array.isArray(history.body) ? history.body : history.body.items;
    expect(versions.map((v: { action: string }) => v.action)).toEqual(['create', 'update']);
    const memory = await h.http.get(`/v1/cubes/${body.cube.id}/memories/${hits.body.results[0].id}`).set(as()).expect(200);
    expect(memory.body).toMatchObject({ version: 2, createdAt: '2026-03-01T09:15:02.118Z', observedAt: '2026-03-01T09:15:02.118Z' });
  });

  it('moves in from a Letta agent file, a MemOS dump folder and LongMemEval conversations', async () => {
    const letta = (await importFrom({ system: 'letta', file: join(FIXTURES, 'letta-agent.af'), cube: 'from-letta', url, key })).result as { cube: { id: string } };
    expect(await texts(letta.cube.id)).toContain('Welcome to Porto! Olá 👋');
    const memos = (await importFrom({ system: 'memos', file: join(FIXTURES, 'memos-tree'), cube: 'from-memos', url, key })).result as { cube: { id: string }; counts: { memories: number } };
    expect(memos.counts.memories).toBe(3);
    // MemOS keeps archived nodes: they arrive archived, out of the active list.
    expect(await texts(memos.cube.id)).toEqual(['The user is training for a half marathon in October 2026.', '用户喜欢在早上喝咖啡。']);
    const lme = (await importFrom({ system: 'conversations', file: join(FIXTURES, 'longmemeval-sample.json'), cube: 'from-lme', url, key })).result as { cube: { id: string }; counts: { memories: number } };
    expect(lme.counts.memories).toBe(8);
    const list = await h.http.get(`/v1/cubes/${lme.cube.id}/memories?limit=50`).set(as()).expect(200);
    const lisbon = list.body.items.find((m: { text: string }) => m.text === 'My sister just moved to Lisbon.');
    expect(lisbon).toMatchObject({ kind: 'message', role: 'user', observedAt: '2023-05-28T20:17:00.000Z', source: { sessionId: 'answer_9f3c_2' } });
  });

  it('exports a cube by name to a file with a progress bar, and imports the file as a new cube', async () => {
    const out = join(dir, 'mem0.engram.tar.gz');
    const drawn = new PassThrough();
    let progress = '';
    drawn.on('data', (c: Buffer) => (progress += c.toString('utf8')));
    const bar = byteProgress('export', drawn);
    const exported = await exportCube({ url, key, cube: 'from-mem0', out, include: 'vectors', progress: bar });
    bar.end();
    expect(exported.bytes).toBe(statSync(out).size);
    expect(progress).toMatch(/export \d+\.\d KiB/);
    const imported = (await importArchiveFile({ url, key, file: out, name: 'from-mem0-copy' })) as { cube: { id: string }; counts: { vectorsReused: number; memories: number } };
    expect(imported.counts).toMatchObject({ memories: 4, vectorsReused: 4 });
    const originalId = (await h.http.get('/v1/cubes?name=from-mem0').set(as()).expect(200)).body.items[0].id;
    expect((await texts(imported.cube.id)).sort()).toEqual((await texts(originalId)).sort());
  });

  it('streams a large mem0 export (20,000 memories, duplicates included) in and keeps every distinct one', async () => {
    const file = join(dir, 'large-mem0.json');
    const items: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      items.push(JSON.stringify({ id, memory: `memory ${i}: ${['likes', 'visited', 'works with', 'owns'][i % 4]} item ${i * 7919 % 10007} — é`, hash: `h${i}`, metadata: null, created_at: i % 3 ? new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() : undefined, user_id: `u${i % 10}` }));
      if (i % 100 === 0) items.push(JSON.stringify({ id, memory: 'a repeated id', user_id: 'x' }));
    }
    writeFileSync(file, `{"results": [${items.join(',\n')}]}`);
    const { report, result } = await importFrom({ system: 'mem0', file, cube: 'large', url, key });
    expect(report).toMatchObject({ read: 20_200, written: 20_000, duplicates: 200 });
    expect((result as { counts: { memories: number } }).counts.memories).toBe(20_000);
  });

  it('imports a text longer than a memory may be as parts that keep every character (the whole import was refused)', async () => {
    const file = join(dir, 'big-block.af');
    const paragraph = (i: number) => `Paragraph ${i}: ${'the user keeps notes about trips, meals and friends. '.repeat(20)}`;
    const value = Array.from({ length: 80 }, (_, i) => paragraph(i)).join('\n\n'); // ~85,000 characters
    writeFileSync(file, JSON.stringify({ agents: [{ id: 'agent-0', name: 'notes', block_ids: ['block-0'], messages: [] }], blocks: [{ id: 'block-0', label: 'human', value, limit: 100000 }, { id: 'block-1', label: 'persona', value: 'I am brief.' }] }));
    const { report, result } = await importFrom({ system: 'letta', file, cube: 'big-block', url, key });
    expect(report).toMatchObject({ read: 2, split: 1 });
    const cubeId = (result as { cube: { id: string } }).cube.id;
    const items = (await h.http.get(`/v1/cubes/${cubeId}/memories?limit=500`).set(as()).expect(200)).body.items as { text: string; metadata: { part?: { index: number; of: number; id: string } } }[];
    const parts = items.filter((m) => m.metadata.part).sort((a, b) => a.metadata.part!.index - b.metadata.part!.index);
    expect(parts.length).toBe(report.written - 1);
    expect(parts.every((m) => m.text.length <= 32_000 && m.metadata.part!.of === parts.length && m.metadata.part!.id === 'block:block-0')).toBe(true);
    expect(parts.map((m) => m.text).join('')).toBe(value);
    expect(items.map((m) => m.text)).toContain('I am brief.');
  });

  it('writes the converted archive without a server (--archive)', async () => {
    const out = join(dir, 'letta.engram.tar.gz');
    const { result } = await importFrom({ system: 'letta', file: join(FIXTURES, 'letta-legacy.af'), cube: 'legacy', archiveOut: out });
    expect(result).toEqual({ archive: out });
    const imported = (await importArchiveFile({ url, key, file: out })) as { cube: { name: string }; counts: { memories: number } };
    expect(imported).toMatchObject({ cube: { name: 'legacy' }, counts: { memories: 3 } });
  });

  it('creates no cube from a file of another system, and names the right --from', async () => {
    await expect(importFrom({ system: 'conversations', file: join(FIXTURES, 'mem0-get-all.json'), cube: 'wrong-format', url, key })).rejects.toThrow(
      /is not a conversations export .*\nit reads as a mem0 or memos export: run again with --from mem0\. No cube was created\./s,
    );
    await expect(importFrom({ system: 'letta', file: join(FIXTURES, 'longmemeval-sample.json'), cube: 'wrong-format', url, key })).rejects.toThrow(/--from conversations/);
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '[]');
    await expect(importFrom({ system: 'mem0', file: empty, cube: 'wrong-format', url, key })).rejects.toThrow(/^nothing in .*empty\.json converts as a mem0 export/);
    const found = await h.http.get('/v1/cubes?name=wrong-format').set(as()).expect(200);
    expect(found.body.items).toEqual([]);
  });

  it('names the problem when the server refuses', async () => {
    await expect(importArchiveFile({ url, key, file: join(FIXTURES, 'mem0-get-all.json') })).rejects.toThrow(/HTTP 400 validation_failed: .*gzip/);
    await expect(exportCube({ url, key, cube: 'no-such-cube', out: join(dir, 'x.tar.gz') })).rejects.toThrow('no cube named "no-such-cube"');
    // A folder that is not there is named, with what to do (it was ENOENT on the hidden ….partial file).
    const missing = join(dir, 'no', 'such', 'folder');
    await expect(exportCube({ url, key, cube: 'from-mem0', out: join(missing, 'x.tar.gz') })).rejects.toThrow(`cannot write ${join(missing, 'x.tar.gz')}: the folder ${missing} does not exist; create it or give another -o`);
  });
});
