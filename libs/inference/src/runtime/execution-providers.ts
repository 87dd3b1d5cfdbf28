// Device → ONNX Runtime execution provider, and preflights that turn a missing provider
// into a clear error instead of ORT's loader trace: the CUDA provider libraries (files
// next to the binding), and a WebGPU adapter (Dawn over Vulkan on Linux).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_MEMORY_SLOTS } from '../graph/llama-graph.builder';
import { InferenceError, InferenceErrorCode } from '../inference.error';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export const EXECUTION_PROVIDER_NAMES: readonly ExecutionProvider[] = Object.freeze(['cpu', 'cuda', 'webgpu'] as const);

export const EXECUTION_PROVIDERS: Readonly<Record<ExecutionProvider, readonly string[]>> = Object.freeze({
  cpu: Object.freeze(['cpu']),
  cuda: Object.freeze(['cuda', 'cpu']),
  // Nodes WebGPU has no kernel for fall back to the CPU provider.
  webgpu: Object.freeze(['webgpu', 'cpu']),
});

/**
 * Where a session puts its KV outputs: on a GPU provider they stay in device memory
 * ('gpu-buffer') and are fed back as the next step's past without a copy; the CPU
 * provider answers with host tensors.
 */
export const OUTPUT_LOCATION: Readonly<Record<ExecutionProvider, 'cpu' | 'gpu-buffer'>> = Object.freeze({
  cpu: 'cpu',
  cuda: 'cpu', // the Node binding binds device outputs for WebGPU only
  webgpu: 'gpu-buffer',
});

/** The outputs a decoder feeds back to itself (`present.{layer}.key|value`, engram graphs and HF exports alike). */
const DEVICE_OUTPUT = /^present\./;

/**
 * Per-output locations for a session on `provider`: KV outputs where OUTPUT_LOCATION puts
 * them, every other output (the logits) on the host. onnxruntime-node 1.30 cannot read a
 * gpu-buffer tensor back (Tensor.getData() aborts the process: the binding throws a C
 * string across N-API), so what the caller reads must come out of the run on the host.
 */
export function outputLocations(provider: ExecutionProvider, outputNames: readonly string[]): 'cpu' | Record<string, 'cpu' | 'gpu-buffer'> {
  const device = OUTPUT_LOCATION[provider];
  if (device === 'cpu' || outputNames.length === 0) return 'cpu'; // names unknown: everything on the host, still correct
  return Object.fromEntries(outputNames.map((n) => [n, DEVICE_OUTPUT.test(n) ? device : 'cpu']));
}

/**
 * The rank an empty memory slot is fed with. WebGPU's MatMul kernels crash the process
 * (a segmentation fault in ORT 1.30's WebGPU provider) on a zero-sized operand, so there an
 * empty slot is one neuron of zeros, which adds exactly nothing (silu(0)·0 = 0, then a zero
 * down-projection); elsewhere it is R = 0.
 */
/**
 * Memory slots of the graph engram builds for a provider. On the CPU one per bank level
 * (DEFAULT_MEMORY_SLOTS), so a routed path's blocks are fed as views of the fetched blocks,
 * without a copy. On WebGPU each slot is seven kernel dispatches per layer (three MatMuls,
 * SiLU, a product, a sum, ~25 µs of host work each) while the blocks are copied to the
 * device anyway: one slot, the path's blocks concatenated once per request, costs less.
 */
export const MEMORY_SLOTS: Readonly<Record<ExecutionProvider, number>> = Object.freeze({ cpu: DEFAULT_MEMORY_SLOTS, cuda: DEFAULT_MEMORY_SLOTS, webgpu: 1 });

/**
 * Attention as one ONNX Runtime `GroupQueryAttention` node per layer (ADR 0407) where the
 * provider runs it in float32: the CPU and WebGPU do; CUDA keeps the standard-op form,
 * which runs on every provider (its GroupQueryAttention kernel is for half precision, and
 * no CUDA machine here could show otherwise). `LoadModelOptions.attention` overrides it.
 */
export const FUSED_ATTENTION: Readonly<Record<ExecutionProvider, boolean>> = Object.freeze({ cpu: true, cuda: false, webgpu: true });

export const EMPTY_MEMORY_RANK: Readonly<Record<ExecutionProvider, 0 | 1>> = Object.freeze({ cpu: 0, cuda: 0, webgpu: 1 });

export function ortBinaryDir(): string {
  const main = require.resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export function assertProviderAvailable(provider: ExecutionProvider, binaryDir = ortBinaryDir()): void {
  if (provider !== 'cuda') return; // webgpu is probed with a session (webgpuUnavailable)
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

/** The error for a failed WebGPU probe (ORT's message kept as the detail). */
export function webgpuUnavailable(cause: unknown): InferenceError {
  const detail = (cause as Error)?.message?.split('\n')[0]?.replace(/^.*?(Failed to get a WebGPU adapter)/, '$1') ?? String(cause);
  return new InferenceError(
    InferenceErrorCode.ProviderUnavailable,
    `execution provider "webgpu" is unavailable: no WebGPU adapter was found (${detail.trim()}). ` +
      'On Linux, WebGPU runs on Vulkan: install the Vulkan loader (libvulkan1) and the GPU driver\'s Vulkan ICD, or use provider "cpu".',
    { cause },
  );
}
