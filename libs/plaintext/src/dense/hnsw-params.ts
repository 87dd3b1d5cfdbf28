// The parameters of an int8 HNSW graph, its search hits, and its arrays as a snapshot holds them.

export interface HnswParams {
  /** Graph degree above level 0 (level 0 keeps 2·m). 16 is the usual sweet spot for 256-d vectors. */
  readonly m: number;
  readonly efConstruction: number;
  /** Beam width at query time (raised to the number of neighbours asked for). */
  readonly efSearch: number;
  readonly seed: number;
}

export const DEFAULT_HNSW_PARAMS: HnswParams = { m: 16, efConstruction: 40, efSearch: 64, seed: 100 };

export interface GraphHit {
  readonly slot: number;
  readonly similarity: number;
}

/** The arrays of a graph, as a snapshot holds them (see int8-hnsw.codec.ts). */
export interface GraphArrays {
  readonly links0: Int32Array;
  readonly upperAt: Int32Array;
  readonly upper: Int32Array;
  readonly upperUsed: number;
  readonly level: Uint8Array;
  readonly state: Uint8Array;
  readonly entry: number;
  readonly maxLevel: number;
  readonly rng: number;
}
