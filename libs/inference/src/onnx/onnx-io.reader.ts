// Reads the declared graph inputs and outputs (names, element types, shapes) of an ONNX
// ModelProto without a protobuf library or a session: callers that must know a model's
// dimensions synchronously (an embedder's `dimension`) read them from the file here.
import { OnnxDataType, type Dim } from './onnx-model.encoder';

export interface DeclaredValue {
  name: string;
  elemType: OnnxDataType | 0;
  shape: Dim[] | null;
}

export interface DeclaredIo {
  inputs: DeclaredValue[];
  outputs: DeclaredValue[];
}

class ProtobufReader {
  pos: number;

  constructor(private readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale; // Number arithmetic: exact up to 2^53, enough for sizes and dims
      if (b < 0x80) return result;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('varint too long');
    }
  }

  /** Iterates the fields of the message between pos and end. */
  *fields(): Generator<{ field: number; wire: number; reader?: ProtobufReader; value?: number }> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      switch (wire) {
        case 0:
          yield { field, wire, value: this.varint() };
          break;
        case 1:
          this.skip(8);
          break;
        case 5:
          this.skip(4);
          break;
        case 2: {
          const len = this.varint();
          const start = this.pos;
          this.skip(len);
          yield { field, wire, reader: new ProtobufReader(this.buf, start, start + len) };
          break;
        }
        default:
          throw new Error(`unsupported wire type ${wire}`);
      }
    }
  }

  text(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, this.end - this.pos).toString('utf8');
  }

  private skip(n: number): void {
    if (this.pos + n > this.end) throw new Error('truncated field');
    this.pos += n;
  }
}

function readValueInfo(r: ProtobufReader): DeclaredValue {
  const value: DeclaredValue = { name: '', elemType: 0, shape: null };
  for (const f of r.fields()) {
    if (f.field === 1 && f.reader) value.name = f.reader.text();
    if (f.field !== 2 || !f.reader) continue;
    // TypeProto.tensor_type(1) { elem_type(1), shape(2) { dim(1) { dim_value(1) | dim_param(2) } } }
    for (const t of f.reader.fields()) {
      if (t.field !== 1 || !t.reader) continue;
      for (const tt of t.reader.fields()) {
        if (tt.field === 1 && tt.value !== undefined) value.elemType = tt.value as OnnxDataType;
        if (tt.field !== 2 || !tt.reader) continue;
        value.shape = [];
        for (const d of tt.reader.fields()) {
          if (d.field !== 1 || !d.reader) continue;
          let dim: Dim = '?';
          for (const x of d.reader.fields()) {
            if (x.field === 1 && x.value !== undefined) dim = x.value;
            if (x.field === 2 && x.reader) dim = x.reader.text();
          }
          value.shape.push(dim);
        }
      }
    }
  }
  return value;
}

/** The graph's declared inputs (less initializers listed as inputs) and outputs. Throws on bytes that are not an ONNX model. */
export function readDeclaredIo(bytes: Uint8Array): DeclaredIo {
  const io: DeclaredIo = { inputs: [], outputs: [] };
  let sawGraph = false;
  const initializers = new Set<string>();
  for (const f of new ProtobufReader(bytes).fields()) {
    if (f.field !== 7 || !f.reader) continue; // ModelProto.graph
    sawGraph = true;
    for (const g of f.reader.fields()) {
      if (g.field === 11 && g.reader) io.inputs.push(readValueInfo(g.reader));
      if (g.field === 12 && g.reader) io.outputs.push(readValueInfo(g.reader));
      if (g.field === 5 && g.reader) {
        for (const t of g.reader.fields()) if (t.field === 8 && t.reader) initializers.add(t.reader.text()); // TensorProto.name
      }
    }
  }
  if (!sawGraph || io.outputs.length === 0) throw new Error('no ONNX graph with outputs found');
  io.inputs = io.inputs.filter((i) => !initializers.has(i.name));
  return io;
}
