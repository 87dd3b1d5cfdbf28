import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngramConfig } from '@engram/config';
import type { TextEmbedder } from '@engram/parametric';
import { HashEmbedder } from '@engram/plaintext';
import type { BankRecord } from '@engram/persistence';
import { BankStore } from './bank.store';

const CUBE = '11111111-1111-4111-8111-111111111111';
const texts = ['alice lives in lisbon', 'bob likes green tea', 'carol plays chess', 'dave sails to oslo'].map((text, i) => ({ id: `m${i}`, text }));
const hash = new HashEmbedder({ dimension: 32 });

/** The hash embedder, whose answers wait until `release()`: an embedder that takes its time (use-lite, a remote endpoint). */
function slowEmbedder(): TextEmbedder & { release(): void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { fingerprint: hash.fingerprint, embed: async (t) => (await gate, hash.embed(t)), release: () => open() };
}

describe('BankStore', () => {
  let dataDir: string;
  let store: BankStore;
  const banks: BankRecord[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'bank-store-'));
    store = new BankStore({ dataDir } as EngramConfig);
    // One more bank than the store keeps open.
    for (let i = 0; i < 9; i++) {
      const id = `00000000-0000-4000-8000-00000000000${i}`;
      const bank = { id, cubeId: CUBE, directory: store.directoryOf(CUBE, id), modelFingerprint: 'tiny', embedderFingerprint: hash.fingerprint, levels: 2, branching: 2, ranks: [2, 2], generation: 0 } as unknown as BankRecord;
      const generation = await store.build(bank, { hidden: 8, layers: 1 }, hash, texts, () => undefined);
      banks.push({ ...bank, generation });
    }
  });
  afterAll(() => {
    store.onModuleDestroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('does not close a bank that a chat is routing through when other banks push it out, or it is deleted', async () => {
    const embedder = slowEmbedder();
    const routing = store.routeAndFetchOrAbstain(banks[0], embedder, 'where does alice live', -Infinity);
    // While the embedding is under way, eight other banks are opened (the LRU keeps eight).
    for (const bank of banks.slice(1)) store.pathOf(bank, 'm0');
    embedder.release();
    const routed = await routing;
    expect(routed.path).toHaveLength(2);
    expect('memory' in routed && routed.memory.map((b) => b.rank)).toEqual([2, 2]);

    const again = slowEmbedder();
    const second = store.routeAndFetchOrAbstain(banks[1], again, 'bob', -Infinity);
    store.remove(banks[1]); // DELETE …/banks/<id> while the chat waits for its embedding
    again.release();
    await expect(second).resolves.toMatchObject({ path: expect.any(Array), memory: expect.any(Array) });
    // The bank used meanwhile was closed after all: reopening the deleted one fails.
    expect(() => store.pathOf(banks[1], 'm0')).toThrow();
  });
});
