import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERATED_MARKER, writeGeneratedDirectory } from './generated-directory.writer';
import { createTinyModel } from './tiny-model.generator';
import { createTinyEncoder } from './tiny-encoder.generator';

const OWN = ['a.json', 'b.bin'];
const WRITTEN = [GENERATED_MARKER, ...OWN].sort();
const writeOwn = (text: string) => (dir: string) => {
  writeFileSync(join(dir, 'a.json'), text);
  writeFileSync(join(dir, 'b.bin'), text);
};

describe('writeGeneratedDirectory', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'engram-gen-dir-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a new directory, parents included', () => {
    const out = join(root, 'x', 'model');
    writeGeneratedDirectory(out, OWN, writeOwn('1'));
    expect(readdirSync(out).sort()).toEqual(WRITTEN);
    expect(readdirSync(join(root, 'x'))).toEqual(['model']); // no staging directory left beside it
  });

  it('writes into an empty directory that already exists', () => {
    writeGeneratedDirectory(root, OWN, writeOwn('1'));
    expect(readdirSync(root).sort()).toEqual(WRITTEN);
  });

  it('refuses a directory holding anything else, and leaves it as it was', () => {
    writeFileSync(join(root, 'notes.txt'), 'mine');
    mkdirSync(join(root, 'src'));
    expect(() => writeGeneratedDirectory(root, OWN, writeOwn('1'))).toThrow(/is not empty \(it holds (notes\.txt, src|src, notes\.txt)\).*choose another directory/);
    expect(readdirSync(root).sort()).toEqual(['notes.txt', 'src']);
    expect(readFileSync(join(root, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a directory of the same file names that it did not write (a downloaded model), and leaves it as it was', () => {
    writeOwn('theirs')(root);
    expect(() => writeGeneratedDirectory(root, OWN, writeOwn('1'))).toThrow(/is not empty \(it holds (a\.json, b\.bin|b\.bin, a\.json)\)/);
    expect(readFileSync(join(root, 'a.json'), 'utf8')).toBe('theirs');
  });

  it('refuses an existing file', () => {
    const file = join(root, 'model');
    writeFileSync(file, 'mine');
    expect(() => writeGeneratedDirectory(file, OWN, writeOwn('1'))).toThrow(/is a file, not a directory/);
    expect(readFileSync(file, 'utf8')).toBe('mine');
  });

  it('replaces its own earlier output, with the compiled-graph cache built from it', () => {
    writeGeneratedDirectory(root, OWN, writeOwn('1'));
    mkdirSync(join(root, '.engram'));
    writeFileSync(join(root, '.engram', 'graph.onnx'), 'old');
    writeGeneratedDirectory(root, OWN, writeOwn('2'));
    expect(readdirSync(root).sort()).toEqual(WRITTEN);
    expect(readFileSync(join(root, 'a.json'), 'utf8')).toBe('2');
  });

  it('keeps the earlier output when writing fails', () => {
    writeGeneratedDirectory(root, OWN, writeOwn('1'));
    expect(() =>
      writeGeneratedDirectory(root, OWN, () => {
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(readdirSync(root).sort()).toEqual(WRITTEN);
    expect(readFileSync(join(root, 'a.json'), 'utf8')).toBe('1');
  });
});

describe('the tiny generators on an existing directory', () => {
  let root: string;
  beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'engram-gen-tiny-'))));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('createTinyModel regenerates its own directory and refuses one with other content', () => {
    const dir = join(root, 'model');
    createTinyModel({ outDir: dir, layers: 1, hidden: 16, heads: 2, vocab: 280, seed: 1 });
    const first = readFileSync(join(dir, 'model.safetensors'));
    createTinyModel({ outDir: dir, layers: 1, hidden: 16, heads: 2, vocab: 280, seed: 2 });
    expect(readFileSync(join(dir, 'model.safetensors')).equals(first)).toBe(false);
    writeFileSync(join(dir, 'README.md'), 'mine');
    expect(() => createTinyModel({ outDir: dir, layers: 1, hidden: 16, heads: 2, vocab: 280 })).toThrow(/not empty \(it holds README\.md\)/);
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
  });

  it('createTinyEncoder refuses a tiny decoder directory (other files) instead of mixing them', () => {
    const dir = join(root, 'mixed');
    createTinyModel({ outDir: dir, layers: 1, hidden: 16, heads: 2, vocab: 280 });
    expect(() => createTinyEncoder({ outDir: dir, hidden: 16, heads: 2, layers: 1 })).toThrow(/model\.safetensors/);
    createTinyEncoder({ outDir: join(root, 'enc'), hidden: 16, heads: 2, layers: 1 });
    createTinyEncoder({ outDir: join(root, 'enc'), hidden: 16, heads: 2, layers: 1, seed: 9 });
    expect(readdirSync(join(root, 'enc')).sort()).toEqual([GENERATED_MARKER, 'config.json', 'model.onnx', 'sentence_bert_config.json', 'tokenizer.json', 'tokenizer_config.json']);
  });
});
