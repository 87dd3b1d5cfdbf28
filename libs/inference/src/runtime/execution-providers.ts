// Device → ONNX Runtime execution provider, and a preflight that turns a missing CUDA
// provider library into a clear error instead of ORT's loader trace.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InferenceError, InferenceErrorCode } from '../inference.error';

export type ExecutionProvider = 'cpu' | 'cuda';

export const EXECUTION_PROVIDERS: Readonly<Record<ExecutionProvider, readonly string[]>> = Object.freeze({
  cpu: Object.freeze(['cpu']),
  cuda: Object.freeze(['cuda', 'cpu']),
});

export function ortBinaryDir(): string {
  const main = require.resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export function assertProviderAvailable(provider: ExecutionProvider, binaryDir = ortBinaryDir()): void {
  if (provider === 'cpu') return;
  const needed = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
  const missing = needed.filter((f) => !existsSync(join(binaryDir, f)));
  if (missing.length > 0) {
    throw new InferenceError(
      InferenceErrorCode.ProviderUnavailable,
      `execution provider "cuda" is unavailable: ${missing.join(', ')} not found in ${binaryDir}. ` +
        'Install the onnxruntime-node CUDA binaries (install flag --onnxruntime-node-install=cuda12) with CUDA 12 and cuDNN 9, or use provider "cpu".',
    );
  }
}
