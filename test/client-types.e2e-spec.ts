import * as fs from 'node:fs';
import * as path from 'node:path';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import { OpenApiDocument, openApiToTypeScript } from '../packages/client/scripts/openapi-to-ts';

const GENERATED = path.resolve(__dirname, '../packages/client/src/openapi-types.ts');

/**
 * @engram/client is typed from the server's own OpenAPI document. This fails when a route
 * or DTO changed and the checked-in types were not regenerated; to regenerate:
 *   UPDATE_CLIENT_TYPES=1 npx jest test/client-types
 */
describe('@engram/client types', () => {
  let h: E2eHarness;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    h = await createE2eHarness();
    doc = (await h.http.get('/docs-json').expect(200)).body;
  });
  afterAll(() => h.close());

  it('match the OpenAPI document the server serves', () => {
    const expected = openApiToTypeScript(doc);
    if (process.env.UPDATE_CLIENT_TYPES === '1') fs.writeFileSync(GENERATED, expected);
    const actual = fs.readFileSync(GENERATED, 'utf8');
    if (actual !== expected) {
      throw new Error('packages/client/src/openapi-types.ts is stale: run `UPDATE_CLIENT_TYPES=1 npx jest test/client-types` and commit the result');
    }
  });

  it('describe every route of the API with a typed success response', () => {
    const generated = fs.readFileSync(GENERATED, 'utf8');
    for (const [route, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) expect(generated).toContain(`method: ${JSON.stringify(method.toUpperCase())};\n    path: ${JSON.stringify(route)};`);
    }
    for (const id of ['CubeController_list', 'MemoryController_search', 'MemoryController_list', 'MemoryController_add']) {
      const start = generated.indexOf(`  ${id}: {`);
      const block = generated.slice(start, generated.indexOf('\n  };', start));
      expect(block).toMatch(/response: [A-Z]\w+Dto;/);
    }
  });
});
