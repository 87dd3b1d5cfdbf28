// Streams the elements of one JSON array out of a file of any size: the top-level array,
// or the array under one top-level key ({"results": [...]}, {"nodes": [...]}). Only one
// element is held at a time, so a multi-gigabyte export (LongMemEval-M, a large mem0
// dump) is read in flat memory. Elements are parsed with JSON.parse.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export class JsonShapeError extends Error {}

const UTF16_BOMS = [
  [0xff, 0xfe],
  [0xfe, 0xff],
];

/**
 * Decodes a JSON file's bytes as UTF-8, strictly: JSON is UTF-8 (RFC 8259), and a byte
 * that is not (a Latin-1 or Windows-1252 export) would otherwise become U+FFFD in what is
 * stored. A leading UTF-8 byte order mark is dropped; UTF-16 is named as such.
 */
export class StrictUtf8Decoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private offset = 0;

  decode(bytes: Uint8Array, final = false): string {
    if (this.offset === 0 && bytes.length >= 2 && UTF16_BOMS.some(([a, b]) => bytes[0] === a && bytes[1] === b)) {
      throw new JsonShapeError('the file is UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8 and import it again');
    }
    try {
      const text = this.decoder.decode(bytes, { stream: !final });
      this.offset += bytes.length;
      return text;
    } catch {
      throw new JsonShapeError(
        `the file is not UTF-8 text (a byte in bytes ${this.offset}–${this.offset + bytes.length} is not UTF-8, e.g. Latin-1 or Windows-1252): convert it to UTF-8 (iconv -f latin1 -t utf-8) and import it again`,
      );
    }
  }
}

/** The whole of a small JSON file (an agent file), decoded as StrictUtf8Decoder does. */
export function decodeUtf8File(bytes: Uint8Array): string {
  return new StrictUtf8Decoder().decode(bytes, true);
}

/** Text chunks of a file or stream, decoded strictly as UTF-8 (a stream that already yields strings is taken as it is). */
export async function* utf8Chunks(input: string | Readable): AsyncGenerator<string> {
  const stream = typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input;
  const decoder = new StrictUtf8Decoder();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk);
      if (text) yield text;
    }
    const rest = decoder.decode(new Uint8Array(0), true);
    if (rest) yield rest;
  } finally {
    if (typeof input === 'string') (stream as unknown as { destroy(): void }).destroy();
  }
}

/**
 * The top-level keys of a JSON object file whose values are arrays, in file order (streamed;
 * nothing but the keys is held). A file that is not an object has none.
 */
export async function topLevelArrayKeys(file: string): Promise<string[]> {
  const keys: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** The characters of a key being read (raw, escapes included), or null. */
  let key: string[] | null = null;
  let lastKey: string | null = null;
  let expectKey = false;
  let afterColon = false;
  let started = false;
  for await (const chunk of utf8Chunks(file)) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') {
          inString = false;
          if (key) {
            lastKey = JSON.parse(`"${key.join('')}"`) as string;
            key = null;
          }
          continue;
        }
        key?.push(c);
        continue;
      }
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
      if (!started) {
        started = true;
        if (c !== '{') return [];
      }
      if (depth === 1 && afterColon) {
        afterColon = false;
        if (c === '[' && lastKey !== null) keys.push(lastKey);
      }
      if (c === '"') {
        inString = true;
        if (depth === 1 && expectKey) {
          key = [];
          expectKey = false;
        }
      } else if (c === ':' && depth === 1) afterColon = true;
      else if (c === ',' && depth === 1) expectKey = true;
      else if (c === '{' || c === '[') {
        depth++;
        if (depth === 1) expectKey = true;
      } else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return keys;
      }
    }
  }
  return keys;
}

export interface ElementOptions {
  /** Read the array under this top-level key when the document is an object. */
  key?: string;
  /** Refuse one element longer than this (characters). */
  maxElementChars?: number;
}

/** What the document turned out to be: its top-level array, or the keyed array (null: neither). */
export async function* jsonElements(input: string | Readable, options: ElementOptions = {}): AsyncGenerator<unknown> {
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

  for await (const chunk of utf8Chunks(input)) {
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
