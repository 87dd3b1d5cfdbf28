import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { EngramError, FieldProblem } from '@engram/core';

/** class-validator errors as engram's field problems (`items.0.text`). */
export function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
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
   * word, so a memory's metadata key would vanish while the write answers 201; and
   * PostgreSQL refuses the NUL character in text and jsonb, which used to surface as a 500
   * after part of the work was done. Refuse both here, naming where they are.
   */
  protected override stripProtoKeys(value: unknown): void {
    const problems = unstorableInput(value);
    if (problems.length) throw EngramError.validation(problems);
  }
}

const RESERVED_KEYS = ['__proto__', 'prototype', 'constructor'];
const RESERVED = 'this key name is reserved (__proto__, prototype, constructor) and cannot be stored';
const NUL = 'must not contain the NUL character (U+0000): it cannot be stored';
const MAX_PROBLEMS = 20;

/** What no route can store, by field: reserved key names and the NUL character in any key or string (at most 20 problems). */
export function unstorableInput(value: unknown): FieldProblem[] {
  const found: FieldProblem[] = [];
  walk(value, '', found);
  return found;
}

function walk(value: unknown, path: string, found: FieldProblem[]): void {
  if (found.length >= MAX_PROBLEMS) return;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) found.push({ field: path || 'body', problems: [NUL] });
    return;
  }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof Date) return;
  for (const [key, child] of Object.entries(value)) {
    if (found.length >= MAX_PROBLEMS) return;
    const at = path ? `${path}.${key}` : key;
    if (RESERVED_KEYS.includes(key)) found.push({ field: at, problems: [RESERVED] });
    else if (key.includes('\u0000')) found.push({ field: at, problems: [`key ${NUL}`] });
    walk(child, at, found);
  }
}
