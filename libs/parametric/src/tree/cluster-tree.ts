// The bank's tree: p levels of balanced k-means over L2-normalised text embeddings.
// A node at level l is addressed by its index in [0, k^l): child c of node i is i·k + c,
// the same addressing as the bank file's slots. The tree stores every existing node's
// centroid and every text's leaf; it is saved as a JSON sidecar next to the bank, with the
// sha256 of its own JSON, so that damage that still parses (a flipped bit in a base64
// centroid) is refused instead of routing conversations to other blocks.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ParametricError, ParametricErrorCode } from '../parametric.error';
import { writeFileAtomic } from '../bank/atomic-file';
import { balancedKMeans, l2NormalizeInPlace } from './balanced-kmeans';

/** What routing needs from an embedder (structurally satisfied by @engram/plaintext's embedders). */
export interface TextEmbedder {
  readonly fingerprint: string;
  embed(texts: string[]): Promise<Float32Array[]>;
}

export interface TreeBuildOptions {
  levels: number;
  branching: number;
  seed?: number;
  maxShare?: number;
}

export interface TreeNodeInfo {
  level: number;
  index: number;
  count: number;
}

interface TreeJson {
  format: 'engram-bank-tree';
  embedderFingerprint: string;
  levels: number;
  branching: number;
  seed: number;
  dimension: number;
  nodes: Array<{ level: number; index: number; count: number; centroid: string }>;
  leaves: Record<string, number>;
  /** Per text id, the fingerprint of the words it was placed by (absent in trees saved before it was added). */
  placedBy?: Record<string, string>;
  /** sha256 of the JSON without this field (treeChecksum); absent in trees saved before it was added. */
  sha256?: string;
}

function treeChecksum(json: TreeJson): string {
  const { sha256: _own, ...rest } = json;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/**
 * A tree's JSON after a deliberate rewrite (an import maps its memory ids to new ones),
 * sealed again with the checksum of its new content; any other JSON is returned as is.
 */
export function resealTreeJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || (value as TreeJson).format !== 'engram-bank-tree') return value;
  const { sha256: _old, ...rest } = value as TreeJson;
  return { ...rest, sha256: treeChecksum(rest as TreeJson) };
}

const key = (level: number, index: number): string => `${level}:${index}`;

/** The fingerprint of the words a text was placed by (16 hex of their sha256). */
export const placementKey = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

export class ClusterTree {
  private readonly centroids = new Map<string, Float32Array>();
  private readonly counts = new Map<string, number>();
  /** Per text id, placementKey() of the words it was placed by; unknown for texts placed by an older tree. */
  readonly placedBy = new Map<string, string>();

  private constructor(
    readonly embedderFingerprint: string,
    readonly levels: number,
    readonly branching: number,
    readonly seed: number,
    readonly dimension: number,
    /** Leaf (level p) of every text id. */
    readonly leaves: Map<string, number>,
  ) {}

  static build(ids: readonly string[], embeddings: readonly Float32Array[], embedderFingerprint: string, options: TreeBuildOptions): ClusterTree {
    if (ids.length !== embeddings.length) throw new ParametricError(ParametricErrorCode.InvalidConfig, `${ids.length} ids for ${embeddings.length} embeddings`);
    if (ids.length === 0) throw new ParametricError(ParametricErrorCode.InvalidConfig, 'cannot build a bank tree from no texts');
    const seed = options.seed ?? 1;
    const points = embeddings.map((e) => l2NormalizeInPlace(Float32Array.from(e)));
    const tree = new ClusterTree(embedderFingerprint, options.levels, options.branching, seed, points[0].length, new Map());
    const split = (level: number, index: number, members: number[]): void => {
      if (level === options.levels) {
        for (const m of members) tree.leaves.set(ids[m], index);
        return;
      }
      const { assignment, centroids } = balancedKMeans(
        members.map((m) => points[m]),
        { k: options.branching, seed: seed * 7919 + level * 131 + index, maxShare: options.maxShare },
      );
      centroids.forEach((c, child) => {
        const sub = members.filter((_, i) => assignment[i] === child);
        if (sub.length === 0) return;
        const childIndex = index * options.branching + child;
        tree.centroids.set(key(level + 1, childIndex), c);
        tree.counts.set(key(level + 1, childIndex), sub.length);
        split(level + 1, childIndex, sub);
      });
    };
    split(0, 0, ids.map((_, i) => i));
    return tree;
  }

  /** Greedy descent: at each level the existing child whose centroid is nearest. */
  route(embedding: Float32Array): number[] {
    return this.routeScored(embedding).path;
  }

  /** The path and the cosine similarity of the embedding to the chosen leaf's centroid. */
  routeScored(embedding: Float32Array): { path: number[]; similarity: number } {
    if (embedding.length !== this.dimension) {
      throw new ParametricError(ParametricErrorCode.EmbedderMismatch, `embedding of dimension ${embedding.length}, the tree was built with ${this.dimension}`);
    }
    const q = l2NormalizeInPlace(Float32Array.from(embedding));
    const path: number[] = [];
    let index = 0;
    for (let level = 1; level <= this.levels; level++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let c = 0; c < this.branching; c++) {
        const centroid = this.centroids.get(key(level, index * this.branching + c));
        if (!centroid) continue;
        let dot = 0;
        for (let i = 0; i < q.length; i++) dot += q[i] * centroid[i];
        if (dot > bestScore) {
          bestScore = dot;
          best = index * this.branching + c;
        }
      }
      if (best < 0) throw new ParametricError(ParametricErrorCode.PathOutsideTree, `node (${level - 1}, ${index}) has no children`);
      path.push(best);
      index = best;
      if (level === this.levels) return { path, similarity: bestScore };
    }
    return { path, similarity: NaN };
  }

  /** Path (level 1..p node indices) of a leaf. */
  pathOfLeaf(leaf: number): number[] {
    const path = new Array<number>(this.levels);
    let i = leaf;
    for (let level = this.levels; level >= 1; level--) {
      path[level - 1] = i;
      i = Math.floor(i / this.branching);
    }
    return path;
  }

  pathOf(id: string): number[] | undefined {
    const leaf = this.leaves.get(id);
    return leaf === undefined ? undefined : this.pathOfLeaf(leaf);
  }

  /** Whether node `index` at `level` is an ancestor-or-self of `leaf`. */
  contains(level: number, index: number, leaf: number): boolean {
    return Math.floor(leaf / this.branching ** (this.levels - level)) === index;
  }

  nodes(): TreeNodeInfo[] {
    return [...this.counts.entries()].map(([k, count]) => {
      const [level, index] = k.split(':').map(Number);
      return { level, index, count };
    });
  }

  save(path: string): void {
    const nodes = [...this.centroids.entries()].map(([k, c]) => {
      const [level, index] = k.split(':').map(Number);
      return { level, index, count: this.counts.get(k) ?? 0, centroid: Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64') };
    });
    const json: TreeJson = {
      format: 'engram-bank-tree',
      embedderFingerprint: this.embedderFingerprint,
      levels: this.levels,
      branching: this.branching,
      seed: this.seed,
      dimension: this.dimension,
      nodes,
      leaves: Object.fromEntries(this.leaves),
      ...(this.placedBy.size ? { placedBy: Object.fromEntries(this.placedBy) } : {}),
    };
    writeFileAtomic(path, JSON.stringify({ ...json, sha256: treeChecksum(json) }));
  }

  static load(path: string, expectEmbedder?: string): ClusterTree {
    let json: TreeJson;
    try {
      json = JSON.parse(readFileSync(path, 'utf8')) as TreeJson;
    } catch (cause) {
      throw new ParametricError(ParametricErrorCode.BankCorrupt, `bank tree ${path} cannot be read`, { cause });
    }
    if (typeof json !== 'object' || json === null || json.format !== 'engram-bank-tree') throw new ParametricError(ParametricErrorCode.BankCorrupt, `${path} is not an engram bank tree`);
    if (json.sha256 !== undefined && json.sha256 !== treeChecksum(json)) throw new ParametricError(ParametricErrorCode.BankCorrupt, `bank tree ${path} fails its checksum`);
    if (expectEmbedder !== undefined && expectEmbedder !== json.embedderFingerprint) {
      throw new ParametricError(ParametricErrorCode.EmbedderMismatch, `bank tree ${path} was built with embedder ${json.embedderFingerprint}, not ${expectEmbedder}`);
    }
    const tree = new ClusterTree(json.embedderFingerprint, json.levels, json.branching, json.seed, json.dimension, new Map(Object.entries(json.leaves)));
    for (const [id, placed] of Object.entries(json.placedBy ?? {})) tree.placedBy.set(id, placed);
    for (const n of json.nodes) {
      const bytes = Buffer.from(n.centroid, 'base64');
      const c = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (c.length !== json.dimension) throw new ParametricError(ParametricErrorCode.BankCorrupt, `${path}: centroid (${n.level}, ${n.index}) has ${c.length} values`);
      tree.centroids.set(key(n.level, n.index), c);
      tree.counts.set(key(n.level, n.index), n.count);
    }
    return tree;
  }
}
