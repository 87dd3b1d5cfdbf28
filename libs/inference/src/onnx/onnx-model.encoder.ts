// Encodes the subset of onnx.proto (IR v8) that engram's graph builder emits:
// ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto (raw_data or external),
// ValueInfoProto with static or symbolic (dim_param) dims, OperatorSetIdProto.
// Field numbers follow onnx/onnx.proto.
import { ProtobufWriter } from './protobuf.writer';

export enum OnnxDataType {
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  INT32 = 6,
  INT64 = 7,
  BOOL = 9,
  FLOAT16 = 10,
}

export type Dim = number | string;

export interface OnnxTensor {
  name: string;
  dataType: OnnxDataType;
  dims: readonly number[];
  /** Little-endian bytes of the tensor; absent when `external` is set. */
  rawData?: Uint8Array;
  external?: { location: string; offset: number; length: number };
}

export type OnnxAttribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: OnnxTensor }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly number[] };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: readonly OnnxAttribute[];
}

export interface OnnxValueInfo {
  name: string;
  elemType: OnnxDataType;
  shape: readonly Dim[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsetVersion: number;
  /** Opsets of other domains the nodes use (e.g. `com.microsoft`: ONNX Runtime's contrib ops). */
  domainOpsets?: Readonly<Record<string, number>>;
  producerName: string;
  graph: OnnxGraph;
  metadata?: Record<string, string>;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function writeTensor(w: ProtobufWriter, t: OnnxTensor): void {
  w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [key, value] of entries) w.message(13, (e) => e.string(1, key).string(2, value));
    w.int(14, 1); // data_location = EXTERNAL
  } else {
    w.bytes(9, t.rawData ?? new Uint8Array(0));
  }
}

function writeAttribute(w: ProtobufWriter, a: OnnxAttribute): void {
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  w.int(20, ATTRIBUTE_TYPE[a.type]);
}

function writeNode(w: ProtobufWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, (x) => writeAttribute(x, a));
  if (n.domain) w.string(7, n.domain);
}

function writeValueInfo(w: ProtobufWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  // TypeProto.tensor_type(1) { elem_type(1), shape(2) { dim(1) { dim_value(1) | dim_param(2) } } }
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function writeGraph(w: ProtobufWriter, g: OnnxGraph): void {
  for (const n of g.nodes) w.message(1, (x) => writeNode(x, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (x) => writeTensor(x, t));
  for (const v of g.inputs) w.message(11, (x) => writeValueInfo(x, v));
  for (const v of g.outputs) w.message(12, (x) => writeValueInfo(x, v));
}

export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new ProtobufWriter();
  w.int(1, model.irVersion);
  w.string(2, model.producerName);
  w.message(7, (g) => writeGraph(g, model.graph));
  w.message(8, (o) => o.string(1, '').int(2, model.opsetVersion));
  for (const [domain, version] of Object.entries(model.domainOpsets ?? {})) w.message(8, (o) => o.string(1, domain).int(2, version));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (e) => e.string(1, key).string(2, value));
  }
  return w.finish();
}
