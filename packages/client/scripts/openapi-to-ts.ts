/**
 * Turns engram's OpenAPI document (`/docs-json`) into the TypeScript types of
 * @engram/client (`src/openapi-types.ts`): one interface per component schema and one
 * entry per operation (path, method, path/query parameters, body, response). Pure and
 * deterministic, so test/client-types.e2e-spec.ts can compare the checked-in file with
 * what the running server describes and fail when they drift.
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  nullable?: boolean;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  description?: string;
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
  description?: string;
}

interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (name: string) => (IDENTIFIER.test(name) ? name : JSON.stringify(name));
const comment = (text: string | undefined, indent: string) => (text ? `${indent}/** ${text.replace(/\*\//g, '*\\/').replace(/\s+/g, ' ').trim()} */\n` : '');

function typeOf(schema: Schema | undefined, indent = ''): string {
  if (!schema) return 'unknown';
  const nullable = (t: string) => (schema.nullable ? `${t} | null` : t);
  if (schema.$ref) return nullable(schema.$ref.split('/').pop()!);
  if (schema.enum) return nullable(schema.enum.map((v) => JSON.stringify(v)).join(' | '));
  if (schema.oneOf ?? schema.anyOf) return nullable((schema.oneOf ?? schema.anyOf)!.map((s) => typeOf(s, indent)).join(' | '));
  if (schema.allOf) return nullable(schema.allOf.map((s) => typeOf(s, indent)).join(' & '));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return nullable('string');
    case 'number':
    case 'integer':
      return nullable('number');
    case 'boolean':
      return nullable('boolean');
    case 'array': {
      const item = typeOf(schema.items, indent);
      return nullable(/[ |&]/.test(item) ? `Array<${item}>` : `${item}[]`);
    }
    case 'object':
    case undefined: {
      if (schema.properties) return nullable(objectType(schema, indent));
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') return nullable(`Record<string, ${typeOf(schema.additionalProperties, indent)}>`);
      return nullable(type === 'object' ? 'Record<string, unknown>' : 'unknown');
    }
    default:
      return 'unknown';
  }
}

function objectType(schema: Schema, indent: string): string {
  const required = new Set(schema.required ?? []);
  const inner = `${indent}  `;
  const lines = Object.entries(schema.properties ?? {}).map(
    ([name, prop]) => `${comment(prop.description, inner)}${inner}${key(name)}${required.has(name) ? '' : '?'}: ${typeOf(prop, inner)};`,
  );
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function responseOf(op: Operation): { status: number; type: string } {
  const success = Object.keys(op.responses ?? {}).filter((s) => /^2\d\d$/.test(s)).sort();
  for (const status of success) {
    const schema = op.responses![status].content?.['application/json']?.schema;
    if (schema) return { status: Number(status), type: typeOf(schema, '    ') };
  }
  const first = success[0];
  return { status: first ? Number(first) : 200, type: first === '204' || first === '202' ? 'unknown' : 'unknown' };
}

function paramsType(params: Parameter[], where: string): string {
  const chosen = params.filter((p) => p.in === where).sort((a, b) => a.name.localeCompare(b.name));
  if (!chosen.length) return 'never';
  return `{ ${chosen.map((p) => `${key(p.name)}${p.required ? '' : '?'}: ${typeOf(p.schema)}`).join('; ')} }`;
}

export function openApiToTypeScript(doc: OpenApiDocument): string {
  const out: string[] = [
    '// Generated from engram\'s OpenAPI document by packages/client/scripts/openapi-to-ts.ts. Do not edit:',
    '// run `UPDATE_CLIENT_TYPES=1 npx jest test/client-types` after changing a route or DTO.',
    '',
  ];
  const schemas = doc.components?.schemas ?? {};
  for (const name of Object.keys(schemas).sort()) {
    const schema = schemas[name];
    out.push(comment(schema.description, ''));
    if (schema.properties || schema.type === 'object') out.push(`export interface ${name} ${schema.properties ? objectType(schema, '') : '{\n  [key: string]: unknown;\n}'}\n`);
    else out.push(`export type ${name} = ${typeOf(schema)};\n`);
  }
  out.push('/** Every operation of the API: method, path template, parameters, body and success response. */');
  out.push('export interface Operations {');
  const operations: string[] = [];
  for (const path of Object.keys(doc.paths).sort()) {
    for (const method of Object.keys(doc.paths[path]).sort()) {
      const op = doc.paths[path][method];
      const id = op.operationId ?? `${method}_${path}`;
      const body = op.requestBody?.content?.['application/json']?.schema;
      const response = responseOf(op);
      operations.push(
        [
          `  ${key(id)}: {`,
          `    method: ${JSON.stringify(method.toUpperCase())};`,
          `    path: ${JSON.stringify(path)};`,
          `    pathParams: ${paramsType(op.parameters ?? [], 'path')};`,
          `    query: ${paramsType(op.parameters ?? [], 'query')};`,
          `    body: ${body ? typeOf(body, '    ') : 'never'};`,
          `    status: ${response.status};`,
          `    response: ${response.type};`,
          '  };',
        ].join('\n'),
      );
    }
  }
  out.push(operations.join('\n'));
  out.push('}');
  out.push('');
  out.push('export type OperationId = keyof Operations;');
  out.push('');
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}
