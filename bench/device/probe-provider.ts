// Exit 0 when an execution provider loads and runs a tiny model here, else print why and
// exit 1. bench/device/run.sh picks the provider of the machine with it.
//   node dist/bench/device/probe-provider.js webgpu|cuda|cpu
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel, EXECUTION_PROVIDER_NAMES, loadLanguageModel, OnnxSessionRegistry } from '@engram/inference';

async function main(): Promise<number> {
  const provider = EXECUTION_PROVIDER_NAMES.find((p) => p === process.argv[2]);
  if (!provider) {
    console.error(`usage: probe-provider ${EXECUTION_PROVIDER_NAMES.join('|')}`);
    return 2;
  }
  const root = mkdtempSync(join(tmpdir(), 'engram-probe-'));
  const registry = new OnnxSessionRegistry();
  try {
    createTinyModel({ outDir: join(root, 'm'), layers: 1, hidden: 16, heads: 2, vocab: 280 });
    const model = await loadLanguageModel(join(root, 'm'), registry, { provider });
    const out = await model.prefill([5, 6, 7]);
    const step = await model.step({ inputIds: [8], past: out.present });
    console.log(`${provider}: ok (decode KV in ${step.present.location})`);
    step.present.dispose();
    return 0;
  } catch (err) {
    console.log(`${provider}: unavailable: ${(err as Error).message}`);
    return 1;
  } finally {
    await registry.disposeAll();
    rmSync(root, { recursive: true, force: true });
  }
}

void main().then((code) => process.exit(code));
