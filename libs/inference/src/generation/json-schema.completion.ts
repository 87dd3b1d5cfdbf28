// The shortest text that finishes a JSON document from a parse stack of the recogniser in
// json-schema.grammar.ts: what structured output keeps room for as the token budget ends.
import { ArrayNode, Frame, missingRequired, ObjectNode, openKeys, SchemaNode, Stack, TERMINAL_NUM, valueOf } from './json-schema.grammar';

function minValue(node: SchemaNode, depth = 0): string {
  switch (node.kind) {
    case 'literal':
      return node.texts.reduce((a, b) => (b.length < a.length ? b : a));
    case 'string':
      return `"${'a'.repeat(node.minLength)}"`;
    case 'number':
      return '0';
    case 'any':
      return 'null';
    case 'union':
      return node.options.map((o) => minValue(o, depth + 1)).reduce((a, b) => (b.length < a.length ? b : a));
    case 'object':
      return `{${node.required.map((k) => `${JSON.stringify(k)}:${minValue(valueOf(node, k), depth + 1)}`).join(',')}}`;
    case 'array':
      return `[${Array.from({ length: node.minItems }, () => minValue(node.items, depth + 1)).join(',')}]`;
  }
}

/** What closes an object once `seen` keys are written and no value is open. */
function closeObject(obj: ObjectNode, seen: readonly string[], leadingComma: boolean): string {
  const parts = missingRequired(obj, seen).map((k) => `${JSON.stringify(k)}:${minValue(valueOf(obj, k))}`);
  return `${parts.length && leadingComma ? ',' : ''}${parts.join(',')}}`;
}

function closeArray(arr: ArrayNode, items: number, leadingComma: boolean): string {
  const needed = Math.max(0, arr.minItems - items);
  const parts = Array.from({ length: needed }, () => minValue(arr.items));
  return `${parts.length && leadingComma ? ',' : ''}${parts.join(',')}]`;
}

/** The rest of an object that is waiting for the value of `key` (a key just written). */
function afterKey(obj: ObjectNode, seen: readonly string[], key: string): string {
  const all = seen.includes(key) ? seen : [...seen, key];
  return `:${minValue(valueOf(obj, key))}${closeObject(obj, all, true)}`;
}

/**
 * The rest of an object whose free key (`f.key`, typed so far) is open: the key closed as it
 * is, or, when shorter, the key written on into a property the object still takes (its own
 * value is then shorter, a required one is no longer missing). Without the second, closing
 * looked longer than the object's completion before the key's quote, and a budget that had
 * room for `"x":0}` refused every token after that quote.
 */
function afterFreeKey(obj: ObjectNode, seen: readonly string[], f: Extract<Frame, { t: 'str' }>, close: string): string {
  // An open escape ends as `close` writes it (\n, or \u…0): the key holds that character too.
  const key = f.esc === 1 ? `${f.key}\n` : f.esc > 1 ? `${f.key}\ufffd` : f.key!;
  let best = close + afterKey(obj, seen, key);
  if (f.esc !== 0) return best;
  for (const k of openKeys(obj, seen)) {
    if (!k.startsWith(f.key!) || JSON.stringify(k) !== `"${k}"`) continue; // a key that needs escapes is left out: its JSON text is longer than its characters
    const grown = `${k.slice(f.key!.length)}"${afterKey(obj, seen, k)}`;
    if (grown.length < best.length) best = grown;
  }
  return best;
}

/** The shortest text that finishes a document from `stack` ('' when it is finished). */
export function completion(stack: Stack): string {
  let out = '';
  let i = stack.length - 1;
  while (i >= 0) {
    const f = stack[i];
    switch (f.t) {
      case 'value':
        out += minValue(f.node);
        break;
      case 'lit': {
        if (f.key) {
          const parent = stack[i - 1] as Extract<Frame, { t: 'obj' }>;
          out += f.texts.map((t) => t.slice(f.pos) + afterKey(parent.node, parent.seen, JSON.parse(t) as string)).reduce((a, b) => (b.length < a.length ? b : a));
          i--; // the object's rest is in there
        } else {
          out += f.texts.map((t) => t.slice(f.pos)).reduce((a, b) => (b.length < a.length ? b : a));
        }
        break;
      }
      case 'str': {
        const pad = 'a'.repeat(Math.max(0, (f.node?.minLength ?? 0) - f.len - (f.esc > 0 ? 1 : 0)));
        const close = (f.esc === 1 ? 'n' : f.esc > 1 ? '0'.repeat(f.esc - 1) : '') + pad + '"';
        if (f.key !== null) {
          const parent = stack[i - 1] as Extract<Frame, { t: 'obj' }>;
          out += afterFreeKey(parent.node, parent.seen, f, close);
          i--;
        } else {
          out += close;
        }
        break;
      }
      case 'num':
        out += TERMINAL_NUM.has(f.phase) ? '' : '0';
        break;
      case 'obj':
        switch (f.phase) {
          case 'open':
            out += closeObject(f.node, f.seen, false);
            break;
          case 'colon':
            out += afterKey(f.node, f.seen, f.key!); // ':' + value + close
            break;
          case 'value':
          case 'after':
            out += closeObject(f.node, f.seen, true);
            break;
          case 'comma': {
            const missing = missingRequired(f.node, f.seen);
            if (missing.length) out += closeObject(f.node, f.seen, false);
            else if (f.node.free !== null) out += `"":${minValue(f.node.free)}}`;
            else out += openKeys(f.node, f.seen).map((k) => `${JSON.stringify(k)}${afterKey(f.node, f.seen, k)}`).reduce((a, b) => (b.length < a.length ? b : a));
            break;
          }
          case 'key':
            break; // written by its key frame
        }
        break;
      case 'arr':
        switch (f.phase) {
          case 'open':
            out += closeArray(f.node, 0, false);
            break;
          case 'item':
            out += closeArray(f.node, f.count + 1, true);
            break;
          case 'after':
            out += closeArray(f.node, f.count, true);
            break;
          case 'comma':
            out += minValue(f.node.items) + closeArray(f.node, f.count + 1, true);
            break;
        }
        break;
    }
    i--;
  }
  return out;
}

/** The shortest completion over all live stacks. */
export function shortestCompletion(stacks: readonly Stack[]): string {
  return stacks.map(completion).reduce((a, b) => (b.length < a.length ? b : a));
}
