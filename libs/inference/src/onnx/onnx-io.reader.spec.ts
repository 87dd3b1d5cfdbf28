import { encodeOnnxModel, OnnxDataType } from './onnx-model.encoder';
import { GraphBuilder } from './graph.builder';
import { readDeclaredIo } from './onnx-io.reader';

describe('readDeclaredIo', () => {
  it('reads names, element types and shapes of the graph inputs and outputs', () => {
    const g = new GraphBuilder('io');
    g.input('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']);
    g.output('last_hidden_state', OnnxDataType.FLOAT, ['batch_size', 'sequence_length', 384]);
    const table = g.floatTensor('table', [4, 384], new Float32Array(4 * 384));
    g.op1('Gather', [table, 'input_ids'], {}, 'last_hidden_state');
    const io = readDeclaredIo(encodeOnnxModel(g.model()));
    expect(io.inputs).toEqual([{ name: 'input_ids', elemType: OnnxDataType.INT64, shape: ['batch_size', 'sequence_length'] }]);
    expect(io.outputs).toEqual([{ name: 'last_hidden_state', elemType: OnnxDataType.FLOAT, shape: ['batch_size', 'sequence_length', 384] }]);
  });

  it('throws on bytes that are not a model', () => {
    expect(() => readDeclaredIo(new TextEncoder().encode('hello world'))).toThrow();
    expect(() => readDeclaredIo(new Uint8Array())).toThrow(/no ONNX graph/);
  });
});
