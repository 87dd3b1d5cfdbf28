// Streams the elements of one JSON array out of a file of any size: the top-level array,
// or the array under one top-level key ({"results": [...]}, {"nodes": [...]}). Only one
// element is held at a time, so a multi-gigabyte export (LongMemEval-M, a large mem0
// dump) is read in flat memory. Elements are parsed with JSON.parse.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export class JsonShapeError extends Error {}

export interface ElementOptions {
  /** Read the array under this top-level key when the document is an object. */
  key?: string;
  /** Refuse one element longer than this (characters). */
  maxElementChars?: number;
}

/** What the document turned out to be: its top-level array, or the keyed array (null: neither). */
export async function* jsonElements(input: string | Readable, options: ElementOptions = {}): AsyncGenerator<unknown> {
  const stream = typeof input === 'string' ? createReadStream(input, { encoding: 'utf8', highWaterMark: 1 << 20 }) : input.setEncoding('utf8');
  const max = options.maxElementChars ?? 256 * 1024 * 1024;
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** Depth at which elements of the wanted array start (1 or 2), once found. */
  let elementDepth = -1;
  let started = false;
  let topIsObject = false;
  let lastKey = '';
  let keyBuffer: string[] | null = null;
  let expectValueForKey = false;
  let element: string[] = [];
  let elementChars = 0;
  let capturing = false;
  let done = false;

  for await (const chunk of stream as AsyncIterable<string>) {
    if (done) break;
    let from = 0;
    const flush = (to: number) => {
      if (capturing && to > from) {
        element.push(chunk.slice(from, to));
        elementChars += to - from;
        if (elementChars > max) throw new JsonShapeError(`an element is longer than ${max} characters`);
      }
    };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inString) {
        if (keyBuffer && !escaped && c !== 0x22 && c !== 0x5c) keyBuffer.push(chunk[i]);
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) {
          inString = false;
          if (keyBuffer) {
            lastKey = keyBuffer.join('');
            keyBuffer = null;
          }
        }
        continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (!started) {
        started = true;
        if (c === 0x5b) elementDepth = 1;
        else if (c === 0x7b) topIsObject = true;
        else throw new JsonShapeError('the file is neither a JSON array nor a JSON object');
        if (topIsObject && options.key === undefined) throw new JsonShapeError('the file is a JSON object; expected a JSON array');
      }
      // An element of the wanted array starts here.
      if (elementDepth !== -1 && depth === elementDepth && !capturing && c !== 0x2c && c !== 0x5d) {
        capturing = true;
        from = i;
        element = [];
        elementChars = 0;
      }
      if (c === 0x22) {
        inString = true;
        if (topIsObject && depth === 1 && !expectValueForKey) keyBuffer = [];
        continue;
      }
      if (topIsObject && depth === 1 && c === 0x3a) {
        expectValueForKey = true;
        continue;
      }
      if (c === 0x7b || c === 0x5b) {
        if (topIsObject && depth === 1 && expectValueForKey && c === 0x5b && lastKey === options.key && elementDepth === -1) elementDepth = 2;
        depth++;
        continue;
      }
      if (c === 0x7d || c === 0x5d) {
        depth--;
        if (capturing && depth === elementDepth) {
          // A container element ends with its closing bracket.
          flush(i + 1);
          capturing = false;
          yield parse(element.join(''));
          from = i + 1;
          continue;
        }
        if (capturing && depth === elementDepth - 1) {
          // The array closed right after a scalar element.
          flush(i);
          capturing = false;
          yield parse(element.join(''));
          from = i + 1;
        }
        if (elementDepth !== -1 && depth === elementDepth - 1) {
          done = true;
          break;
        }
        if (depth === 1) expectValueForKey = false;
        continue;
      }
      if (c === 0x2c) {
        if (capturing && depth === elementDepth) {
          flush(i);
          capturing = false;
          yield parse(element.join(''));
          from = i + 1;
        }
        if (topIsObject && depth === 1) expectValueForKey = false;
      }
    }
    if (!done) flush(chunk.length);
  }
  if (typeof input === 'string') (stream as unknown as { destroy(): void }).destroy();
  if (!started) throw new JsonShapeError('the file is empty');
  if (elementDepth === -1) throw new JsonShapeError(`the JSON object has no "${options.key}" list`);
  if (!done) throw new JsonShapeError('the file ends inside the JSON document (truncated?)');
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new JsonShapeError(`an element is not valid JSON: ${text.slice(0, 80)}`);
  }
}
