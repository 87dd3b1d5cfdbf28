// Writes a complete, small HF-style Llama/Qwen2 model directory with seeded random
// weights, so tests and benches never download anything.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, TensorToWrite } from '../safetensors/safetensors.writer';
import { trainByteLevelBpe, tokenizerJson } from './byte-level-bpe.trainer';
import { gaussian, mulberry32 } from './seeded-random';
import { writeGeneratedDirectory } from './generated-directory.writer';

export interface TinyModelOptions {
  outDir: string;
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  intermediate?: number;
  /** Total vocabulary including 256 byte symbols and 4 special tokens; minimum 260. */
  vocab?: number;
  seed?: number;
  ropeTheta?: number;
  tieEmbeddings?: boolean;
  qkvBias?: boolean;
  maxPositionEmbeddings?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
}

/** What createTinyModel writes; an existing output directory may hold these and nothing else. */
const TINY_MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'] as const;

export const SPECIAL_TOKENS = ['<s>', '</s>', '<|im_start|>', '<|im_end|>'] as const;

export const CHATML_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const CORPUS = `The quick brown fox jumps over the lazy dog. Memory is the process of storing and recalling
information. An agent remembers what the user said, where they live, and what they prefer.
Alice lives in Paris and works as an engineer. Bob prefers tea over coffee in the morning.
The meeting is on Monday at ten. Remember to water the plants every Thursday.
User: what is my name? Assistant: your name is Alice. The cache stores keys and values for
every layer of the model, so the model does not need to read the same text twice.
numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 2025 and punctuation , . ; : ! ? ( ) " '`;

export interface TinyModelResult {
  dir: string;
  config: Record<string, unknown>;
}

export function createTinyModel(options: TinyModelOptions): TinyModelResult {
  const layers = options.layers ?? 2;
  const hidden = options.hidden ?? 64;
  const heads = options.heads ?? 4;
  const kvHeads = options.kvHeads ?? heads;
  const intermediate = options.intermediate ?? hidden * 2;
  const vocab = options.vocab ?? 384;
  const seed = options.seed ?? 1;
  const tie = options.tieEmbeddings ?? false;
  const bias = options.qkvBias ?? false;
  if (hidden % heads !== 0) throw new Error(`hidden (${hidden}) must be a multiple of heads (${heads})`);
  if (heads % kvHeads !== 0) throw new Error(`heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  const headDim = hidden / heads;
  if (headDim % 2 !== 0) throw new Error(`head dimension ${headDim} must be even`);
  if (vocab < 256 + SPECIAL_TOKENS.length) throw new Error(`vocab must be at least ${256 + SPECIAL_TOKENS.length}`);

  const bpe = trainByteLevelBpe(CORPUS, vocab - 256 - SPECIAL_TOKENS.length);
  const { json: tokJson, specialIds } = tokenizerJson(bpe, SPECIAL_TOKENS);
  // The corpus may run out of merges before the requested size: the model keeps `vocab`
  // rows; the unused ids are simply never produced by the tokenizer.
  const bosId = specialIds['<s>'];
  const eosIds = [specialIds['</s>'], specialIds['<|im_end|>']];

  const config: Record<string, unknown> = {
    architectures: [bias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: bias ? 'qwen2' : 'llama',
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    hidden_act: 'silu',
    rms_norm_eps: 1e-5,
    rope_theta: options.ropeTheta ?? 10000,
    max_position_embeddings: options.maxPositionEmbeddings ?? 512,
    tie_word_embeddings: tie,
    attention_bias: false,
    bos_token_id: bosId,
    eos_token_id: eosIds,
    torch_dtype: 'float32',
  };

  const normal = gaussian(mulberry32(seed));
  const dtype = options.dtype ?? 'F32';
  const tensors: Record<string, TensorToWrite> = {};
  const rand = (name: string, shape: number[], std: number, mean = 0): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + std * normal();
    tensors[name] = { shape, data, dtype };
  };
  // Scales keep activations O(1) so logits are well spread (greedy ties are unlikely).
  rand('model.embed_tokens.weight', [vocab, hidden], 1);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    rand(`${p}.input_layernorm.weight`, [hidden], 0.1, 1);
    rand(`${p}.self_attn.q_proj.weight`, [heads * headDim, hidden], 1 / Math.sqrt(hidden));
    rand(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden], 1 / Math.sqrt(hidden));
    rand(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden], 1 / Math.sqrt(hidden));
    rand(`${p}.self_attn.o_proj.weight`, [hidden, heads * headDim], 1 / Math.sqrt(hidden));
    if (bias) {
      rand(`${p}.self_attn.q_proj.bias`, [heads * headDim], 0.1);
      rand(`${p}.self_attn.k_proj.bias`, [kvHeads * headDim], 0.1);
      rand(`${p}.self_attn.v_proj.bias`, [kvHeads * headDim], 0.1);
    }
    rand(`${p}.post_attention_layernorm.weight`, [hidden], 0.1, 1);
    rand(`${p}.mlp.gate_proj.weight`, [intermediate, hidden], 1 / Math.sqrt(hidden));
    rand(`${p}.mlp.up_proj.weight`, [intermediate, hidden], 1 / Math.sqrt(hidden));
    rand(`${p}.mlp.down_proj.weight`, [hidden, intermediate], 1 / Math.sqrt(intermediate));
  }
  rand('model.norm.weight', [hidden], 0.1, 1);
  if (!tie) rand('lm_head.weight', [vocab, hidden], 1 / Math.sqrt(hidden));

  const tokenizerConfig = {
    bos_token: '<s>',
    eos_token: '<|im_end|>',
    pad_token: '</s>',
    unk_token: null,
    add_bos_token: false,
    add_eos_token: false,
    model_max_length: config.max_position_embeddings,
    chat_template: CHATML_TEMPLATE,
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
  };

  const out = options.outDir;
  writeGeneratedDirectory(out, TINY_MODEL_FILES, (dir) => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokJson));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: bosId, eos_token_id: eosIds }, null, 2));
  });
  return { dir: out, config };
}
