import { Command } from 'commander';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelDirectory } from '../model/model-directory';
import { registerModelCommands } from './model.commands';

describe('engram model create-tiny', () => {
  it('writes a model directory with the requested shape', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'engram-cli-')), 'tiny');
    const program = new Command().exitOverride();
    registerModelCommands(program);
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await program.parseAsync(['node', 'engram', 'model', 'create-tiny', '--out', out, '--layers', '3', '--hidden', '32', '--vocab', '300', '--seed', '5']);
    write.mockRestore();
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(existsSync(join(out, f))).toBe(true);
    const dir = openModelDirectory(out);
    expect(dir.config).toMatchObject({ numLayers: 3, hiddenSize: 32, vocabSize: 300 });

    const chunks: string[] = [];
    const capture = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (chunks.push(String(c)), true));
    await program.parseAsync(['node', 'engram', 'model', 'generate', out, '--prompt', 'hi', '--max-tokens', '3']);
    await program.parseAsync(['node', 'engram', 'model', 'inspect', out]);
    capture.mockRestore();
    const lines = chunks.join('').trim().split('\n');
    expect(JSON.parse(lines[lines.length - 2])).toMatchObject({ usage: { completionTokens: expect.any(Number) } });
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ fingerprint: dir.fingerprint, format: 'safetensors' });
  });

  it('rejects a non-numeric option', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    registerModelCommands(program);
    await expect(program.parseAsync(['node', 'engram', 'model', 'create-tiny', '--out', '/tmp/x', '--layers', 'two'])).rejects.toThrow(/--layers must be a positive integer/);
  });
});
