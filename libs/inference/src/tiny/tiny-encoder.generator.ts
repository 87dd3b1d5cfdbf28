// Writes a tiny BERT-like sentence-embedding model directory (model.onnx with
// last_hidden_state, a WordPiece tokenizer.json, config.json, sentence_bert_config.json)
// with seeded random weights, so the onnx embedder is tested without any download.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBertEncoderGraph, BertEncoderConfig, BertEncoderWeights, BertLayerWeights } from '../graph/bert-encoder.builder';
import type { Matrix } from '../model/llama-weights';
import { writeOnnxModel } from '../onnx/onnx-model.writer';
import { gaussian, mulberry32 } from './seeded-random';
import { buildWordPieceVocab, wordPieceTokenizerJson } from './wordpiece-vocab.builder';
import { writeGeneratedDirectory } from './generated-directory.writer';

/** What createTinyEncoder writes; an existing output directory may hold these and nothing else. */
const TINY_ENCODER_FILES = ['model.onnx', 'model.onnx.data', 'tokenizer.json', 'tokenizer_config.json', 'config.json', 'sentence_bert_config.json'] as const;

export interface TinyEncoderOptions {
  outDir: string;
  hidden?: number;
  heads?: number;
  layers?: number;
  intermediate?: number;
  /** Requested vocabulary size (at least WORDPIECE_BASE_SIZE); the corpus may give fewer. */
  vocab?: number;
  /** Rows of the position table = the model's max sequence length. */
  maxPositions?: number;
  /** Declare a token_type_ids input (like BERT/MiniLM exports); default true. */
  tokenTypes?: boolean;
  seed?: number;
}

export interface TinyEncoderResult {
  dir: string;
  config: BertEncoderConfig;
  vocab: readonly string[];
}

const CORPUS = `Alice lives in Paris and works as an engineer at a bakery. Bob prefers tea over coffee
in the morning. The meeting is on Monday at ten in the large room. Remember to water the
plants every Thursday. The cat sleeps on the warm sofa while the dog runs in the garden.
Memory helps an agent recall what the user said, where they live and what they prefer.
The train to London leaves at noon; the flight to Tokyo was cancelled because of snow.
zebra zoo apple banana orange pizza pasta music guitar piano football tennis doctor
hospital school teacher student book library river mountain ocean beach summer winter`;

export function createTinyEncoder(options: TinyEncoderOptions): TinyEncoderResult {
  const hidden = options.hidden ?? 32;
  const heads = options.heads ?? 4;
  const layers = options.layers ?? 2;
  const intermediate = options.intermediate ?? hidden * 2;
  const maxPositions = options.maxPositions ?? 64;
  const withTypes = options.tokenTypes ?? true;
  if (hidden % heads !== 0) throw new Error(`hidden (${hidden}) must be a multiple of heads (${heads})`);
  const vocab = buildWordPieceVocab(CORPUS, options.vocab ?? 256);
  const V = vocab.length;
  const config: BertEncoderConfig = {
    vocabSize: V,
    hiddenSize: hidden,
    numHeads: heads,
    numLayers: layers,
    intermediateSize: intermediate,
    maxPositions,
    typeVocabSize: withTypes ? 2 : 0,
    layerNormEps: 1e-12,
  };

  const normal = gaussian(mulberry32(options.seed ?? 1));
  const vector = (n: number, std: number, mean = 0): Float32Array => Float32Array.from({ length: n }, () => mean + std * normal());
  const matrix = (rows: number, cols: number, std: number): Matrix => ({ rows, cols, data: vector(rows * cols, std) });
  const norm = () => ({ weight: vector(hidden, 0.1, 1), bias: vector(hidden, 0.1) });
  const layer = (): BertLayerWeights => ({
    q: matrix(hidden, hidden, 1 / Math.sqrt(hidden)),
    k: matrix(hidden, hidden, 1 / Math.sqrt(hidden)),
    v: matrix(hidden, hidden, 1 / Math.sqrt(hidden)),
    o: matrix(hidden, hidden, 1 / Math.sqrt(hidden)),
    qBias: vector(hidden, 0.1),
    kBias: vector(hidden, 0.1),
    vBias: vector(hidden, 0.1),
    oBias: vector(hidden, 0.1),
    attnNorm: norm(),
    up: matrix(intermediate, hidden, 1 / Math.sqrt(hidden)),
    upBias: vector(intermediate, 0.1),
    down: matrix(hidden, intermediate, 1 / Math.sqrt(intermediate)),
    downBias: vector(hidden, 0.1),
    ffnNorm: norm(),
  });
  const weights: BertEncoderWeights = {
    wordEmbeddings: matrix(V, hidden, 1),
    positionEmbeddings: matrix(maxPositions, hidden, 0.3),
    tokenTypeEmbeddings: withTypes ? matrix(2, hidden, 0.3) : undefined,
    embeddingNorm: norm(),
    layers: Array.from({ length: layers }, layer),
  };
  const model = buildBertEncoderGraph(config, weights).model({ engram_tiny_encoder: 'true' });

  const hfConfig = {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: V,
    hidden_size: hidden,
    num_attention_heads: heads,
    num_hidden_layers: layers,
    intermediate_size: intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: maxPositions,
    type_vocab_size: config.typeVocabSize,
    layer_norm_eps: config.layerNormEps,
    pad_token_id: 0,
  };
  const tokenizerConfig = {
    do_lower_case: true,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
    model_max_length: maxPositions,
    tokenizer_class: 'BertTokenizer',
  };

  const out = options.outDir;
  writeGeneratedDirectory(out, TINY_ENCODER_FILES, (dir) => {
    writeOnnxModel(model, join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(vocab)));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig, null, 2));
    writeFileSync(join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: maxPositions, do_lower_case: false }, null, 2));
  });
  return { dir: out, config, vocab };
}
