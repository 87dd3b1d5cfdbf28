// A small imperative builder over OnnxGraph: unique value names, typed constants,
// initializers. The Llama builder (and the parametric backward builder) compose it.
import {
  Dim,
  OnnxAttribute,
  OnnxDataType,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  OnnxValueInfo,
} from './onnx-model.encoder';

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

type AttrValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

function toAttribute(name: string, value: AttrValue): OnnxAttribute {
  if (typeof value === 'string') return { name, type: 'string', value };
  if (typeof value === 'number') return { name, type: 'int', value };
  if (Array.isArray(value)) return { name, type: 'ints', value: value as readonly number[] };
  if ('float' in (value as object)) return { name, type: 'float', value: (value as { float: number }).float };
  return { name, type: 'floats', value: (value as { floats: readonly number[] }).floats };
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  private counter = 0;
  private constants = new Map<string, string>();
  /** Domains other than ONNX's own that nodes use, with their opset. */
  private readonly domains = new Map<string, number>();

  constructor(readonly name: string) {}

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, elemType: OnnxDataType, shape: readonly Dim[]): string {
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, elemType: OnnxDataType, shape: readonly Dim[]): void {
    this.outputs.push({ name, elemType, shape });
  }

  /** Adds a node; returns its output names (fresh unless given). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputs: number | string[] = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType)) : outputs;
    const attributes = Object.entries(attrs).map(([k, v]) => toAttribute(k, v));
    this.nodes.push({ opType, inputs, outputs: outs, attributes, name: `${opType}_${this.nodes.length}` });
    return outs;
  }

  /**
   * A node of ONNX Runtime's contrib domain (`com.microsoft`, opset 1); returns its output
   * names (fresh unless given). An empty input name skips an optional input.
   */
  contrib(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputs: number | string[] = 1): string[] {
    const outs = this.op(opType, inputs, attrs, outputs);
    (this.nodes[this.nodes.length - 1] as { domain?: string }).domain = 'com.microsoft';
    this.domains.set('com.microsoft', 1);
    return outs;
  }

  /** Single-output shorthand of `contrib`. */
  contrib1(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.contrib(opType, inputs, attrs, out ? [out] : 1)[0];
  }

  /** Single-output shorthand; `out` names the result explicitly (e.g. a graph output). */
  op1(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.op(opType, inputs, attrs, out ? [out] : 1)[0];
  }

  initializer(name: string, dataType: OnnxDataType, dims: readonly number[], data: ArrayBufferView): string {
    this.initializers.push({ name, dataType, dims, rawData: bytesOf(data) });
    return name;
  }

  floatTensor(name: string, dims: readonly number[], data: Float32Array): string {
    return this.initializer(name, OnnxDataType.FLOAT, dims, data);
  }

  /** Deduplicated int64 constant (1-D unless `scalar`). */
  int64(values: readonly number[], scalar = false): string {
    const key = `i64:${scalar}:${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh('const_i64');
    this.initializer(name, OnnxDataType.INT64, scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt)));
    this.constants.set(key, name);
    return name;
  }

  float(value: number): string {
    const key = `f32:${value}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh('const_f32');
    this.initializer(name, OnnxDataType.FLOAT, [], Float32Array.of(value));
    this.constants.set(key, name);
    return name;
  }

  graph(): OnnxGraph {
    return { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs };
  }

  model(metadata?: Record<string, string>): OnnxModel {
    const domainOpsets = this.domains.size ? Object.fromEntries(this.domains) : undefined;
    return { irVersion: IR_VERSION, opsetVersion: OPSET_VERSION, ...(domainOpsets ? { domainOpsets } : {}), producerName: 'engram', graph: this.graph(), metadata };
  }
}
