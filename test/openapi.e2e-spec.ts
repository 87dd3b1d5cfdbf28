import { Scope } from '@engram/core';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * ADR 0507: the OpenAPI document describes every route with request and response schemas and
 * an example, and each example conforms to its schema (so an example cannot drift from its DTO).
 */
interface Schema {
  $ref?: string;
  description?: string;
  type?: string;
  format?: string;
  nullable?: boolean;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
}
interface Media {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, unknown>;
}
interface Operation {
  operationId: string;
  summary?: string;
  parameters?: { name: string; in: string; example?: unknown; schema?: Schema }[];
  requestBody?: { content?: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** What is wrong with `value` as an instance of `schema` (the subset of JSON Schema Nest emits); [] when nothing. */
export function conformance(doc: Document, schema: Schema, value: unknown, at = '$'): string[] {
  if (schema.$ref) return conformance(doc, doc.components.schemas[schema.$ref.split('/').pop()!], value, at);
  const problems: string[] = [];
  for (const part of schema.allOf ?? []) problems.push(...conformance(doc, part, value, at));
  const choices = schema.oneOf ?? schema.anyOf;
  if (choices && !choices.some((c) => conformance(doc, c, value, at).length === 0)) problems.push(`${at}: matches none of its alternatives`);
  if (value === null) return schema.nullable || (!schema.type && !schema.properties && !schema.$ref && !schema.allOf) ? problems : [...problems, `${at}: null where ${schema.type ?? 'a value'} is required`];
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const type = schema.type ?? (schema.properties ? 'object' : undefined);
  const is: Record<string, (v: unknown) => boolean> = {
    string: (v) => typeof v === 'string',
    integer: (v) => Number.isInteger(v),
    number: (v) => typeof v === 'number' && Number.isFinite(v),
    boolean: (v) => typeof v === 'boolean',
    array: (v) => Array.isArray(v),
    object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  };
  if (type && is[type] && !is[type](value)) return [...problems, `${at}: ${JSON.stringify(value)} is not of type ${type}`];
  if (type === 'string' && schema.format === 'date-time' && Number.isNaN(Date.parse(value as string))) problems.push(`${at}: not a date-time`);
  if (type === 'array' && schema.items) (value as unknown[]).forEach((item, i) => problems.push(...conformance(doc, schema.items!, item, `${at}[${i}]`)));
  if (type === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? []) if (!(name in record)) problems.push(`${at}.${name}: required, missing`);
    for (const [name, item] of Object.entries(record)) {
      const declared = schema.properties?.[name];
      if (declared) problems.push(...conformance(doc, declared, item, `${at}.${name}`));
      else if (typeof schema.additionalProperties === 'object') problems.push(...conformance(doc, schema.additionalProperties, item, `${at}.${name}`));
      else if (schema.properties && schema.additionalProperties !== true) problems.push(`${at}.${name}: not in the schema`);
    }
  }
  return problems;
}

/** Every problem of the document: an operation without a schema or an example, or an example its schema refuses. */
export function documentProblems(doc: Document): string[] {
  const problems: string[] = [];
  const media = (where: string, content: Record<string, Media>) => {
    for (const [type, m] of Object.entries(content)) {
      if (!m.schema) problems.push(`${where} ${type}: no schema`);
      const binary = m.schema?.format === 'binary';
      const examples = m.example !== undefined ? [m.example] : Object.values(m.examples ?? {}).map((e) => (e as { value: unknown }).value);
      if (!examples.length && !binary) problems.push(`${where} ${type}: no example`);
      if (m.schema && type.endsWith('json')) for (const example of examples) problems.push(...conformance(doc, m.schema, example).map((p) => `${where} ${type} example ${p}`));
    }
  };
  for (const [route, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = `${op.operationId} (${method.toUpperCase()} ${route})`;
      for (const p of op.parameters ?? []) if (p.in === 'path' && p.example === undefined) problems.push(`${name}: path parameter ${p.name} has no example`);
      if (op.requestBody) {
        if (!op.requestBody.content || !Object.keys(op.requestBody.content).length) problems.push(`${name}: request body without a schema`);
        else media(`${name} request`, op.requestBody.content);
      }
      const success = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
      if (!success.length) problems.push(`${name}: no success response`);
      for (const [status, response] of success) {
        if (status === '204') continue;
        if (!response.content || !Object.keys(response.content).length) problems.push(`${name} ${status}: response without a schema`);
        else media(`${name} ${status}`, response.content);
      }
    }
  }
  return problems;
}

describe('the OpenAPI document', () => {
  let h: E2eHarness;
  let doc: Document;

  beforeAll(async () => {
    h = await createE2eHarness();
    doc = (await h.http.get('/docs-json').expect(200)).body;
  });
  afterAll(() => h.close());

  it('describes every route with request and response schemas and an example that its schema accepts', () => {
    const operations = Object.values(doc.paths).flatMap((item) => METHODS.filter((m) => item[m]));
    expect(operations.length).toBeGreaterThan(50);
    expect(documentProblems(doc)).toEqual([]);
  });

  it('finds what is missing or wrong: an operation without an example, an example its schema refuses', () => {
    const broken = JSON.parse(JSON.stringify(doc)) as Document;
    const add = Object.values(broken.paths).flatMap((i) => Object.values(i)).find((o) => o.operationId === 'MemoryController_add')!;
    delete add.requestBody!.content!['application/json'].example;
    const list = Object.values(broken.paths).flatMap((i) => Object.values(i)).find((o) => o.operationId === 'CubeController_list')!;
    (list.responses['200'].content!['application/json'].example as { items: unknown }).items = [{ id: 7, surprise: true }];
    const problems = documentProblems(broken);
    expect(problems).toContainEqual(expect.stringMatching(/^MemoryController_add .* request application\/json: no example$/));
    expect(problems).toContainEqual(expect.stringMatching(/CubeController_list .* \$\.items\[0\]\.id: 7 is not of type string/));
    expect(problems).toContainEqual(expect.stringMatching(/CubeController_list .* \$\.items\[0\]\.surprise: not in the schema/));
    expect(problems).toContainEqual(expect.stringMatching(/CubeController_list .* \$\.items\[0\]\.name: required, missing/));
  });

  it("declares what a cube's overview answers before any working memory was built (lastBuild null: the SDK typed it as an object)", async () => {
    const { key } = await h.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead] });
    const cube = (await h.http.post('/v1/cubes').set({ Authorization: `Bearer ${key}` }).send({ name: 'overview-shape', settings: { embedder: 'hash' } }).expect(201)).body;
    const overview = (await h.http.get(`/v1/cubes/${cube.id}/overview`).set({ Authorization: `Bearer ${key}` }).expect(200)).body;
    expect(overview.activation.workingMemory.lastBuild).toBeNull();
    const operation = Object.values(doc.paths).flatMap((i) => Object.values(i)).find((o) => o.operationId === 'CubeController_overview')!;
    expect(conformance(doc, operation.responses['200'].content!['application/json'].schema!, overview)).toEqual([]);
  });

  it('gives every operation an imperative summary of at most 80 characters', () => {
    const operations = Object.values(doc.paths).flatMap((item) => METHODS.flatMap((m) => (item[m] ? [item[m]] : [])));
    const wrong = operations.filter((op) => !op.summary || op.summary.length > 80 || !/^[A-Z][a-z]+\b/.test(op.summary)).map((op) => `${op.operationId}: ${op.summary ?? '(none)'}`);
    expect(wrong).toEqual([]);
  });

  it('lists the query parameters the API validates', () => {
    const query = (route: string, method: string) => (doc.paths[route][method].parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(query('/v1/admin/cubes', 'get')).toEqual(expect.arrayContaining(['tenantId', 'limit', 'cursor']));
    expect(query('/v1/cubes/{cubeId}/lifecycle/events', 'get')).toEqual(expect.arrayContaining(['memoryId', 'action', 'limit', 'cursor']));
  });

  it('types the lifecycle policy by its fields, not as opaque objects', () => {
    const schemas = doc.components.schemas;
    const policy = schemas.LifecyclePolicyDto.properties!;
    expect(policy.archiveAfterIdleDays).toMatchObject({ type: 'number', nullable: true });
    for (const section of ['ttl', 'fusion', 'invalidation', 'extraction', 'consolidation', 'activation']) {
      const ref = policy[section].$ref ?? policy[section].allOf?.[0]?.$ref;
      expect(ref).toBeDefined();
      expect(Object.keys(schemas[ref!.split('/').pop()!].properties ?? {}).length).toBeGreaterThan(0);
    }
    expect(schemas.LifecycleTtlPolicyDto.properties!.byKind.additionalProperties).toEqual({ type: 'number', nullable: true });
    expect(schemas.LifecycleFusionPolicyDto.properties!.threshold.type).toBe('number');
  });

  it('says what a search score is and is not', () => {
    const score = doc.components.schemas.SearchResultDto.properties!.score;
    expect(score.description).toMatch(/not a relevance threshold/);
    expect(score.description).toMatch(/explain: true/);
  });

  it('is rendered at /docs', async () => {
    const res = await h.http.get('/docs').expect(200);
    expect(res.text).toContain('swagger');
  });
});
