import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEmbedderSettings } from './embedder.registry';

describe('parseEmbedderSettings for onnx', () => {
  const root = mkdtempSync(join(tmpdir(), 'engram-embedder-settings-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('accepts an existing directory and resolves it to an absolute path', () => {
    expect(parseEmbedderSettings({ type: 'onnx', path: root })).toEqual({ type: 'onnx', path: root });
  });

  it('refuses a missing path, a file, a missing directory and unknown fields', () => {
    const file = join(root, 'model.onnx');
    writeFileSync(file, 'x');
    expect(() => parseEmbedderSettings({ type: 'onnx' })).toThrow();
    expect(() => parseEmbedderSettings({ type: 'onnx', path: file })).toThrow();
    expect(() => parseEmbedderSettings({ type: 'onnx', path: join(root, 'nope') })).toThrow();
    expect(() => parseEmbedderSettings({ type: 'onnx', path: root, dimension: 32 })).toThrow();
    expect(() => parseEmbedderSettings('onnx')).toThrow();
  });

  it('keeps tenants inside the models folder', () => {
    const models = join(root, 'models');
    mkdirSync(join(models, 'minilm'), { recursive: true });
    const outside = mkdtempSync(join(tmpdir(), 'engram-outside-'));
    symlinkSync(outside, join(models, 'escape'));
    try {
      expect(parseEmbedderSettings({ type: 'onnx', path: 'minilm' }, models)).toEqual({ type: 'onnx', path: join(models, 'minilm') });
      expect(() => parseEmbedderSettings({ type: 'onnx', path: outside }, models)).toThrow(/models folder/);
      expect(() => parseEmbedderSettings({ type: 'onnx', path: '../' }, models)).toThrow(/models folder/);
      expect(() => parseEmbedderSettings({ type: 'onnx', path: 'escape' }, models)).toThrow(/models folder/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('answers the same whether a path outside the models folder exists or not', () => {
    const models = join(root, 'models-same');
    mkdirSync(models, { recursive: true });
    const outside = mkdtempSync(join(tmpdir(), 'engram-outside-'));
    const message = (path: string) => {
      try {
        parseEmbedderSettings({ type: 'onnx', path }, models);
      } catch (error) {
        return JSON.stringify((error as { details?: unknown }).details ?? (error as Error).message);
      }
      return 'accepted';
    };
    try {
      const existing = message(outside);
      expect(existing).toMatch(/inside the models folder/);
      expect(message(join(outside, 'missing'))).toBe(existing);
      expect(message('/etc')).toBe(existing);
      expect(message('../../nope')).toBe(existing);
      expect(message(join(models, 'missing'))).toBe(existing);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('keeps the hash settings as they were; openai ones follow ADR 0104', () => {
    expect(parseEmbedderSettings(undefined)).toEqual({ type: 'hash', dimension: 256 });
    expect(() => parseEmbedderSettings({ type: 'openai', baseUrl: 'http://x', model: 'm', dimension: 8 })).toThrow(/does not call embedding URLs chosen by tenants/);
    expect(parseEmbedderSettings({ type: 'openai', baseUrl: 'http://x', model: 'm', dimension: 8 }, null, { endpoints: {}, allowTenantUrls: true })).toEqual({ type: 'openai', baseUrl: 'http://x', model: 'm', dimension: 8 });
  });
});

describe('parseEmbedderSettings for use-lite', () => {
  it('accepts "use-lite" as a string or an object, and nothing else beside the type', () => {
    expect(parseEmbedderSettings('use-lite')).toEqual({ type: 'use-lite' });
    expect(parseEmbedderSettings({ type: 'use-lite' })).toEqual({ type: 'use-lite' });
    expect(() => parseEmbedderSettings({ type: 'use-lite', dimension: 256 })).toThrow(/unknown field\(s\) for the use-lite embedder: dimension/);
    expect(() => parseEmbedderSettings({ type: 'use-large' })).toThrow(/hash, use-lite, openai, onnx/);
  });
});
