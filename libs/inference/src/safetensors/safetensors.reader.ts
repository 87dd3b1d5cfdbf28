// safetensors: an 8-byte little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }, then the data.
// The header is validated against the file before any tensor is trusted: every tensor
// must lie inside the data section, its byte size must match dtype × shape, tensors may
// not overlap, and the data section must be covered without holes.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { bf16ToFloat, halfToFloat } from './float16';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'I8' | 'F64' | 'BOOL' | 'I16' | 'U16';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, U16: 2, U8: 1, I8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {
  constructor(file: string, message: string) {
    super(`invalid safetensors file ${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const { tensors, metadata } = readHeader(path, fd);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.path, `missing tensor "${name}"`);
    return t;
  }

  raw(name: string): Uint8Array {
    const t = this.info(name);
    const buf = Buffer.alloc(t.end - t.begin);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(this.fd, buf, read, buf.length - read, t.begin + read);
      if (n === 0) throw new SafetensorsError(this.path, `unexpected end of file in "${name}"`);
      read += n;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }

  /** Reads a floating tensor (F32, F16, BF16, F64) as float32. */
  float32(name: string): Float32Array {
    const t = this.info(name);
    const bytes = this.raw(name);
    const n = numel(t.shape);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(n);
    switch (t.dtype) {
      case 'F32':
        for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
        break;
      case 'F16':
        for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
        break;
      case 'BF16':
        for (let i = 0; i < n; i++) out[i] = bf16ToFloat(dv.getUint16(i * 2, true));
        break;
      case 'F64':
        for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
        break;
      default:
        throw new SafetensorsError(this.path, `tensor "${name}" has dtype ${t.dtype}, expected a float type`);
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function readHeader(path: string, fd: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fileSize = fstatSync(fd).size;
  const fail = (msg: string): never => {
    throw new SafetensorsError(path, msg);
  };
  if (fileSize < 8) fail(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds ${MAX_HEADER_BYTES}`);
  if (8 + headerLen > fileSize) fail(`header length ${headerLen} runs past the end of the file (${fileSize} bytes)`);
  const headerBuf = Buffer.alloc(headerLen);
  readSync(fd, headerBuf, 0, headerLen, 8);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v?.dtype !== 'string' || !(v.dtype in DTYPE_BYTES)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(v?.dtype)}`);
    const dtype = v.dtype as SafetensorsDtype;
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor "${name}" has an invalid shape`);
    const offsets = v.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor "${name}" has invalid data_offsets`);
    }
    const shape = v.shape as number[];
    const [b, e] = offsets as [number, number];
    if (e < b) fail(`tensor "${name}" ends (${e}) before it begins (${b})`);
    if (e > dataSize) fail(`tensor "${name}" ends at byte ${e} but the data section is ${dataSize} bytes`);
    const expected = numel(shape) * DTYPE_BYTES[dtype];
    if (e - b !== expected) fail(`tensor "${name}" spans ${e - b} bytes but ${dtype}${JSON.stringify(shape)} needs ${expected}`);
    tensors.set(name, { name, dtype, shape, begin: dataStart + b, end: dataStart + e });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  for (const t of sorted) {
    if (t.begin < cursor) fail(`tensor "${t.name}" overlaps the previous tensor`);
    if (t.begin > cursor) fail(`hole of ${t.begin - cursor} bytes before tensor "${t.name}"`);
    cursor = t.end;
  }
  if (cursor !== fileSize) fail(`${fileSize - cursor} trailing bytes after the last tensor`);
  return { tensors, metadata };
}
