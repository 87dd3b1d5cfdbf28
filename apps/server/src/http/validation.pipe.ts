import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { EngramError, FieldProblem } from '@engram/core';

/**
 * Constraints about what a value is (its presence and type): when one fails, the others of
 * the field (lengths, ranges, patterns) only restate it — a missing `name` was four problems.
 */
const TYPE_CONSTRAINTS = new Set(['isDefined', 'isString', 'isNumber', 'isInt', 'isBoolean', 'isArray', 'isObject', 'isDate', 'isUuid', 'isEnum', 'isIn', 'nestedValidation', 'whitelistValidation', 'unknownValue']);

/** The problems of one field: its type problems alone when it has any, else all of them. */
function problemsOf(constraints: Record<string, string>): string[] {
  const typeProblems = Object.entries(constraints).filter(([name]) => TYPE_CONSTRAINTS.has(name));
  return (typeProblems.length > 0 ? typeProblems : Object.entries(constraints)).map(([, message]) => message);
}

/** class-validator errors as engram's field problems (`items.0.text`). */
export function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: problemsOf(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** The options of every route's validation; MCP tools validate their DTOs with the same. */
export const VALIDATION_OPTIONS = {
  transform: true,
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
  exceptionFactory: (errors: ValidationError[]) => EngramError.validation(flatten(errors)),
};

/**
 * Validation for every route: unknown fields rejected, values transformed to their
 * types, every problem named by its field. A body must be a JSON object.
 */
@Injectable()
export class EngramValidationPipe extends ValidationPipe {
  constructor() {
    super(VALIDATION_OPTIONS);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object) {
      if (value === undefined || value === null) value = {};
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw EngramError.validation([{ field: 'body', problems: ['the body must be a JSON object'] }]);
      }
    }
    return super.transform(value, metadata);
  }

  /**
   * Nest deletes `__proto__`, `prototype` and `constructor` keys from input without a
   * word, so a memory's metadata key would vanish while the write answers 201; PostgreSQL
   * refuses the NUL character in text and jsonb, which used to surface as a 500 after part
   * of the work was done; a lone UTF-16 surrogate was stored as U+FFFD while the answer
   * echoed it; and JSON nested thousands of levels deep overflowed the stack of
   * class-transformer (a 500). Refuse all of these here, before the transform, naming where.
   */
  protected override stripProtoKeys(value: unknown): void {
    const problems = unstorableInput(value);
    if (problems.length) throw EngramError.validation(problems);
  }
}

/**
 * How deep a body may nest objects and arrays, the body itself being level 1. Before this
 * limit, what class-transformer's recursion survived was stored (about 2,400 levels; a
 * 2,000-level metadata was storable), so the limit keeps that with room for the fields
 * around it (`items.0.metadata` is level 4) and leaves the stack a margin.
 */
export const MAX_JSON_DEPTH = 2048;

const RESERVED_KEYS = ['__proto__', 'prototype', 'constructor'];
const RESERVED = 'this key name is reserved (__proto__, prototype, constructor) and cannot be stored';
const NUL = 'must not contain the NUL character (U+0000): it cannot be stored';
const SURROGATE = 'must not contain a lone UTF-16 surrogate (U+D800 to U+DFFF without its pair): it is not valid Unicode and cannot be stored';
const TOO_DEEP = `nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep (from the body)`;
const LONE_SURROGATE = /\p{Cs}/u;
const MAX_PROBLEMS = 20;
/** A too-deep value is named by this many leading path segments, not a path of thousands. */
const DEEP_PATH_SEGMENTS = 8;

/** Where a value sits: its key and its parent's place (paths are spelled out only for a problem). */
interface Place {
  key: string;
  parent: Place | null;
  depth: number;
}

function pathOf(place: Place | null, segments = Infinity): string {
  const keys: string[] = [];
  for (let at = place; at; at = at.parent) keys.push(at.key);
  return keys.reverse().slice(0, segments).join('.') || 'body';
}

function stringProblem(text: string): string | null {
  if (text.includes('\u0000')) return NUL;
  if (LONE_SURROGATE.test(text)) return SURROGATE;
  return null;
}

/**
 * What no route can store, by field: reserved key names, the NUL character or a lone
 * surrogate in any key or string, nesting deeper than MAX_JSON_DEPTH (at most 20 problems).
 */
export function unstorableInput(value: unknown): FieldProblem[] {
  const found: FieldProblem[] = [];
  // Depth first in document order with an explicit stack: no recursion to overflow.
  const stack: { value: unknown; place: Place | null }[] = [{ value, place: null }];
  while (stack.length && found.length < MAX_PROBLEMS) {
    const { value: node, place } = stack.pop()!;
    if (place) {
      const keyProblem = RESERVED_KEYS.includes(place.key) ? RESERVED : stringProblem(place.key);
      if (keyProblem) found.push({ field: pathOf(place), problems: [keyProblem === RESERVED ? RESERVED : `key ${keyProblem}`] });
    }
    if (typeof node === 'string') {
      const problem = stringProblem(node);
      if (problem) found.push({ field: pathOf(place), problems: [problem] });
      continue;
    }
    if (node === null || typeof node !== 'object' || ArrayBuffer.isView(node) || node instanceof Date) continue;
    const depth = (place?.depth ?? 0) + 1;
    if (depth > MAX_JSON_DEPTH) {
      found.push({ field: pathOf(place, DEEP_PATH_SEGMENTS), problems: [TOO_DEEP] });
      continue;
    }
    const entries = Object.entries(node);
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i][1], place: { key: entries[i][0], parent: place, depth } });
  }
  return found.slice(0, MAX_PROBLEMS);
}
