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
   * word, so a memory's metadata key would vanish while the write answers 201. Refuse
   * them instead, naming where they are.
   */
  protected override stripProtoKeys(value: unknown): void {
    const problems = reservedKeyPaths(value, '');
    if (problems.length) throw EngramError.validation(problems.slice(0, 20).map((field) => ({ field, problems: ['this key name is reserved (__proto__, prototype, constructor) and cannot be stored'] })));
  }
}

const RESERVED_KEYS = ['__proto__', 'prototype', 'constructor'];

function reservedKeyPaths(value: unknown, path: string, found: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof Date) return found;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (RESERVED_KEYS.includes(key)) found.push(at);
    if (found.length >= 20) break;
    reservedKeyPaths(child, at, found);
  }
  return found;
}
