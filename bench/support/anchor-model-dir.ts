// Writes an anchor the bench trained in memory (Params64 + the world's word tokenizer) as a
// model directory the inference runtime loads like any other (config.json, safetensors,
// a WordLevel tokenizer.json), so prefill, KV reuse and bank blocks run on ONNX Runtime.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type LlamaConfig, type TensorToWrite } from '@engram/inference';
import { toLlamaWeights, type Params64 } from '@engram/parametric';
import type { WordTokenizer } from './parametric-world';

export function writeAnchorModelDir(dir: string, config: LlamaConfig, params: Params64, tok: WordTokenizer, eosWord: string): void {
  mkdirSync(dir, { recursive: true });
  const w = toLlamaWeights(config, params);
  const tensors: Record<string, TensorToWrite> = {};
  const put = (name: string, data: Float32Array, shape: number[]) => (tensors[name] = { shape, data, dtype: 'F32' });
  put('model.embed_tokens.weight', w.embed.data, [w.embed.rows, w.embed.cols]);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    put(`${p}.input_layernorm.weight`, l.inputNorm, [l.inputNorm.length]);
    for (const [name, m] of [['self_attn.q_proj', l.q], ['self_attn.k_proj', l.k], ['self_attn.v_proj', l.v], ['self_attn.o_proj', l.o], ['mlp.gate_proj', l.gate], ['mlp.up_proj', l.up], ['mlp.down_proj', l.down]] as const) {
      put(`${p}.${name}.weight`, m.data, [m.rows, m.cols]);
    }
    put(`${p}.post_attention_layernorm.weight`, l.postNorm, [l.postNorm.length]);
  });
  put('model.norm.weight', w.finalNorm, [w.finalNorm.length]);
  if (w.lmHead !== w.embed) put('lm_head.weight', w.lmHead.data, [w.lmHead.rows, w.lmHead.cols]);
  const eos = tok.ids.get(eosWord)!;
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: config.vocabSize,
      hidden_size: config.hiddenSize,
      intermediate_size: config.intermediateSize,
      num_hidden_layers: config.numLayers,
      num_attention_heads: config.numHeads,
      num_key_value_heads: config.numKvHeads,
      head_dim: config.headDim,
      hidden_act: 'silu',
      rms_norm_eps: config.rmsNormEps,
      rope_theta: config.ropeTheta,
      max_position_embeddings: config.maxPositionEmbeddings,
      tie_word_embeddings: w.lmHead === w.embed,
      bos_token_id: tok.bos,
      eos_token_id: [eos],
      torch_dtype: 'float32',
    }),
  );
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const vocab = Object.fromEntries(tok.ids);
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        { id: tok.bos, content: '<bos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: tok.unk, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: null,
      pre_tokenizer: { type: 'WhitespaceSplit' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    }),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: '<bos>', eos_token: eosWord, unk_token: '<unk>', add_bos_token: false, chat_template: "{% for message in messages %}{{ message['content'] + ' ' }}{% endfor %}" }),
  );
}
