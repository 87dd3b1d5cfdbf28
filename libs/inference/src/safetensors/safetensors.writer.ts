import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { floatToBf16, floatToHalf } from './float16';
import { numel } from './safetensors.reader';

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
  /** Stored dtype; the data is always given as float32. Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
}

function encode(t: TensorToWrite): Uint8Array {
  const n = t.data.length;
  const dtype = t.dtype ?? 'F32';
  if (dtype === 'F32') return new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  const out = new Uint8Array(n * 2);
  const dv = new DataView(out.buffer);
  const conv = dtype === 'F16' ? floatToHalf : floatToBf16;
  for (let i = 0; i < n; i++) dv.setUint16(i * 2, conv(t.data[i]), true);
  return out;
}

/** Serialises tensors (sorted by name, as the Python writer does) to safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (numel(t.shape) !== t.data.length) throw new Error(`tensor "${name}": shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`);
    const body = encode(t);
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + body.length] };
    bodies.push(body);
    offset += body.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align data to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([len, headerBytes, ...bodies]);
}

/** Writes atomically: temp file, fsync, rename. */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
