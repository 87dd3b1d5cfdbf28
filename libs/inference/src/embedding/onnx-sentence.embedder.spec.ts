import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InferenceErrorCode } from '../inference.error';
import { GraphBuilder } from '../onnx/graph.builder';
import { OnnxDataType } from '../onnx/onnx-model.encoder';
import { writeOnnxModel } from '../onnx/onnx-model.writer';
import { OnnxSessionRegistry } from '../runtime/onnx-session.registry';
import { int64Tensor } from '../runtime/tensor';
import { createTinyEncoder } from '../tiny/tiny-encoder.generator';
import { OnnxSentenceEmbedder } from './onnx-sentence.embedder';

const root = mkdtempSync(join(tmpdir(), 'engram-onnx-embed-'));
const dir = join(root, 'encoder');
createTinyEncoder({ outDir: dir, hidden: 32, heads: 4, layers: 2, maxPositions: 24, seed: 7 });
const noTypesDir = join(root, 'encoder-no-types');
createTinyEncoder({ outDir: noTypesDir, hidden: 16, heads: 2, layers: 1, tokenTypes: false, seed: 3 });

const SHORT = 'Alice lives in Paris';
const LONG = 'The train to London leaves at noon and the flight to Tokyo was cancelled because of snow in winter';

const norm = (v: Float32Array): number => Math.hypot(...v);
const maxDiff = (a: Float32Array, b: Float32Array): number => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));

describe('OnnxSentenceEmbedder', () => {
  const embedders: OnnxSentenceEmbedder[] = [];
  const open = (path: string, options = {}): OnnxSentenceEmbedder => {
    const e = OnnxSentenceEmbedder.open(path, options);
    embedders.push(e);
    return e;
  };
  const reference = new OnnxSessionRegistry();
  /** last_hidden_state of one unpadded-or-padded row, straight from the ONNX model. */
  const referenceHidden = async (ids: number[], mask: number[]): Promise<Float32Array> => {
    const session = await reference.acquire({ key: 'reference', path: join(dir, 'model.onnx') });
    const feeds = { input_ids: int64Tensor(ids, [1, ids.length]), attention_mask: int64Tensor(mask, [1, ids.length]), token_type_ids: int64Tensor(ids.map(() => 0), [1, ids.length]) };
    return (await session.run(feeds)).last_hidden_state.data as Float32Array;
  };
  afterAll(async () => {
    await reference.disposeAll();
    await Promise.all(embedders.map((e) => e.dispose()));
    rmSync(root, { recursive: true, force: true });
  });

  it('takes its dimension from the model and names model + tokenizer in the fingerprint', () => {
    const e = open(dir);
    expect(e.dimension).toBe(32);
    expect(e.maxLength).toBe(24);
    expect(e.fingerprint).toMatch(/^onnx:[0-9a-f]{16}:32$/);
    const other = open(noTypesDir);
    expect(other.dimension).toBe(16);
    expect(other.fingerprint).not.toBe(e.fingerprint);
  });

  it('returns unit vectors, deterministically across calls and instances', async () => {
    const texts = [SHORT, LONG, '', 'zebra zoo'];
    const a = await open(dir).embed(texts);
    const b = await open(dir).embed(texts);
    expect(a).toHaveLength(4);
    for (const [i, v] of a.entries()) {
      expect(v).toHaveLength(32);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(Array.from(v)).toEqual(Array.from(b[i]));
    }
    expect(maxDiff(a[0], a[3])).toBeGreaterThan(1e-2);
    await expect(open(dir).embed([])).resolves.toEqual([]);
  });

  it('gives a text the same vector alone and padded in a batch with a longer text', async () => {
    const e = open(dir, { batchSize: 8 });
    const [alone] = await e.embed([SHORT]);
    const [padded, long] = await e.embed([SHORT, LONG]);
    expect(e.tokenize(LONG).length).toBeGreaterThan(e.tokenize(SHORT).length + 5);
    expect(maxDiff(alone, padded)).toBeLessThan(1e-5);
    const [longAlone] = await e.embed([LONG]);
    expect(maxDiff(long, longAlone)).toBeLessThan(1e-5);
    const oneByOne = await open(dir, { batchSize: 1 }).embed([LONG, SHORT]);
    expect(maxDiff(oneByOne[1], alone)).toBeLessThan(1e-5);
  });

  it('matches a plain mean pooling over the hidden states of the ONNX model', async () => {
    const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object, {});
    const ids = tokenizer.encode(SHORT).ids;
    expect(ids[0]).toBe(tokenizer.token_to_id('[CLS]'));
    const hidden = await referenceHidden(ids, ids.map(() => 1));
    const mean = Array.from({ length: 32 }, (_, j) => ids.reduce((s, _id, t) => s + hidden[t * 32 + j], 0) / ids.length);
    const length = Math.hypot(...mean);
    const [vector] = await open(dir).embed([SHORT, LONG]);
    mean.forEach((m, j) => expect(vector[j]).toBeCloseTo(m / length, 5));

    // The padding test above can fail: the same padded row without its mask differs.
    const padded = [...ids, 0, 0, 0, 0, 0, 0];
    const unmasked = await referenceHidden(padded, padded.map(() => 1));
    expect(maxDiff(unmasked.slice(0, 32), hidden.slice(0, 32))).toBeGreaterThan(1e-3);
  });

  it('pools the [CLS] state where 1_Pooling/config.json asks for it', async () => {
    const clsDir = join(root, 'encoder-cls');
    cpSync(dir, clsDir, { recursive: true });
    mkdirSync(join(clsDir, '1_Pooling'));
    writeFileSync(join(clsDir, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: 32, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }));
    const cls = open(clsDir);
    const mean = open(dir);
    expect(cls.pooling).toBe('cls');
    expect(cls.fingerprint).not.toBe(mean.fingerprint);
    const [a] = await cls.embed([SHORT, LONG]);
    const ids = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object, {}).encode(SHORT).ids;
    const first = (await referenceHidden(ids, ids.map(() => 1))).slice(0, 32);
    const length = Math.hypot(...first);
    first.forEach((x, j) => expect(a[j]).toBeCloseTo(x / length, 5));
    expect(maxDiff(a, (await mean.embed([SHORT]))[0])).toBeGreaterThan(1e-2);

    writeFileSync(join(clsDir, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_max_tokens: true }));
    expect(() => OnnxSentenceEmbedder.open(clsDir)).toThrow(/pooling max_tokens; supported: mean_tokens or cls_token/);
  });

  it('runs models without token_type_ids', async () => {
    const [v] = await open(noTypesDir).embed([SHORT]);
    expect(v).toHaveLength(16);
    expect(norm(v)).toBeCloseTo(1, 5);
  });

  it('truncates long texts to the max length, keeping [CLS] and [SEP]', async () => {
    const e = open(dir);
    const text = `${LONG} ${LONG} ${LONG}`;
    const ids = e.tokenize(text);
    expect(ids).toHaveLength(24);
    expect(ids[0]).toBe(2); // [CLS]
    expect(ids[23]).toBe(3); // [SEP]
    const [v] = await e.embed([text]);
    expect(norm(v)).toBeCloseTo(1, 5);
  });

  it('shares sessions through a given registry and releases them on dispose', async () => {
    const registry = new OnnxSessionRegistry();
    const a = OnnxSentenceEmbedder.open(dir, { registry });
    const b = OnnxSentenceEmbedder.open(dir, { registry });
    await a.embed([SHORT]);
    await b.embed([SHORT]);
    expect(registry.size).toBe(1);
    await a.dispose();
    expect(registry.size).toBe(0);
  });

  describe('refuses a bad directory clearly', () => {
    const bad = join(root, 'bad');
    beforeEach(() => {
      rmSync(bad, { recursive: true, force: true });
      mkdirSync(bad, { recursive: true });
    });

    it('when the directory does not exist', () => {
      expect(() => OnnxSentenceEmbedder.open(join(root, 'nope'))).toThrow(expect.objectContaining({ code: InferenceErrorCode.ModelNotFound, message: expect.stringMatching(/is not an existing directory/) }));
    });

    it('when tokenizer.json is missing', () => {
      writeFileSync(join(bad, 'model.onnx'), readFileSync(join(dir, 'model.onnx')));
      expect(() => OnnxSentenceEmbedder.open(bad)).toThrow(expect.objectContaining({ code: InferenceErrorCode.ModelNotFound, message: expect.stringMatching(/has no tokenizer\.json/) }));
    });

    it('when model.onnx is not an ONNX model', () => {
      writeFileSync(join(bad, 'model.onnx'), 'not a model at all, just some text');
      writeFileSync(join(bad, 'tokenizer.json'), readFileSync(join(dir, 'tokenizer.json')));
      expect(() => OnnxSentenceEmbedder.open(bad)).toThrow(expect.objectContaining({ code: InferenceErrorCode.ModelInvalid, message: expect.stringMatching(/not an ONNX model/) }));
    });

    it('when the model does not take the inputs of a text encoder', () => {
      const g = new GraphBuilder('vision');
      g.input('pixel_values', OnnxDataType.FLOAT, ['batch', 3]);
      g.output('last_hidden_state', OnnxDataType.FLOAT, ['batch', 3]);
      g.op1('Identity', ['pixel_values'], {}, 'last_hidden_state');
      writeOnnxModel(g.model(), join(bad, 'model.onnx'));
      writeFileSync(join(bad, 'tokenizer.json'), readFileSync(join(dir, 'tokenizer.json')));
      expect(() => OnnxSentenceEmbedder.open(bad)).toThrow(/must take input_ids, attention_mask .*declares pixel_values \(missing input_ids, attention_mask\) \(unsupported pixel_values\)/);
    });

    it('when tokenizer.json does not load', () => {
      writeFileSync(join(bad, 'model.onnx'), readFileSync(join(dir, 'model.onnx')));
      writeFileSync(join(bad, 'tokenizer.json'), '{ broken');
      expect(() => OnnxSentenceEmbedder.open(bad)).toThrow(expect.objectContaining({ code: InferenceErrorCode.ModelInvalid }));
    });
  });
});
