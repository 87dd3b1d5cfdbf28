import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'engram-atomic-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes text, bytes and parts, replacing what was there, leaving no temporary file', () => {
    const path = join(dir, 'f.bin');
    writeFileSync(path, 'old contents');
    writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    writeFileAtomic(path, [Uint8Array.from([4]), Uint8Array.from([5, 6])]);
    expect([...readFileSync(path)]).toEqual([4, 5, 6]);
    expect(readdirSync(dir)).toEqual(['f.bin']);
  });

  it('leaves the previous file intact when the write cannot happen', () => {
    const path = join(dir, 'missing-dir', 'f.bin');
    expect(() => writeFileAtomic(path, 'x')).toThrow();
    const kept = join(dir, 'kept.txt');
    writeFileSync(kept, 'intact');
    expect(() => writeFileAtomic(kept, [Uint8Array.from([1]), null as unknown as Uint8Array])).toThrow();
    expect(readFileSync(kept, 'utf8')).toBe('intact');
    expect(readdirSync(dir)).toEqual(['kept.txt']);
  });
});
