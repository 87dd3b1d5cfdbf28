import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KvState } from '@engram/inference';
import { ActivationErrorCode } from '../activation.error';
import { decodeKvBlob, encodeKvBlob } from '../kv-blob.codec';
import { DiskTier } from './disk.tier';
import { RamTier } from './ram.tier';

const kv = (seq: number, fill = 1): KvState => ({
  numLayers: 2, kvHeads: 1, headDim: 2, seq,
  layers: [0, 1].map((l) => ({ key: new Float32Array(seq * 2).fill(fill + l), value: new Float32Array(seq * 2).fill(-fill - l) })),
});
const key = (n: number): string => n.toString(16).padStart(64, '0');

describe('kv blob codec', () => {
  it('round-trips and detects corruption', () => {
    const bytes = encodeKvBlob('fp', kv(3, 5));
    const { header, kv: back } = decodeKvBlob(bytes);
    expect(header).toMatchObject({ fingerprint: 'fp', seq: 3, numLayers: 2 });
    expect(Array.from(back.layers[1].value)).toEqual(Array.from(kv(3, 5).layers[1].value));
    bytes[bytes.length - 40] ^= 1;
    expect(() => decodeKvBlob(bytes)).toThrow(expect.objectContaining({ code: ActivationErrorCode.CorruptBlob }));
  });
});

describe('RamTier', () => {
  it('evicts least recently used chunks over the byte budget, never pinned ones', () => {
    const evicted: string[] = [];
    const one = 2 * 2 * 4 * 2 * 4; // 2 layers × (key, value) × 4 tokens × head dim 2 × 4 bytes
    const ram = new RamTier(one * 2, (k) => evicted.push(k));
    ram.put('a', kv(4));
    ram.put('b', kv(4));
    ram.pin('a');
    ram.get('a');
    ram.put('c', kv(4));
    expect(evicted).toEqual(['b']);
    ram.put('d', kv(4));
    expect(evicted).toEqual(['b', 'c']);
    expect(ram.has('a')).toBe(true);
    expect(ram.metrics()).toMatchObject({ items: 2, bytes: one * 2, evictions: 2, hits: 1 });
    expect(ram.get('b')).toBeUndefined();
    expect(ram.metrics().misses).toBe(1);
  });
});

describe('DiskTier', () => {
  it('writes atomically and reloads its index on restart, cleaning interrupted writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-disk-'));
    const disk = new DiskTier(dir);
    await disk.put(key(1), Uint8Array.of(1, 2, 3));
    await disk.put(key(2), Uint8Array.of(4));
    const shard = join(dir, '00');
    writeFileSync(join(shard, `${key(3)}.ekv.tmp-1-x`), 'partial');
    expect(readdirSync(shard).filter((f) => f.includes('.tmp-'))).toHaveLength(1);
    const reopened = new DiskTier(dir);
    expect(reopened.metrics()).toMatchObject({ items: 2, bytes: 4 });
    expect(Array.from((await reopened.get(key(1)))!)).toEqual([1, 2, 3]);
    expect(readdirSync(shard).some((f) => f.includes('.tmp-'))).toBe(false);
    await reopened.delete(key(1));
    expect(existsSync(join(shard, `${key(1)}.ekv`))).toBe(false);
    expect(await reopened.get(key(1))).toBeUndefined();
  });

  it('keeps under its byte budget by dropping the oldest unpinned blobs', async () => {
    const disk = new DiskTier(mkdtempSync(join(tmpdir(), 'engram-disk-')), 5, (k) => k === key(1));
    await disk.put(key(1), new Uint8Array(2));
    await disk.put(key(2), new Uint8Array(2));
    await disk.put(key(3), new Uint8Array(2));
    expect(disk.has(key(1))).toBe(true);
    expect(disk.has(key(2))).toBe(false);
    expect(disk.has(key(3))).toBe(true);
  });

  it('finds a blob another process sharing the directory wrote after it opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-disk-'));
    const reader = new DiskTier(dir);
    const writer = new DiskTier(dir);
    await writer.put(key(7), Uint8Array.of(7, 7));
    expect(reader.has(key(7))).toBe(true);
    expect(Array.from((await reader.get(key(7)))!)).toEqual([7, 7]);
    expect(reader.metrics()).toMatchObject({ items: 1, bytes: 2, hits: 1, misses: 0 });
    expect(reader.has(key(8))).toBe(false);
    expect(await reader.get(key(8))).toBeUndefined();
    await writer.delete(key(7));
    expect(await reader.get(key(7))).toBeUndefined();
  });

  it('refuses keys that are not hashes', async () => {
    await expect(new DiskTier(mkdtempSync(join(tmpdir(), 'engram-disk-'))).put('../../etc', Uint8Array.of(1))).rejects.toThrow(/invalid key/);
  });
});
