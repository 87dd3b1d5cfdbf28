import { mkdtempSync, rmSync, statSync, truncateSync, openSync, writeSync, closeSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParametricError, ParametricErrorCode } from '../parametric.error';
import { BankFile, journalPath, resolveInside, type NewBankHeader } from './bank-file';
import { computeLayout, SLOT_ALIGN } from './bank-layout';
import { floatToHalf, halfToFloat } from '@engram/inference';
import { concatBlocks } from './block.codec';
import { BlockStore } from './block-store';

const init: NewBankHeader = { modelFingerprint: 'model-a', embedderFingerprint: 'hash:32', dtype: 'f32', levels: 2, branching: 3, ranks: [2, 3], hidden: 4, layers: 2, config: {} };

function block(rank: number, seed: number) {
  const n = init.layers * rank * init.hidden;
  const f = (o: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 31 + o * 7 + i));
  return { rank, gate: f(1), up: f(2), down: f(3) };
}

function expectCode(fn: () => unknown, code: ParametricErrorCode): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ParametricError);
    expect((err as ParametricError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('BankFile', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bank-'));
    path = join(dir, 'bank.bin');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lays out aligned fixed-size slots, k^l per level', () => {
    const layout = computeLayout(init);
    expect(layout.levels.map((l) => l.nodes)).toEqual([3, 9]);
    for (const l of layout.levels) {
      expect(l.offset % SLOT_ALIGN).toBe(0);
      expect(l.slotBytes % SLOT_ALIGN).toBe(0);
    }
    const bank = BankFile.create(path, init);
    expect(statSync(path).size).toBe(layout.totalBytes);
    bank.close();
  });

  it('reads never-written blocks as zeros and written blocks back exactly, across reopen', () => {
    const bank = BankFile.create(path, init);
    expect(bank.readBlock(2, 4).block.down.every((v) => v === 0)).toBe(true);
    const b = block(3, 1);
    const gen = bank.commit([{ level: 2, node: 4, block: b }]);
    expect(gen).toBe(2);
    bank.close();
    const again = BankFile.open(path, { modelFingerprint: 'model-a', embedderFingerprint: 'hash:32' });
    expect(again.generation).toBe(2);
    const r = again.readBlock(2, 4);
    expect(r.block.gate).toEqual(b.gate);
    expect(r.block.down).toEqual(b.down);
    expect(r.generation).toBe(2);
    again.close();
  });

  it('stores f16 banks to half precision', () => {
    const bank = BankFile.create(path, { ...init, dtype: 'f16' });
    const b = block(2, 5);
    bank.commit([{ level: 1, node: 0, block: b }]);
    const r = bank.readBlock(1, 0).block;
    for (let i = 0; i < b.up.length; i++) expect(r.up[i]).toBeCloseTo(b.up[i], 2);
    expect(halfToFloat(floatToHalf(1.5))).toBe(1.5);
    expect(halfToFloat(floatToHalf(-0.000123))).toBeCloseTo(-0.000123, 6);
    bank.close();
  });

  it('refuses a bank built for another model or embedder', () => {
    BankFile.create(path, init).close();
    expectCode(() => BankFile.open(path, { modelFingerprint: 'model-b' }), ParametricErrorCode.ModelMismatch);
    expectCode(() => BankFile.open(path, { embedderFingerprint: 'openai:1536' }), ParametricErrorCode.EmbedderMismatch);
  });

  it('detects a truncated file, a damaged header and a block whose checksum fails', () => {
    const bank = BankFile.create(path, init);
    bank.commit([{ level: 2, node: 1, block: block(3, 2) }]);
    const offset = bank.slotOffset(2, 1);
    bank.close();
    // Flip one payload byte of the written block.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0x7f]), 0, 1, offset + 5);
    closeSync(fd);
    const opened = BankFile.open(path);
    expectCode(() => opened.readBlock(2, 1), ParametricErrorCode.ChecksumMismatch);
    expect(opened.readBlock(2, 0).flags).toBe(0);
    opened.close();
    truncateSync(path, statSync(path).size - 100);
    expectCode(() => BankFile.open(path), ParametricErrorCode.BankTruncated);
    writeFileSync(path, Buffer.concat([Buffer.from('NOTABANK'), readFileSync(path).subarray(8)]));
    expectCode(() => BankFile.open(path), ParametricErrorCode.BankCorrupt);
    expectCode(() => BankFile.open(join(dir, 'missing.bin')), ParametricErrorCode.BankNotFound);
  });

  it('refuses addresses outside the tree and paths outside the root', () => {
    const bank = BankFile.create(path, init);
    expectCode(() => bank.readBlock(3, 0), ParametricErrorCode.PathOutsideTree);
    expectCode(() => bank.readBlock(2, 9), ParametricErrorCode.PathOutsideTree);
    bank.close();
    expect(resolveInside(dir, 'banks/a')).toBe(join(dir, 'banks/a'));
    expectCode(() => resolveInside(dir, '../elsewhere'), ParametricErrorCode.PathOutsideRoot);
    expectCode(() => resolveInside(dir, '/etc/passwd'), ParametricErrorCode.PathOutsideRoot);
  });

  it('keeps the previous generation when the journal was torn', () => {
    const bank = BankFile.create(path, init);
    const old = block(3, 3);
    bank.commit([{ level: 2, node: 2, block: old }]);
    expect(() => bank.commit([{ level: 2, node: 2, block: block(3, 4) }], { afterJournal: true })).toThrow(ParametricError);
    // A crash while the journal was being written: cut it short.
    truncateSync(journalPath(path), statSync(journalPath(path)).size - 10);
    const reopened = BankFile.open(path);
    expect(existsSync(journalPath(path))).toBe(false);
    expect(reopened.generation).toBe(2);
    expect(reopened.readBlock(2, 2).block.gate).toEqual(old.gate);
    reopened.close();
  });

  it('completes a generation whose in-place write was interrupted', () => {
    const bank = BankFile.create(path, init);
    const a = block(3, 5);
    const b = block(2, 6);
    expect(() => bank.commit([{ level: 2, node: 0, block: a }, { level: 1, node: 1, block: b }], { afterSlots: 1 })).toThrow(/simulated crash/);
    const reopened = BankFile.open(path);
    expect(reopened.generation).toBe(2);
    expect(reopened.readBlock(2, 0).block.up).toEqual(a.up);
    expect(reopened.readBlock(1, 1).block.up).toEqual(b.up);
    reopened.close();
  });

  it('refuses to overwrite a locked block unless forced', () => {
    const bank = BankFile.create(path, init);
    bank.commit([{ level: 1, node: 2, block: block(2, 7), locked: true }]);
    expectCode(() => bank.commit([{ level: 1, node: 2, block: block(2, 8) }]), ParametricErrorCode.BlockLocked);
    bank.commit([{ level: 1, node: 2, block: block(2, 9), force: true }]);
    expect(bank.readBlock(1, 2).flags & 2).toBe(2);
    bank.close();
  });
});

describe('BlockStore', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('serves level 1 from RAM and deep levels through an LRU, counting hits and misses', () => {
    const bank = BankFile.create(join(dir, 'b.bin'), init);
    const b1 = block(2, 1);
    const b2 = block(3, 2);
    bank.commit([{ level: 1, node: 1, block: b1 }, { level: 2, node: 4, block: b2 }]);
    const store = new BlockStore(bank, { ramLevels: 1, cacheBytes: 2 * 3 * 4 * 2 * 4 * 3, pathCache: 0 });
    const m = store.fetch([1, 4]);
    expect(m.map((b) => b.rank)).toEqual([2, 3]);
    expect(m).toEqual([b1, b2]);
    store.fetch([1, 4]);
    expect(store.metrics.disk.misses).toBe(1);
    expect(store.metrics.disk.hits).toBe(1);
    expect(store.metrics.ram.hits).toBe(2);
    store.fetch([1, 3]);
    store.fetch([1, 5]); // budget holds two deep blocks: 4 is evicted
    store.fetch([1, 4]);
    expect(store.metrics.disk.misses).toBe(4);
    expect(store.metrics.disk.evictions).toBeGreaterThan(0);
    expect(() => store.fetch([0, 4])).toThrow(/not a child/);
    bank.close();
  });

  it('serves a repeated path from the path cache until a write invalidates it', () => {
    const bank = BankFile.create(join(dir, 'p.bin'), init);
    bank.commit([{ level: 2, node: 4, block: block(3, 2) }]);
    const store = new BlockStore(bank, { pathCache: 2 });
    const first = store.fetch([1, 4]);
    expect(store.fetch([1, 4])).toBe(first);
    expect(store.metrics.path.hits).toBe(1);
    const next = block(3, 9);
    bank.commit([{ level: 2, node: 4, block: next }]);
    store.invalidate([{ level: 2, node: 4 }]);
    const again = store.fetch([1, 4]);
    expect(again).not.toBe(first);
    expect(again[1]).toEqual(next);
    bank.close();
  });

  it('hands out the cached blocks themselves, without copying them per fetch', () => {
    const bank = BankFile.create(join(dir, 'v.bin'), init);
    bank.commit([{ level: 1, node: 1, block: block(2, 1) }, { level: 2, node: 4, block: block(3, 2) }]);
    const store = new BlockStore(bank, { ramLevels: 1, pathCache: 0 });
    const [ram, deep] = store.fetch([1, 4]);
    const again = store.fetch([1, 4]);
    expect(again).not.toBe(store.fetch([1, 4])); // no path cache: a new array…
    expect(again[0]).toBe(ram); // …of the same RAM-tier block
    expect(again[1]).toBe(deep); // and the same LRU entry
    const unwritten = store.fetch([0, 1])[0];
    expect(store.fetch([2, 6])[0]).toBe(unwritten); // unwritten RAM-tier blocks: one shared zero block
    expect(unwritten.rank).toBe(2);
    expect(unwritten.down.every((v) => v === 0)).toBe(true);
    bank.close();
  });

  it('concatenates along R so that down columns line up with their gate rows', () => {
    const a = { rank: 1, gate: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), up: new Float32Array(8), down: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    const b = { rank: 1, gate: Float32Array.from([9, 9, 9, 9, 8, 8, 8, 8]), up: new Float32Array(8), down: Float32Array.from([-1, -2, -3, -4, -5, -6, -7, -8]) };
    const c = concatBlocks([a, b], 4, 2);
    // layer 0: gate rows [a0; b0], layer 1: [a1; b1]
    expect(Array.from(c.gate)).toEqual([1, 2, 3, 4, 9, 9, 9, 9, 5, 6, 7, 8, 8, 8, 8, 8]);
    // down [L, d, R]: row i of layer l = [a(l,i), b(l,i)]
    expect(Array.from(c.down.subarray(0, 8))).toEqual([1, -1, 2, -2, 3, -3, 4, -4]);
  });
});
