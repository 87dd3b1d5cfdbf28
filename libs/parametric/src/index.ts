// Public API of @engram/parametric: hierarchical FFN memory banks (DESIGN.md §7, ADR 0301).
export { ParametricError, ParametricErrorCode } from './parametric.error';
export {
  BANK_FORMAT_VERSION,
  BlockFlag,
  blockParameters,
  computeLayout,
  crc32,
  type BankDtype,
  type BankHeader,
  type BankLayout,
  type LevelLayout,
} from './bank/bank-layout';
export { BankFile, recoverJournal, resolveInside, journalPath, type NewBankHeader, type BlockUpdate, type CommitFaults, type ReadBlockResult, type BankExpectations } from './bank/bank-file';
export { concatBlocks, splitBlocks, zeroBlock } from './bank/block.codec';
export { BlockStore, type BlockStoreOptions, type TierMetrics } from './bank/block-store';
export { Provenance, type BlockRecord } from './bank/provenance';
export { balancedKMeans, l2NormalizeInPlace, type KMeansOptions, type KMeansResult } from './tree/balanced-kmeans';
export { ClusterTree, resealTreeJson, type TextEmbedder, type TreeBuildOptions, type TreeNodeInfo } from './tree/cluster-tree';
export {
  ParametricBank,
  BANK_FILE,
  TREE_FILE,
  PROVENANCE_FILE,
  type BankText,
  type ChangedBlock,
  type BuildBankOptions,
  type OpenBankOptions,
  type WriteOptions,
  type WriteReport,
  DEFAULT_WRITE_EPOCHS,
} from './parametric-bank';
export {
  forwardBackward,
  toParams64,
  toLlamaWeights,
  zerosLike,
  paramArrays,
  type Params64,
  type Layer64,
  type Memory64,
  type BackpropOptions,
  type BackpropResult,
} from './training/llama-backprop';
export { AdamW, type AdamWOptions } from './training/adamw';
export { tinyLlamaConfig, initParams64, type TinyLlamaShape } from './training/llama-init';
export {
  trainBlocks,
  freshBlock,
  concatMemory64,
  toBlock64,
  toMemoryBlock,
  type AnchorModel,
  type TrainableBlock,
  type BlockTrainingOptions,
  type BlockTrainingResult,
} from './training/block-trainer';
export { ANCHOR_TRAIN_LENGTH_STEP, trainAnchor, trainAnchorOnnx, type AnchorTrainingOptions } from './training/anchor-trainer';
export { loadAnchorModel } from './training/anchor-model';
export { registerBankCommands, readTextsJsonl } from './cli/bank.commands';
export { buildMemoryGradientGraph, anchorWeightInputs, GRADIENT_INPUTS, GRADIENT_OUTPUTS, type MemoryGradientGraphOptions } from './training/memory-gradient.graph';
export { OnnxMemoryGradient, typescriptGradient, type MemoryGradientEngine, type GradientEngineKind } from './training/memory-gradient.engine';
export { trainBlocksWith, type LeafBatchSource } from './training/block-trainer';
export { sampleAnchorSequences, samplingStart, DEFAULT_SAMPLE_TOKENS, type AnchorSamplingOptions } from './training/anchor-replay';
export {
  anchorReplaySequences,
  checkReplaySettings,
  DEFAULT_REPLAY,
  REPLAY_SOURCES,
  REPLAY_LIMITS,
  ANCHOR_REPLAY_FILE,
  type ReplaySettings,
  type ReplaySource,
} from './write-replay';
export { verifyWrite, type WriteVerification, type VerifyOptions } from './training/write-verification';
export { memoryRoute, type RouteBlockState, type LeftOutReason, type MemoryRouteDecision } from './memory-route';
