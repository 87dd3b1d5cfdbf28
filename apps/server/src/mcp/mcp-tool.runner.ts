import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { ErrorCode as RpcErrorCode, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
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

/** A cube named by a tool argument or the URL: a string no route could store is a validation error (it reached PostgreSQL as an internal error). */
export function checkedCubeRef(ref: string): string {
  const problems = unstorableInput({ cube: ref });
  if (problems.length) throw EngramError.validation(problems);
  return ref;
}

/** MCP's code for a resource that does not exist (the specification's "Resource not found"). */
export const RESOURCE_NOT_FOUND = -32002;

/** What the SDK sends as a JSON-RPC error: its numeric code, message and data (an McpError would prefix "MCP error N:" to the message, which the client prefixes again). */
export type RpcError = Error & { code: number; data: unknown };
const rpcError = (code: number, message: string, data: unknown): RpcError => Object.assign(new Error(message), { code, data });

/**
 * A failed resource read as a JSON-RPC error: not found → -32002, bad input → invalid params,
 * a refused key → invalid request, each with the REST error body in `data`. Anything else
 * is logged and answers "internal error" (the SDK would send the raw message, SQL included).
 */
export function resourceError(thrown: unknown, uri: string, log: (error: unknown) => void): RpcError {
  const known = asEngramError(thrown);
  if (!(known instanceof EngramError)) {
    log(thrown);
    return rpcError(RpcErrorCode.InternalError, 'internal error', { uri, error: { code: ErrorCode.Internal, message: 'internal error' } });
  }
  const code =
    known.code === ErrorCode.NotFound ? RESOURCE_NOT_FOUND
    : known.code === ErrorCode.ValidationFailed ? RpcErrorCode.InvalidParams
    : known.code === ErrorCode.Forbidden || known.code === ErrorCode.Unauthenticated ? RpcErrorCode.InvalidRequest
    : RpcErrorCode.InternalError;
  const body: Record<string, unknown> = { code: known.code, message: known.message };
  if (known.details !== undefined) body.details = known.details;
  return rpcError(code, known.message, { uri, error: body });
}

/** Runs a tool body; every failure becomes a tool error (never a protocol error). */
export async function runTool(body: () => Promise<unknown>, log: (error: unknown) => void): Promise<CallToolResult> {
  try {
    return jsonResult(await body());
  } catch (error) {
    return errorResult(error, log);
  }
}
