// The OpenAPI document served at /docs and /docs-json (ADR 0507): Nest's document from the
// controllers and DTOs, then the response schemas of the routes without a DTO class, an
// example of every request and response body, and of every path parameter.
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ReferenceObject, RequestBodyObject, ResponseObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { AdminCubeDto, AuditEventResponseDto } from '@engram/core';
import { OPERATION_EXAMPLES, PARAMETER_EXAMPLES } from './examples';
import { RESPONSE_SCHEMAS } from './response-schemas';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('engram')
      .setDescription('Memory operating system for LLM agents: cubes, memories, lifecycle.')
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
    { extraModels: [AuditEventResponseDto, AdminCubeDto] },
  );
  describeOperations(document);
  return document;
}

/** Adds the hand-written schemas and examples; an example for an operation that does not exist is a bug, so it throws. */
export function describeOperations(document: OpenAPIObject): void {
  const seen = new Set<string>();
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as OperationObject | undefined;
      if (!operation?.operationId) continue;
      const id = operation.operationId;
      seen.add(id);
      const responses = RESPONSE_SCHEMAS[id];
      if (responses) {
        operation.responses = Object.fromEntries(
          Object.entries(responses).map(([status, spec]) => [status, { description: spec.description, ...(spec.content ? { content: Object.fromEntries(Object.entries(spec.content).map(([type, schema]) => [type, { schema }])) } : {}) }]),
        );
      }
      for (const parameter of (operation.parameters ?? []) as (ParameterObject | ReferenceObject)[]) {
        if ('in' in parameter && parameter.in === 'path' && PARAMETER_EXAMPLES[parameter.name] !== undefined) parameter.example = PARAMETER_EXAMPLES[parameter.name];
      }
      const examples = OPERATION_EXAMPLES[id];
      if (!examples) continue;
      const body = operation.requestBody as RequestBodyObject | undefined;
      if (examples.request !== undefined && body?.content) for (const media of Object.values(body.content)) media.example = examples.request;
      for (const [status, example] of Object.entries(examples.responses ?? {})) {
        const response = operation.responses[status] as ResponseObject | undefined;
        if (!response?.content) throw new Error(`OpenAPI example for ${id} ${status}: the operation has no such response body`);
        for (const [type, media] of Object.entries(response.content)) media.example = typeof example === 'object' && example !== null && type in example && isByMediaType(example) ? example[type] : example;
      }
    }
  }
  const unknown = Object.keys(OPERATION_EXAMPLES).filter((id) => !seen.has(id));
  if (unknown.length) throw new Error(`OpenAPI examples for operations that do not exist: ${unknown.join(', ')}`);
}

/** `{ 'application/json': …, 'text/event-stream': … }`: one example per media type. */
function isByMediaType(example: object): example is Record<string, unknown> {
  return Object.keys(example).every((k) => k.includes('/'));
}
