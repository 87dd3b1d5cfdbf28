// A JSON Schema subset compiled to an incremental, character-level recogniser of compact
// JSON (no whitespace between tokens): `advance` feeds text to a set of parse stacks (a
// union keeps one stack per live alternative) and `completion` gives the shortest text
// that finishes a document from where the stacks are (json-schema.completion.ts). Structured output (response_format
// json_schema / json_object) masks every token whose text the recogniser refuses, and near
// the token budget keeps only tokens that still leave room for that completion, so a
// constrained answer always ends as a document of the schema.
//
// Supported: type (one or a list), enum, const, properties / required /
// additionalProperties (false, true or a schema), items / minItems / maxItems,
// minLength / maxLength, anyOf. Anything else in a schema is refused by name: a keyword
// that is silently ignored would let an answer through that the caller's schema forbids.

export type SchemaNode =
  | { kind: 'literal'; texts: string[] }
  | { kind: 'string'; minLength: number; maxLength: number | null }
  | { kind: 'number'; integer: boolean }
  | { kind: 'object'; props: Map<string, SchemaNode>; required: string[]; free: SchemaNode | null }
  | { kind: 'array'; items: SchemaNode; minItems: number; maxItems: number | null }
  | { kind: 'union'; options: SchemaNode[] }
  | { kind: 'any' };

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'SchemaError';
  }
}

const IGNORED = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'strict', 'name']);
const MAX_DEPTH = 32;

const ANY: SchemaNode = { kind: 'any' };
const ANY_OPTIONS: SchemaNode[] = [
  { kind: 'literal', texts: ['true', 'false', 'null'] },
  { kind: 'number', integer: false },
  { kind: 'string', minLength: 0, maxLength: null },
  { kind: 'object', props: new Map(), required: [], free: ANY },
  { kind: 'array', items: ANY, minItems: 0, maxItems: null },
];

function count(value: unknown, path: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new SchemaError(path, `must be an integer ≥ ${min}`);
  return value;
}

const KNOWN = new Set([...IGNORED, 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minLength', 'maxLength', 'anyOf']);

/**
 * Every keyword of the schema that structured output does not support, by path (all of
 * them, so one 400 names everything to change; compileSchema stops at the first).
 */
export function unsupportedKeywords(schema: unknown, path = 'schema', depth = 0): string[] {
  if (depth > MAX_DEPTH || typeof schema !== 'object' || schema === null || Array.isArray(schema)) return [];
  const s = schema as Record<string, unknown>;
  const found = Object.keys(s).filter((k) => !KNOWN.has(k)).map((k) => `${path}.${k}`);
  const child = (value: unknown, at: string) => found.push(...unsupportedKeywords(value, at, depth + 1));
  if (typeof s.properties === 'object' && s.properties !== null) for (const [k, v] of Object.entries(s.properties)) child(v, `${path}.properties.${k}`);
  if (Array.isArray(s.anyOf)) s.anyOf.forEach((v, i) => child(v, `${path}.anyOf[${i}]`));
  child(s.items, `${path}.items`);
  child(s.additionalProperties, `${path}.additionalProperties`);
  return found;
}

/** Compiles a JSON schema (the supported subset) to the recogniser's tree. */
export function compileSchema(schema: unknown, path = 'schema', depth = 0): SchemaNode {
  if (depth > MAX_DEPTH) throw new SchemaError(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (schema === true || (typeof schema === 'object' && schema !== null && Object.keys(schema).every((k) => IGNORED.has(k)))) return ANY;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new SchemaError(path, 'must be a JSON schema object');
  const s = schema as Record<string, unknown>;
  for (const key of Object.keys(s)) if (!KNOWN.has(key)) throw new SchemaError(`${path}.${key}`, `the keyword "${key}" is not supported for structured output`);

  if (s.const !== undefined) return { kind: 'literal', texts: [JSON.stringify(s.const)] };
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum) || s.enum.length === 0) throw new SchemaError(`${path}.enum`, 'must be a non-empty array');
    return { kind: 'literal', texts: [...new Set(s.enum.map((v) => JSON.stringify(v)))] };
  }
  if (s.anyOf !== undefined) {
    if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) throw new SchemaError(`${path}.anyOf`, 'must be a non-empty array');
    return { kind: 'union', options: s.anyOf.map((o, i) => compileSchema(o, `${path}.anyOf[${i}]`, depth + 1)) };
  }
  const types = s.type === undefined ? null : Array.isArray(s.type) ? s.type : [s.type];
  if (types === null) return ANY;
  if (types.length === 0) throw new SchemaError(`${path}.type`, 'must name at least one type');
  const options = types.map((t) => typeNode(s, t, path, depth));
  return options.length === 1 ? options[0] : { kind: 'union', options };
}

function typeNode(s: Record<string, unknown>, type: unknown, path: string, depth: number): SchemaNode {
  switch (type) {
    case 'null':
      return { kind: 'literal', texts: ['null'] };
    case 'boolean':
      return { kind: 'literal', texts: ['true', 'false'] };
    case 'number':
    case 'integer':
      return { kind: 'number', integer: type === 'integer' };
    case 'string': {
      const minLength = s.minLength === undefined ? 0 : count(s.minLength, `${path}.minLength`);
      const maxLength = s.maxLength === undefined ? null : count(s.maxLength, `${path}.maxLength`);
      if (maxLength !== null && maxLength < minLength) throw new SchemaError(`${path}.maxLength`, 'is below minLength');
      return { kind: 'string', minLength, maxLength };
    }
    case 'array': {
      const minItems = s.minItems === undefined ? 0 : count(s.minItems, `${path}.minItems`);
      const maxItems = s.maxItems === undefined ? null : count(s.maxItems, `${path}.maxItems`);
      if (maxItems !== null && maxItems < minItems) throw new SchemaError(`${path}.maxItems`, 'is below minItems');
      return { kind: 'array', items: s.items === undefined ? ANY : compileSchema(s.items, `${path}.items`, depth + 1), minItems, maxItems };
    }
    case 'object': {
      const props = new Map<string, SchemaNode>();
      if (s.properties !== undefined) {
        if (typeof s.properties !== 'object' || s.properties === null || Array.isArray(s.properties)) throw new SchemaError(`${path}.properties`, 'must be an object');
        for (const [k, v] of Object.entries(s.properties)) props.set(k, compileSchema(v, `${path}.properties.${k}`, depth + 1));
      }
      const required = s.required === undefined ? [] : s.required;
      if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) throw new SchemaError(`${path}.required`, 'must be an array of property names');
      const free = s.additionalProperties === false ? null : s.additionalProperties === undefined || s.additionalProperties === true ? ANY : compileSchema(s.additionalProperties, `${path}.additionalProperties`, depth + 1);
      for (const r of required as string[]) if (!props.has(r) && free === null) throw new SchemaError(`${path}.required`, `"${r}" is required but not a property and additionalProperties is false`);
      return { kind: 'object', props, required: [...new Set(required as string[])], free };
    }
    default:
      throw new SchemaError(`${path}.type`, `unknown type ${JSON.stringify(type)}`);
  }
}

// ---- the recogniser ----------------------------------------------------------------------

export type ObjectNode = Extract<SchemaNode, { kind: 'object' }>;
export type ArrayNode = Extract<SchemaNode, { kind: 'array' }>;
type StringNode = Extract<SchemaNode, { kind: 'string' }>;

export type Frame =
  | { t: 'value'; node: SchemaNode }
  /** Inside a literal: the candidate texts that match so far; `key` marks an object's key. */
  | { t: 'lit'; texts: string[]; pos: number; key: boolean }
  /** Inside a string: length so far, escape state (1: after "\", 2..5: hex digits left + 1); `key` captures a free key. */
  | { t: 'str'; node: StringNode | null; len: number; esc: number; key: string | null }
  | { t: 'num'; integer: boolean; phase: 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp' }
  | { t: 'obj'; node: ObjectNode; seen: string[]; phase: 'open' | 'key' | 'colon' | 'value' | 'after' | 'comma'; key: string | null }
  | { t: 'arr'; node: ArrayNode; count: number; phase: 'open' | 'item' | 'after' | 'comma' };

/** A parse stack, bottom first; an empty stack is a finished document. */
export type Stack = readonly Frame[];

const STRING_KEY: StringNode = { kind: 'string', minLength: 0, maxLength: null };
export const TERMINAL_NUM = new Set(['zero', 'int', 'frac', 'exp']);

export function valueOf(obj: ObjectNode, key: string): SchemaNode {
  return obj.props.get(key) ?? obj.free ?? ANY;
}

export function missingRequired(obj: ObjectNode, seen: readonly string[]): string[] {
  return obj.required.filter((r) => !seen.includes(r));
}

export function openKeys(obj: ObjectNode, seen: readonly string[]): string[] {
  return [...obj.props.keys()].filter((k) => !seen.includes(k));
}

/** A frame finished: pops it and tells its parent (with the key text for a key). */
function complete(rest: Frame[], keyText: string | null): Stack {
  if (rest.length === 0) return rest;
  const parent = rest[rest.length - 1];
  const below = rest.slice(0, -1);
  if (parent.t === 'obj') {
    if (parent.phase === 'key') {
      const key = keyText!;
      return [...below, { ...parent, phase: 'colon', key, seen: [...parent.seen, key] }];
    }
    return [...below, { ...parent, phase: 'after', key: null }];
  }
  if (parent.t === 'arr') return [...below, { ...parent, phase: 'after', count: parent.count + 1 }];
  throw new Error(`a ${parent.t} frame cannot hold a value`);
}

function startKey(rest: Frame[], obj: Extract<Frame, { t: 'obj' }>, c: string): Stack[] {
  const waiting: Frame[] = [...rest, { ...obj, phase: 'key' }];
  if (obj.node.free !== null) return c === '"' ? [[...waiting, { t: 'str', node: STRING_KEY, len: 0, esc: 0, key: '' }]] : []; // `c` opened it
  const texts = openKeys(obj.node, obj.seen).map((k) => JSON.stringify(k));
  return texts.length ? feed([...waiting, { t: 'lit', texts, pos: 0, key: true }], c) : [];
}

/** Every stack that `c` leads to from `stack` (none: refused). */
export function feed(stack: Stack, c: string): Stack[] {
  if (stack.length === 0) return [];
  const top = stack[stack.length - 1];
  const rest = stack.slice(0, -1) as Frame[];
  switch (top.t) {
    case 'value': {
      const node = top.node;
      switch (node.kind) {
        case 'union':
          return node.options.flatMap((o) => feed([...rest, { t: 'value', node: o }], c));
        case 'any':
          return ANY_OPTIONS.flatMap((o) => feed([...rest, { t: 'value', node: o }], c));
        case 'literal':
          return feed([...rest, { t: 'lit', texts: node.texts, pos: 0, key: false }], c);
        case 'string':
          return c === '"' ? [[...rest, { t: 'str', node, len: 0, esc: 0, key: null }]] : [];
        case 'number':
          if (c === '-') return [[...rest, { t: 'num', integer: node.integer, phase: 'sign' }]];
          if (c === '0') return [[...rest, { t: 'num', integer: node.integer, phase: 'zero' }]];
          return c >= '1' && c <= '9' ? [[...rest, { t: 'num', integer: node.integer, phase: 'int' }]] : [];
        case 'object':
          return c === '{' ? [[...rest, { t: 'obj', node, seen: [], phase: 'open', key: null }]] : [];
        case 'array':
          return c === '[' ? [[...rest, { t: 'arr', node, count: 0, phase: 'open' }]] : [];
      }
      break;
    }
    case 'lit': {
      const texts = top.texts.filter((t) => t[top.pos] === c);
      if (!texts.length) return [];
      const pos = top.pos + 1;
      const out: Stack[] = [];
      const done = texts.find((t) => t.length === pos);
      if (done !== undefined) out.push(complete(rest, top.key ? (JSON.parse(done) as string) : null));
      const longer = texts.filter((t) => t.length > pos);
      if (longer.length) out.push([...rest, { ...top, texts: longer, pos }]);
      return out;
    }
    case 'str': {
      const key = (ch: string) => (top.key === null ? null : top.key + ch);
      if (top.esc === 1) {
        const unescaped: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (c === 'u') return [[...rest, { ...top, esc: 5 }]];
        return c in unescaped ? grow(rest, top, key(unescaped[c])) : [];
      }
      if (top.esc > 1) {
        if (!/[0-9a-fA-F]/.test(c)) return [];
        if (top.esc > 2) return [[...rest, { ...top, esc: top.esc - 1 }]];
        return grow(rest, top, top.key === null ? null : top.key + '\ufffd'); // the key's exact character does not matter for lookup of free keys
      }
      if (c === '"') return top.len < (top.node?.minLength ?? 0) ? [] : [complete(rest, top.key)];
      if (c === '\\') return [[...rest, { ...top, esc: 1 }]];
      if (c.charCodeAt(0) < 0x20) return [];
      return grow(rest, top, key(c));
    }
    case 'num': {
      const digit = c >= '0' && c <= '9';
      const next = (phase: Extract<Frame, { t: 'num' }>['phase']): Stack[] => [[...rest, { ...top, phase }]];
      switch (top.phase) {
        case 'sign':
          return c === '0' ? next('zero') : digit ? next('int') : [];
        case 'zero':
        case 'int':
          if (digit && top.phase === 'int') return next('int');
          if (c === '.' && !top.integer) return next('dot');
          if ((c === 'e' || c === 'E') && !top.integer) return next('e');
          break;
        case 'dot':
          return digit ? next('frac') : [];
        case 'frac':
          if (digit) return next('frac');
          if (c === 'e' || c === 'E') return next('e');
          break;
        case 'e':
          return c === '+' || c === '-' ? next('esign') : digit ? next('exp') : [];
        case 'esign':
          return digit ? next('exp') : [];
        case 'exp':
          if (digit) return next('exp');
          break;
      }
      // The number ended before `c`: the parent reads it.
      return TERMINAL_NUM.has(top.phase) ? feed(complete(rest, null), c) : [];
    }
    case 'obj': {
      switch (top.phase) {
        case 'open':
          if (c === '}') return missingRequired(top.node, top.seen).length ? [] : [complete(rest, null)];
          return c === '"' ? startKey(rest, top, c) : [];
        case 'comma':
          return c === '"' ? startKey(rest, top, c) : [];
        case 'colon':
          return c === ':' ? [[...rest, { ...top, phase: 'value' }, { t: 'value', node: valueOf(top.node, top.key!) }]] : [];
        case 'after':
          if (c === '}') return missingRequired(top.node, top.seen).length ? [] : [complete(rest, null)];
          if (c === ',' && (top.node.free !== null || openKeys(top.node, top.seen).length)) return [[...rest, { ...top, phase: 'comma' }]];
          return [];
        default:
          return [];
      }
    }
    case 'arr': {
      const { node } = top;
      switch (top.phase) {
        case 'open':
          if (c === ']') return node.minItems === 0 ? [complete(rest, null)] : [];
          if (node.maxItems === 0) return [];
          return feed([...rest, { ...top, phase: 'item' }, { t: 'value', node: node.items }], c);
        case 'comma':
          return feed([...rest, { ...top, phase: 'item' }, { t: 'value', node: node.items }], c);
        case 'after':
          if (c === ']') return top.count >= node.minItems ? [complete(rest, null)] : [];
          if (c === ',' && (node.maxItems === null || top.count < node.maxItems)) return [[...rest, { ...top, phase: 'comma' }]];
          return [];
        default:
          return [];
      }
    }
  }
  return [];
}

function grow(rest: Frame[], top: Extract<Frame, { t: 'str' }>, key: string | null): Stack[] {
  const len = top.len + 1;
  if (top.node?.maxLength != null && len > top.node.maxLength) return [];
  return [[...rest, { ...top, len, esc: 0, key }]];
}

/** The parse stacks of a document that has not started. */
export function initialStacks(root: SchemaNode): Stack[] {
  return [[{ t: 'value', node: root }]];
}

/** Feeds `text`; null when no stack survives. */
export function advance(stacks: readonly Stack[], text: string): Stack[] | null {
  let current = stacks as Stack[];
  for (const c of text) {
    const next: Stack[] = [];
    for (const s of current) next.push(...feed(s, c));
    if (!next.length) return null;
    current = next.length > 64 ? next.slice(0, 64) : next;
  }
  return current;
}
