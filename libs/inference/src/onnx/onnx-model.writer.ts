// Writes an OnnxModel to disk, moving large initializers to an external data file when
// the model would exceed protobuf's 2 GiB limit (or when asked), atomically.
import { basename } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { encodeOnnxModel, OnnxModel, OnnxTensor } from './onnx-model.encoder';

export interface WriteOnnxOptions {
  /** Initializers of at least this many bytes go to `<file>.data` when externalising. */
  externalMinBytes?: number;
  /** Force external data (default: only when initializers exceed ~1.8 GiB). */
  external?: boolean;
}

export function writeOnnxModel(model: OnnxModel, path: string, options: WriteOnnxOptions = {}): { dataFile?: string } {
  const total = model.graph.initializers.reduce((a, t) => a + (t.rawData?.length ?? 0), 0);
  const external = options.external ?? total > 1.8 * 1024 ** 3;
  if (!external) {
    writeFileAtomic(path, [encodeOnnxModel(model)]);
    return {};
  }
  const minBytes = options.externalMinBytes ?? 1024;
  const dataFile = `${path}.data`;
  const location = basename(dataFile);
  const parts: Uint8Array[] = [];
  let offset = 0;
  const initializers: OnnxTensor[] = model.graph.initializers.map((t) => {
    if (!t.rawData || t.rawData.length < minBytes) return t;
    const pad = (64 - (offset % 64)) % 64; // keep tensors aligned for mmap
    if (pad) parts.push(new Uint8Array(pad));
    offset += pad;
    parts.push(t.rawData);
    const ext = { location, offset, length: t.rawData.length };
    offset += t.rawData.length;
    return { name: t.name, dataType: t.dataType, dims: t.dims, external: ext };
  });
  writeFileAtomic(dataFile, parts);
  writeFileAtomic(path, [encodeOnnxModel({ ...model, graph: { ...model.graph, initializers } })]);
  return { dataFile };
}
