// Opens a model directory as the frozen anchor the block writer trains against.
import { loadModelWeights, openModelDirectory, TextTokenizer } from '@engram/inference';
import { toParams64 } from './llama-backprop';
import type { AnchorModel } from './block-trainer';

export function loadAnchorModel(dir: string): AnchorModel {
  const directory = openModelDirectory(dir);
  const tokenizer = new TextTokenizer(directory.tokenizerJson, directory.tokenizerConfig, directory.config.eosTokenIds);
  const bos = directory.config.bosTokenId;
  return {
    config: directory.config,
    params: toParams64(loadModelWeights(directory)),
    fingerprint: directory.fingerprint,
    eosTokenIds: directory.config.eosTokenIds,
    tokenize: (text) => {
      const ids = tokenizer.encode(text);
      return bos === null ? ids : [bos, ...ids];
    },
  };
}
