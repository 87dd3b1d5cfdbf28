// config.json of a Llama-family checkpoint (Llama, SmolLM, Qwen2), normalised and checked.
import { InferenceError, InferenceErrorCode } from '../inference.error';

export interface RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface LlamaConfig {
  architecture: string;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

const SUPPORTED = new Set(['llama', 'qwen2', 'mistral', 'smollm3']);

export function parseLlamaConfig(raw: Record<string, unknown>, source = 'config.json'): LlamaConfig {
  const bad = (msg: string): never => {
    throw new InferenceError(InferenceErrorCode.ModelInvalid, `${source}: ${msg}`);
  };
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return bad(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return bad(`"${key}" must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const modelType = String(raw.model_type ?? '');
  if (!SUPPORTED.has(modelType)) bad(`model_type "${modelType}" is not a supported Llama-family model (${[...SUPPORTED].join(', ')})`);
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') bad(`hidden_act "${String(act)}" is not supported (silu only)`);
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) bad(`num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`);
  const headDim = raw.head_dim == null ? hiddenSize / numHeads : int('head_dim');
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) bad(`head dimension ${headDim} must be an even integer`);
  // Sliding-window attention (Mistral, Qwen2 with use_sliding_window) equals full
  // attention while the sequence fits the window: cap the context there instead of
  // silently computing something else beyond it.
  let maxPositionEmbeddings = int('max_position_embeddings', 2048);
  const window = raw.sliding_window;
  const windowed = modelType === 'mistral' ? typeof window === 'number' : raw.use_sliding_window === true;
  if (windowed && typeof window === 'number' && window > 0) maxPositionEmbeddings = Math.min(maxPositionEmbeddings, window);
  const eos = raw.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? [eos] : [];
  return {
    architecture: String((raw.architectures as string[] | undefined)?.[0] ?? 'LlamaForCausalLM'),
    modelType,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: parseRopeScaling(raw.rope_scaling, bad),
    maxPositionEmbeddings,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    eosTokenIds,
  };
}

function parseRopeScaling(raw: unknown, bad: (msg: string) => never): RopeScaling | null {
  if (raw == null) return null;
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  if (type === 'default') return null;
  if (type !== 'llama3') return bad(`rope_scaling type ${JSON.stringify(type)} is not supported (llama3 only)`);
  return {
    type: 'llama3',
    factor: Number(r.factor),
    lowFreqFactor: Number(r.low_freq_factor),
    highFreqFactor: Number(r.high_freq_factor),
    originalMaxPositionEmbeddings: Number(r.original_max_position_embeddings),
  };
}

/** Inverse RoPE frequencies (HF `rotate_half` convention), with llama3 scaling when configured. */
export function ropeInverseFrequencies(config: LlamaConfig): Float64Array {
  const half = config.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / config.ropeTheta ** ((2 * i) / config.headDim);
  const s = config.ropeScaling;
  if (!s) return inv;
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen < highWavelen) continue;
    if (wavelen > lowWavelen) {
      inv[i] /= s.factor;
    } else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
  return inv;
}

/** cos/sin tables [positions, headDim] (the two halves repeated), computed in float32 like HF. */
export function ropeTables(config: LlamaConfig, positions: number): { cos: Float32Array; sin: Float32Array } {
  const inv = Float32Array.from(ropeInverseFrequencies(config));
  const d = config.headDim;
  const half = d / 2;
  const cos = new Float32Array(positions * d);
  const sin = new Float32Array(positions * d);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * inv[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * d + i] = c;
      cos[p * d + i + half] = c;
      sin[p * d + i] = s;
      sin[p * d + i + half] = s;
    }
  }
  return { cos, sin };
}
