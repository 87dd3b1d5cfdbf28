import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { EngramConfig, loadConfig } from '@engram/config';

/**
 * A config for tests: the given database, a private data dir, no migrations (the template has
 * them). `ENGRAM_TEST_INFERENCE_PROVIDER=webgpu` runs the suites' models on WebGPU (a GPU, or
 * Mesa's lavapipe: ADR 0406) instead of the CPU.
 */
export function testConfig(databaseUrl: string, overrides: Partial<EngramConfig> = {}): EngramConfig {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-test-'));
  const provider = process.env.ENGRAM_TEST_INFERENCE_PROVIDER;
  return {
    ...loadConfig({ DATABASE_URL: databaseUrl, ENGRAM_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...(provider ? { ENGRAM_INFERENCE_PROVIDER: provider } : {}) }),
    migrateOnStart: false,
    workerInProcess: false,
    adminToken: 'test-admin-token-0123456789-abcdef',
    metricsToken: null,
    jobPollIntervalMs: 50,
    // Tests generate model directories under the system temp folder.
    modelsDir: os.tmpdir(),
    // Suites choose use-lite explicitly where they test it; the rest rank with hash, as written.
    newCubeEmbedder: 'hash',
    ...overrides,
  };
}
