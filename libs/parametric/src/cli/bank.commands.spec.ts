import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { createTinyModel } from '@engram/inference';
import { registerBankCommands } from './bank.commands';

async function run(args: string[]): Promise<Record<string, unknown>> {
  const program = new Command('engram').exitOverride();
  registerBankCommands(program);
  const out: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'engram', ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return JSON.parse(out.join('').trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('engram bank', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bank-cli-'));
    createTinyModel({ outDir: join(dir, 'model'), layers: 1, hidden: 16, heads: 2, vocab: 300 });
    const rows = ['Alice lives in Paris.', 'Bob prefers tea.', 'The meeting is on Monday.', 'Remember to water the plants.', 'Alice works as an engineer.'];
    writeFileSync(join(dir, 'texts.jsonl'), rows.map((text, i) => JSON.stringify({ id: `m${i}`, text })).join('\n'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds, writes, inspects and forgets on files', async () => {
    const bank = join(dir, 'bank');
    const built = await run(['bank', 'build', '--model', join(dir, 'model'), '--texts', join(dir, 'texts.jsonl'), '--out', bank, '--levels', '2', '--branching', '2', '--ranks', '2,4']);
    expect(built.texts).toBe(5);
    const written = await run(['bank', 'write', bank, '--model', join(dir, 'model'), '--texts', join(dir, 'texts.jsonl'), '--epochs', '2']);
    expect((written.blocks as unknown[]).length).toBeGreaterThan(0);
    expect(written.generation).toBe(2);
    expect(written.replay).toEqual({ source: 'anchor', perStep: 8, weight: 20, samples: 128, sequences: 128, cached: false });
    const block = (written.blocks as Array<{ level: number; node: number }>).find((b) => b.level === 2)!;
    const inspected = await run(['bank', 'inspect', bank, '--block', `${block.level}:${block.node}`]);
    expect((inspected.block as { provenance: { memoryIds: string[] } }).provenance.memoryIds.length).toBeGreaterThan(0);
    const forgotten = await run(['bank', 'forget', bank, '--ids', 'm0', '--rewrite', '--model', join(dir, 'model'), '--texts', join(dir, 'texts.jsonl'), '--epochs', '1']);
    expect((forgotten.stale as unknown[]).length).toBe(2);
    const after = await run(['bank', 'inspect', bank]);
    expect(after.deleted).toBe(1);
    await expect(run(['bank', 'write', bank, '--model', join(dir, 'model'), '--texts', join(dir, 'texts.jsonl'), '--replay', 'web'])).rejects.toThrow('replay: source must be one of anchor, memories, none');
    expect((after.levels as Array<{ staleBlocks: number }>).every((l) => l.staleBlocks === 0)).toBe(true);
  }, 180_000); // trains twice with the default epochs: slow on a busy machine
});
