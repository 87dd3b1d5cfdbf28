import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { asEngramError, EngramError, ErrorCode } from '@engram/core';
import { flatten, unstorableInput } from '../http/validation.pipe';

/**
 * How MCP tools meet the services: arguments become the same DTO classes the REST
 * routes validate (same limits, same field names in problems), answers are JSON text,
 * and failures are tool errors carrying the REST error body `{ error: { code, message } }`.
 */

type Constructor<T> = new () => T;

/** Builds and validates a DTO exactly as the global validation pipe would for a body. */
export async function toDto<T extends object>(type: Constructor<T>, plain: Record<string, unknown>): Promise<T> {
  const defined = Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined));
  const unstorable = unstorableInput(defined);
  if (unstorable.length) throw EngramError.validation(unstorable);
  const dto = plainToInstance(type, defined);
  const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, validationError: { target: false, value: false } });
  if (errors.length) throw EngramError.validation(flatten(errors));
  return dto;
}

export function jsonResult(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] };
}

export function errorResult(thrown: unknown, log: (error: unknown) => void): CallToolResult {
  const known = asEngramError(thrown);
  const error = known instanceof EngramError ? known : new EngramError(ErrorCode.Internal, 'internal error');
  if (!(known instanceof EngramError)) log(thrown);
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.details !== undefined) body.details = error.details;
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error: body }) }] };
}

/** Runs a tool body; every failure becomes a tool error (never a protocol error). */
export async function runTool(body: () => Promise<unknown>, log: (error: unknown) => void): Promise<CallToolResult> {
  try {
    return jsonResult(await body());
  } catch (error) {
    return errorResult(error, log);
  }
}
