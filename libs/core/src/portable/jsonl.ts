import { Readable } from 'node:stream';
import { archiveError } from './cube-archive.format';

/** Lines of a JSONL stream (UTF-8), refusing a line over `maxLineBytes` instead of buffering it. */
export async function* jsonLines(stream: Readable, part: string, maxLineBytes: number): AsyncGenerator<{ line: number; value: unknown }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  // Strict: a byte that is not UTF-8 would otherwise be stored as U+FFFD.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const parse = (bytes: Buffer) => {
    line++;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw archiveError(`${part} line ${line} is not UTF-8 text`);
    }
    try {
      return { line, value: JSON.parse(text) as unknown };
    } catch {
      throw archiveError(`${part} line ${line} is not valid JSON`);
    }
  };
  for await (const chunk of stream) {
    let buffer = chunk as Buffer;
    for (let nl = buffer.indexOf(10); nl !== -1; nl = buffer.indexOf(10)) {
      const head = buffer.subarray(0, nl);
      const whole = pending.length ? Buffer.concat([...pending, head]) : head;
      pending = [];
      pendingBytes = 0;
      buffer = buffer.subarray(nl + 1);
      if (whole.length > maxLineBytes) throw archiveError(`${part} line ${line + 1} is longer than ${maxLineBytes} bytes`);
      if (whole.length === 0 || (whole.length === 1 && whole[0] === 13)) {
        line++;
        continue;
      }
      yield parse(whole);
    }
    if (buffer.length) {
      pending.push(buffer);
      pendingBytes += buffer.length;
      if (pendingBytes > maxLineBytes) throw archiveError(`${part} line ${line + 1} is longer than ${maxLineBytes} bytes`);
    }
  }
  if (pendingBytes > 0) {
    const rest = Buffer.concat(pending);
    if (rest.toString('utf8').trim()) yield parse(rest);
  }
}

/** Float32 rows of `dimension` from a little-endian stream, in batches of `batch` rows. */
export async function* float32Rows(stream: Readable, dimension: number, batch: number): AsyncGenerator<Float32Array[]> {
  const rowBytes = dimension * 4;
  let carry = Buffer.alloc(0);
  let rows: Float32Array[] = [];
  for await (const chunk of stream) {
    let buffer = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    while (buffer.length >= rowBytes) {
      const row = new Float32Array(dimension);
      new Uint8Array(row.buffer).set(buffer.subarray(0, rowBytes));
      rows.push(row);
      buffer = buffer.subarray(rowBytes);
      if (rows.length === batch) {
        yield rows;
        rows = [];
      }
    }
    carry = Buffer.from(buffer);
  }
  if (carry.length) throw archiveError(`the vectors part ends inside a row (${carry.length} stray bytes; dimension ${dimension})`);
  if (rows.length) yield rows;
}
