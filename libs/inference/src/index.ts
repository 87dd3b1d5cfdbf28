// Public API of @engram/inference: the only library that imports onnxruntime-node.
export { InferenceError, InferenceErrorCode } from './inference.error';
export { SafetensorsFile, SafetensorsError, type TensorInfo, type SafetensorsDtype } from './safetensors/safetensors.reader';
export { serializeSafetensors, writeSafetensors, type TensorToWrite } from './safetensors/safetensors.writer';
export { encodeOnnxModel, OnnxDataType, type OnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx/onnx-model.encoder';
export { GraphBuilder, OPSET_VERSION } from './onnx/graph.builder';
export { writeOnnxModel } from './onnx/onnx-model.writer';
export { writeFileAtomic } from './util/atomic-file';
export { floatToHalf, halfToFloat } from './safetensors/float16';
export { parseLlamaConfig, ropeTables, type LlamaConfig } from './model/model-config';
export { type LlamaWeights, type LlamaLayerWeights, type Matrix } from './model/llama-weights';
export { openModelDirectory, loadModelWeights, type ModelDirectory, type ModelFormat } from './model/model-directory';
export {
  buildLlamaGraph,
  DEFAULT_MEMORY_SLOTS,
  LLAMA_GRAPH_REVISION,
  pastKeyName,
  pastValueName,
  presentKeyName,
  presentValueName,
  PAST_POSITION_IDS,
  PROBE_KEY,
  PROBE_VALUE,
  type LlamaGraphOptions,
} from './graph/llama-graph.builder';
export { referenceForward, type ReferenceInput, type ReferenceOutput, type ReferenceKv, type ReferenceMemory } from './reference/llama.reference';
export { createTinyModel, CHATML_TEMPLATE, type TinyModelOptions } from './tiny/tiny-model.generator';
export { mulberry32, gaussian } from './tiny/seeded-random';
export { createTinyEncoder, type TinyEncoderOptions, type TinyEncoderResult } from './tiny/tiny-encoder.generator';
export { buildBertEncoderGraph, type BertEncoderConfig, type BertEncoderWeights, type BertLayerWeights } from './graph/bert-encoder.builder';
export { readDeclaredIo, type DeclaredIo, type DeclaredValue } from './onnx/onnx-io.reader';
export { OnnxSentenceEmbedder, meanPoolNormalized, type OnnxEmbedderOptions, type EmbeddingPooling } from './embedding/onnx-sentence.embedder';
export { UseLiteEmbedder, USE_LITE_DIMENSION, type UseLiteEmbedderOptions } from './embedding/use-lite.embedder';
export { SentencePieceTokenizer, type SentencePieceVocabulary } from './embedding/use-lite/sentencepiece.tokenizer';
export { buildUseLiteEncoderGraph, USE_LITE_GRAPH_REVISION } from './graph/use-lite-encoder.builder';
export { type ExecutionProvider, EXECUTION_PROVIDER_NAMES, EMPTY_MEMORY_RANK, assertProviderAvailable } from './runtime/execution-providers';
export { OnnxSessionRegistry, DecoderSession, DeviceValue, type Feed, type SessionOptions, type ModelSource, type IoSpec } from './runtime/onnx-session.registry';
export { type HostTensor, floatTensor, int64Tensor } from './runtime/tensor';
export { type KvState, type KvLayer, emptyKv, kvBytes, sliceKv, concatKv } from './runtime/kv-state';
export { memoryFeeds, memoryInputName, memoryBlocks, memoryRank, concatMemoryBlocks, type MemoryBlock, type AttachedMemory, type MemoryPart } from './runtime/memory-feeds';
export { LanguageModel, loadLanguageModel, type ForwardInput, type ForwardOutput, type LoadModelOptions, type ProbeOutput, type StepOutput } from './runtime/language-model';
export { ResidentKv } from './runtime/resident-kv';
export { rerotateKv } from './blend/rerotate';
export { blendPrefill, recomputeCount, DEFAULT_SELECT_LAYER, type BlendSegment, type BlendOptions, type BlendResult } from './blend/kv-blend';
export { ModelHost } from './runtime/model-host';
export { TextTokenizer, type ChatMessage } from './tokenizer/text-tokenizer';
export { Sampler, argmax, type SamplingOptions } from './generation/sampler';
export { JsonSchemaConstraint, vocabularyOf, type TokenConstraint, type Vocabulary } from './generation/json-constraint';
export { buildVocabTrie, type VocabTrie } from './generation/vocab-trie';
export { compileSchema, SchemaError, type SchemaNode, unsupportedKeywords } from './generation/json-schema.grammar';
export { generate, generateChat, generateFrom, type GenerateOptions, type GenerateResult, type TokenEvent, type FinishReason } from './generation/generate';
export { registerModelCommands } from './cli/model.commands';
