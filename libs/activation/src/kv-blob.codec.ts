// On-disk/object-store form of one KV chunk: "EKV1", u32 header length, JSON header
// (fingerprint, shape), float32 data (per layer key then value), sha256 of all before.
import { createHash } from 'node:crypto';
import type { KvState } from '@engram/inference';
import { ActivationError, ActivationErrorCode } from './activation.error';

const MAGIC = 'EKV1';

export interface KvBlobHeader {
  fingerprint: string;
  numLayers: number;
  kvHeads: number;
  headDim: number;
  seq: number;
}

export function encodeKvBlob(fingerprint: string, kv: KvState): Buffer {
  const header: KvBlobHeader = { fingerprint, numLayers: kv.numLayers, kvHeads: kv.kvHeads, headDim: kv.headDim, seq: kv.seq };
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - ((8 + Buffer.byteLength(json)) % 4)) % 4);
  const head = Buffer.alloc(8);
  head.write(MAGIC, 0, 'ascii');
  head.writeUInt32LE(Buffer.byteLength(json), 4);
  const parts: Buffer[] = [head, Buffer.from(json)];
  for (const l of kv.layers) {
    parts.push(Buffer.from(l.key.buffer, l.key.byteOffset, l.key.byteLength));
    parts.push(Buffer.from(l.value.buffer, l.value.byteOffset, l.value.byteLength));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

export function decodeKvBlob(bytes: Uint8Array, where = 'kv blob'): { header: KvBlobHeader; kv: KvState } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (msg: string): never => {
    throw new ActivationError(ActivationErrorCode.CorruptBlob, `${where}: ${msg}`);
  };
  if (buf.length < 40 || buf.toString('ascii', 0, 4) !== MAGIC) corrupt('not an engram KV blob');
  const body = buf.subarray(0, buf.length - 32);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - 32))) corrupt('checksum mismatch');
  const jsonLen = buf.readUInt32LE(4);
  const header = JSON.parse(buf.toString('utf8', 8, 8 + jsonLen)) as KvBlobHeader;
  const per = header.kvHeads * header.seq * header.headDim;
  const dataStart = 8 + jsonLen;
  if (body.length - dataStart !== header.numLayers * 2 * per * 4) corrupt('data size does not match its header');
  // One aligned copy; layers are views into it.
  const all = new Float32Array(header.numLayers * 2 * per);
  new Uint8Array(all.buffer).set(body.subarray(dataStart));
  const layers = Array.from({ length: header.numLayers }, (_, l) => ({
    key: all.subarray(2 * l * per, (2 * l + 1) * per),
    value: all.subarray((2 * l + 1) * per, (2 * l + 2) * per),
  }));
  return { header, kv: { numLayers: header.numLayers, kvHeads: header.kvHeads, headDim: header.headDim, seq: header.seq, layers } };
}
