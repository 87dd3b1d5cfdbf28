import * as ort from 'onnxruntime-node';
import { GraphBuilder } from './graph.builder';
import { encodeOnnxModel, OnnxDataType } from './onnx-model.encoder';
import { ProtobufWriter } from './protobuf.writer';

describe('ProtobufWriter', () => {
  it('encodes varints, including negative int64 as ten bytes', () => {
    expect(Array.from(new ProtobufWriter().varint(300).finish())).toEqual([0xac, 0x02]);
    expect(new ProtobufWriter().varint(-1).finish().length).toBe(10);
  });

  it('encodes a length-delimited nested message', () => {
    const bytes = new ProtobufWriter().message(2, (w) => w.int(1, 150)).finish();
    expect(Array.from(bytes)).toEqual([0x12, 0x03, 0x08, 0x96, 0x01]);
  });
});

describe('encodeOnnxModel', () => {
  it('produces a model that ONNX Runtime loads and runs with dynamic dims', async () => {
    const g = new GraphBuilder('probe');
    g.input('x', OnnxDataType.FLOAT, ['batch', 'n']);
    g.input('w', OnnxDataType.FLOAT, ['n', 'r']);
    g.output('y', OnnxDataType.FLOAT, ['batch', 'r']);
    g.output('s', OnnxDataType.FLOAT, ['batch', 'n']);
    g.op1('MatMul', ['x', 'w'], {}, 'y');
    const two = g.floatTensor('two', [], Float32Array.of(2));
    const axes = g.int64([0]);
    const sq = g.op1('Unsqueeze', [two, axes]);
    g.op1('Mul', ['x', sq], {}, 's');
    const session = await ort.InferenceSession.create(encodeOnnxModel(g.model()));
    const x = new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [2, 2]);
    const w = new ort.Tensor('float32', Float32Array.of(1, 0, 0, 1), [2, 2]);
    const out = await session.run({ x, w });
    expect(Array.from(out.y.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(out.s.data as Float32Array)).toEqual([2, 4, 6, 8]);
    // R = 0: an empty inner dimension must give an empty (not failing) result.
    const empty = await session.run({ x, w: new ort.Tensor('float32', new Float32Array(0), [2, 0]) });
    expect(empty.y.dims).toEqual([2, 0]);
    await session.release();
  });
});
