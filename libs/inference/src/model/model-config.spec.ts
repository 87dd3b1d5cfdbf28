import { InferenceErrorCode } from '../inference.error';
import { parseLlamaConfig, ropeInverseFrequencies } from './model-config';

const base = {
  model_type: 'llama', vocab_size: 100, hidden_size: 64, intermediate_size: 128,
  num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 8192,
};

describe('parseLlamaConfig', () => {
  it('fills HF defaults (kv heads = heads, head_dim = hidden / heads, single eos id)', () => {
    const c = parseLlamaConfig({ ...base, eos_token_id: 2 });
    expect(c).toMatchObject({ numKvHeads: 4, headDim: 16, ropeTheta: 10000, eosTokenIds: [2], tieWordEmbeddings: false });
  });

  it.each([
    ['an unsupported architecture', { model_type: 'gpt2' }, /model_type "gpt2" is not a supported/],
    ['heads not divisible by kv heads', { num_key_value_heads: 3 }, /not a multiple of num_key_value_heads/],
    ['another activation', { hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    ['a non-integer size', { hidden_size: 'big' }, /"hidden_size" must be a positive integer/],
    ['an unknown rope scaling', { rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_scaling type "yarn" is not supported/],
  ])('rejects %s, naming the field', (_label, patch, message) => {
    expect(() => parseLlamaConfig({ ...base, ...patch })).toThrow(expect.objectContaining({ code: InferenceErrorCode.ModelInvalid, message: expect.stringMatching(message) }));
  });

  it('caps the context at the sliding window where one is in use', () => {
    expect(parseLlamaConfig({ ...base, model_type: 'mistral', sliding_window: 4096 }).maxPositionEmbeddings).toBe(4096);
    expect(parseLlamaConfig({ ...base, model_type: 'qwen2', sliding_window: 4096, use_sliding_window: false }).maxPositionEmbeddings).toBe(8192);
    expect(parseLlamaConfig({ ...base, model_type: 'qwen2', sliding_window: 4096, use_sliding_window: true }).maxPositionEmbeddings).toBe(4096);
  });

  it('applies llama3 RoPE scaling: high frequencies kept, low frequencies divided by the factor', () => {
    const plain = ropeInverseFrequencies(parseLlamaConfig({ ...base, rope_theta: 500000 }));
    const scaled = ropeInverseFrequencies(parseLlamaConfig({
      ...base, rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    }));
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[scaled.length - 1]).toBeCloseTo(plain[plain.length - 1] / 8, 12);
  });
});
