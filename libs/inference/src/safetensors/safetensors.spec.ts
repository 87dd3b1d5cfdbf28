import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './float16';
import { SafetensorsFile } from './safetensors.reader';
import { serializeSafetensors, writeSafetensors } from './safetensors.writer';

const dir = mkdtempSync(join(tmpdir(), 'engram-st-'));

function fileWithHeader(name: string, header: object, dataBytes: number): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return path;
}

describe('safetensors', () => {
  it('round-trips f32, f16 and bf16 tensors', () => {
    const data = Float32Array.of(0, 1, -2.5, 0.333, 65504, 1e-5);
    const path = join(dir, 'rt.safetensors');
    writeSafetensors(path, {
      a: { shape: [2, 3], data },
      b: { shape: [6], data, dtype: 'F16' },
      c: { shape: [3, 2], data, dtype: 'BF16' },
    }, { format: 'pt' });
    const f = SafetensorsFile.open(path);
    expect(f.names().sort()).toEqual(['a', 'b', 'c']);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(Array.from(f.float32('a'))).toEqual(Array.from(data));
    expect(f.info('c').shape).toEqual([3, 2]);
    const half = f.float32('b');
    const bf = f.float32('c');
    data.forEach((v, i) => {
      expect(half[i]).toBeCloseTo(v, Math.abs(v) > 100 ? 0 : 3);
      expect(Math.abs(bf[i] - v)).toBeLessThanOrEqual(Math.abs(v) / 128 + 1e-30);
    });
    f.close();
  });

  it('converts half and bfloat16 exactly at known points', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(bf16ToFloat(0x3f80)).toBe(1);
    expect(floatToBf16(-2)).toBe(0xc000);
  });

  it('aligns the data section to 8 bytes', () => {
    const bytes = serializeSafetensors({ x: { shape: [1], data: Float32Array.of(1) } });
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
  });

  it.each([
    ['a size that does not match the shape', { t: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }, 8, /needs 16/],
    ['a tensor past the end of the file', { t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8, /data section is 8 bytes/],
    ['overlapping tensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12, /overlaps/],
    ['trailing bytes', { t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8, /trailing/],
    ['a hole', { t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8, /hole/],
    ['an unknown dtype', { t: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4, /unknown dtype/],
  ])('rejects a header with %s', (_label, header, dataBytes, message) => {
    const path = fileWithHeader(`bad-${Math.random()}.safetensors`, header, dataBytes);
    expect(() => SafetensorsFile.open(path)).toThrow(message);
  });

  it('rejects a header length past the end of the file', () => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(1000n);
    const path = join(dir, 'short.safetensors');
    writeFileSync(path, Buffer.concat([len, Buffer.from('{}')]));
    expect(() => SafetensorsFile.open(path)).toThrow(/runs past the end/);
  });

  it('names the missing tensor', () => {
    const path = join(dir, 'one.safetensors');
    writeSafetensors(path, { a: { shape: [1], data: Float32Array.of(1) } });
    const f = SafetensorsFile.open(path);
    expect(() => f.float32('b')).toThrow(/missing tensor "b"/);
    f.close();
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
