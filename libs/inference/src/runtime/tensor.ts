// Runtime-neutral tensors: what callers (activation, parametric, server) hand to and get
// from a session, so that onnxruntime-node stays inside this library.
export type TensorData = Float32Array | BigInt64Array;

export interface HostTensor {
  type: 'float32' | 'int64';
  data: TensorData;
  dims: readonly number[];
}

export const floatTensor = (data: Float32Array, dims: readonly number[]): HostTensor => ({ type: 'float32', data, dims });
export const int64Tensor = (values: ArrayLike<number> | BigInt64Array, dims: readonly number[]): HostTensor => ({
  type: 'int64',
  data: values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v))),
  dims,
});
