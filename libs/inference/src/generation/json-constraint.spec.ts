import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceErrorCode } from '../inference.error';
import { LanguageModel, loadLanguageModel } from '../runtime/language-model';
import { OnnxSessionRegistry } from '../runtime/onnx-session.registry';
import { createTinyModel } from '../tiny/tiny-model.generator';
import { generate } from './generate';
import { JsonSchemaConstraint } from './json-constraint';
import { compileSchema } from './json-schema.grammar';

const dir = join(mkdtempSync(join(tmpdir(), 'engram-json-')), 'tiny');
createTinyModel({ outDir: dir, layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, seed: 5, maxPositionEmbeddings: 512 });
const registry = new OnnxSessionRegistry();
let model: LanguageModel;
beforeAll(async () => {
  model = await loadLanguageModel(dir, registry);
});
afterAll(() => registry.disposeAll());

const PAIR = {
  type: 'object',
  additionalProperties: false,
  required: ['relation', 'merged_text'],
  properties: { relation: { type: 'string', enum: ['duplicate', 'update', 'contradiction', 'independent'] }, merged_text: { type: ['string', 'null'] } },
};
const FACTS = {
  type: 'object',
  additionalProperties: false,
  required: ['facts'],
  properties: { facts: { type: 'array', maxItems: 5, items: { type: 'object', additionalProperties: false, required: ['text', 'subject'], properties: { text: { type: 'string' }, subject: { type: 'string' } } } } },
};
const prompt = () => model.tokenizer.encode('Compare: Kai likes tea. Kai enjoys tea.');

describe('structured output (JsonSchemaConstraint)', () => {
  it('a random tiny model answers a document of the schema, for any seed, temperature and budget', async () => {
    for (const [schema, maxTokens] of [[PAIR, 60], [PAIR, 200], [FACTS, 48], [FACTS, 160]] as const) {
      for (const [temperature, seed] of [[0, 1], [1, 2], [1.5, 3], [1, 4]]) {
        const result = await generate(model, prompt(), { temperature, seed, maxTokens, constraint: new JsonSchemaConstraint(model.tokenizer, compileSchema(schema)) });
        const parsed = JSON.parse(result.text) as Record<string, unknown>;
        expect(result.finishReason).toBe('stop');
        expect(result.tokenIds.length).toBeLessThanOrEqual(maxTokens);
        if (schema === PAIR) {
          expect(Object.keys(parsed).sort()).toEqual(['merged_text', 'relation']);
          expect(PAIR.properties.relation.enum).toContain(parsed.relation);
          expect(parsed.merged_text === null || typeof parsed.merged_text === 'string').toBe(true);
        } else {
          expect(Array.isArray(parsed.facts) && (parsed.facts as unknown[]).length <= 5).toBe(true);
          for (const f of parsed.facts as Record<string, unknown>[]) expect([typeof f.text, typeof f.subject]).toEqual(['string', 'string']);
        }
      }
    }
  });

  it('answers a required property of an object that also takes other keys (no additionalProperties), whatever the budget', async () => {
    const schema = { type: 'object', properties: { x: { type: 'integer' } }, required: ['x'] };
    for (const maxTokens of [8, 20, 40, 100]) {
      for (const [temperature, seed] of [[0, 1], [1, 2], [1.5, 3]]) {
        const result = await generate(model, prompt(), { temperature, seed, maxTokens, constraint: new JsonSchemaConstraint(model.tokenizer, compileSchema(schema)) });
        expect(result.finishReason).toBe('stop');
        expect(Number.isInteger((JSON.parse(result.text) as { x: unknown }).x)).toBe(true);
      }
    }
  });

  it('without the constraint the same model does not answer JSON (the constraint does the work)', async () => {
    const free = await generate(model, prompt(), { temperature: 0, maxTokens: 60, ignoreEos: true });
    expect(() => JSON.parse(free.text)).toThrow();
  });

  it('streams exactly the final text', async () => {
    let streamed = '';
    const result = await generate(model, prompt(), { temperature: 1, seed: 9, maxTokens: 80, constraint: new JsonSchemaConstraint(model.tokenizer, compileSchema(PAIR)), onToken: (e) => (streamed += e.text) });
    expect(streamed).toBe(result.text);
  });

  it('refuses clearly when the budget cannot hold the shortest document', async () => {
    const run = generate(model, prompt(), { temperature: 0, maxTokens: 10, constraint: new JsonSchemaConstraint(model.tokenizer, compileSchema(PAIR)) });
    await expect(run).rejects.toMatchObject({ code: InferenceErrorCode.InputMismatch, message: expect.stringMatching(/response_format cannot be met.*raise max_tokens/) });
  });
});
