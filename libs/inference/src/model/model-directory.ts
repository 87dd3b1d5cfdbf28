// A model directory on disk: config.json, *.safetensors (single or sharded),
// tokenizer.json, tokenizer_config.json; or an HF/optimum ONNX export (model.onnx).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError, InferenceErrorCode } from '../inference.error';
import { SafetensorsFile } from '../safetensors/safetensors.reader';
import { LlamaConfig, parseLlamaConfig } from './model-config';
import { loadLlamaWeights, LlamaWeights, shardedSource } from './llama-weights';

export type ModelFormat = 'safetensors' | 'onnx';

export interface ModelDirectory {
  dir: string;
  format: ModelFormat;
  config: LlamaConfig;
  rawConfig: Record<string, unknown>;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Weight files (safetensors shards, or the ONNX graph first [+ its external data]). */
  weightFiles: string[];
  /** sha256 over config + weights + tokenizer; identifies derived data (KV caches, banks). */
  fingerprint: string;
}

function readJson(dir: string, name: string): Record<string, unknown> {
  const path = join(dir, name);
  if (!existsSync(path)) throw new InferenceError(InferenceErrorCode.ModelInvalid, `model directory ${dir}: missing ${name}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InferenceError(InferenceErrorCode.ModelInvalid, `model directory ${dir}: ${name} is not valid JSON (${(err as Error).message})`);
  }
}

function hashFile(hash: ReturnType<typeof createHash>, path: string): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(8 * 1024 * 1024);
  try {
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

function safetensorsFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = (readJson(dir, 'model.safetensors.index.json').weight_map ?? {}) as Record<string, string>;
    const files = [...new Set(Object.values(map))].sort().map((f) => join(dir, f));
    for (const f of files) if (!existsSync(f)) throw new InferenceError(InferenceErrorCode.ModelInvalid, `model directory ${dir}: missing shard ${f}`);
    return files;
  }
  const single = join(dir, 'model.safetensors');
  return existsSync(single) ? [single] : [];
}

export function openModelDirectory(dir: string): ModelDirectory {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InferenceError(InferenceErrorCode.ModelNotFound, `model directory ${dir} does not exist`);
  }
  const rawConfig = readJson(dir, 'config.json');
  const config = parseLlamaConfig(rawConfig, join(dir, 'config.json'));
  const tokenizerJson = readJson(dir, 'tokenizer.json');
  const tokenizerConfig = readJson(dir, 'tokenizer_config.json');
  let format: ModelFormat;
  let weightFiles = safetensorsFiles(dir);
  if (weightFiles.length > 0) {
    format = 'safetensors';
  } else {
    // optimum puts model.onnx at the root; transformers.js layouts under onnx/.
    const onnxPath = [join(dir, 'model.onnx'), join(dir, 'onnx', 'model.onnx')].find((f) => existsSync(f));
    if (!onnxPath) throw new InferenceError(InferenceErrorCode.ModelInvalid, `model directory ${dir}: no model.safetensors, sharded index, model.onnx or onnx/model.onnx`);
    format = 'onnx';
    weightFiles = [onnxPath, `${onnxPath}_data`, `${onnxPath}.data`].filter((f) => existsSync(f));
  }
  return { dir, format, config, rawConfig, tokenizerJson, tokenizerConfig, weightFiles, fingerprint: fingerprintOf(rawConfig, weightFiles, tokenizerJson) };
}

// Hashing multi-GB weights on every open would dominate load time: weight digests are
// memoized per file identity (path, size, mtime, inode).
const weightDigests = new Map<string, string>();

function weightDigest(path: string): string {
  const st = statSync(path);
  const id = `${path}|${st.size}|${st.mtimeMs}|${st.ino}`;
  let digest = weightDigests.get(id);
  if (!digest) {
    const h = createHash('sha256');
    hashFile(h, path);
    digest = h.digest('hex');
    weightDigests.set(id, digest);
  }
  return digest;
}

function fingerprintOf(rawConfig: Record<string, unknown>, weightFiles: readonly string[], tokenizerJson: Record<string, unknown>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(rawConfig));
  for (const f of weightFiles) hash.update(weightDigest(f));
  hash.update(JSON.stringify(tokenizerJson));
  return hash.digest('hex');
}

/** Loads and validates the weights of a safetensors model directory (float32 in memory). */
export function loadModelWeights(model: ModelDirectory): LlamaWeights {
  if (model.format !== 'safetensors') {
    throw new InferenceError(InferenceErrorCode.ModelInvalid, `model directory ${model.dir} holds an ONNX export, not safetensors weights`);
  }
  const files = model.weightFiles.map((f) => {
    try {
      return SafetensorsFile.open(f);
    } catch (err) {
      throw new InferenceError(InferenceErrorCode.ModelInvalid, (err as Error).message, { cause: err });
    }
  });
  try {
    return loadLlamaWeights(model.config, shardedSource(files));
  } finally {
    for (const f of files) f.close();
  }
}
