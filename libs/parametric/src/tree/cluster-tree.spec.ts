import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gaussian, mulberry32 } from '@engram/inference';
import { ParametricErrorCode } from '../parametric.error';
import { balancedKMeans } from './balanced-kmeans';
import { ClusterTree } from './cluster-tree';

/** Points around `groups` random directions. */
function blobs(groups: number, per: number, dim: number, seed: number): Float32Array[] {
  const normal = gaussian(mulberry32(seed));
  const centers = Array.from({ length: groups }, () => Float32Array.from({ length: dim }, () => normal()));
  const out: Float32Array[] = [];
  for (let g = 0; g < groups; g++) for (let i = 0; i < per; i++) out.push(Float32Array.from(centers[g], (c) => c + 0.1 * normal()));
  return out;
}

describe('balancedKMeans', () => {
  it('recovers well-separated groups and is deterministic for a seed', () => {
    const pts = blobs(4, 10, 16, 1);
    const a = balancedKMeans(pts, { k: 4, seed: 3 });
    const b = balancedKMeans(pts, { k: 4, seed: 3 });
    expect(a.assignment).toEqual(b.assignment);
    for (let g = 0; g < 4; g++) {
      const labels = new Set(Array.from(a.assignment.subarray(g * 10, g * 10 + 10)));
      expect(labels.size).toBe(1);
    }
  });

  it('never lets a cluster exceed 1.5/k of the points', () => {
    // One huge group and three small ones.
    const pts = [...blobs(1, 60, 8, 2), ...blobs(3, 4, 8, 5)];
    const { assignment } = balancedKMeans(pts, { k: 4, seed: 1 });
    const counts = new Map<number, number>();
    for (const c of assignment) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(Math.ceil((1.5 * pts.length) / 4));
  });
});

describe('ClusterTree', () => {
  it('routes every text of the build set to its own leaf and survives save/load', () => {
    const pts = blobs(9, 3, 12, 7);
    const ids = pts.map((_, i) => `m${i}`);
    const tree = ClusterTree.build(ids, pts, 'emb-1', { levels: 2, branching: 3, seed: 1 });
    let agree = 0;
    ids.forEach((id, i) => {
      const path = tree.route(pts[i]);
      expect(path).toHaveLength(2);
      expect(Math.floor(path[1] / 3)).toBe(path[0]);
      if (path[1] === tree.leaves.get(id)) agree++;
    });
    expect(agree).toBe(ids.length);
    const dir = mkdtempSync(join(tmpdir(), 'tree-'));
    try {
      tree.save(join(dir, 't.json'));
      const back = ClusterTree.load(join(dir, 't.json'), 'emb-1');
      expect(back.route(pts[5])).toEqual(tree.route(pts[5]));
      expect(back.pathOf('m5')).toEqual(tree.pathOf('m5'));
      expect(() => ClusterTree.load(join(dir, 't.json'), 'emb-2')).toThrow(expect.objectContaining({ code: ParametricErrorCode.EmbedderMismatch }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a saved tree damaged so that it still parses (one bit of a centroid), and still loads one saved without a checksum', () => {
    const pts = blobs(4, 3, 8, 3);
    const tree = ClusterTree.build(pts.map((_, i) => `m${i}`), pts, 'emb-1', { levels: 1, branching: 2, seed: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'tree-'));
    try {
      const file = join(dir, 't.json');
      tree.save(file);
      const json = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Array<{ centroid: string }>; sha256?: string };
      const intact = json.nodes[0].centroid;
      let at = intact.length >> 1;
      while (!/[B-Yb-y0-9]/.test(intact[at])) at++;
      const flipped = String.fromCharCode(intact.charCodeAt(at) ^ 0x01); // another base64 letter or digit
      expect(/[A-Za-z0-9+/]/.test(flipped)).toBe(true);
      json.nodes[0].centroid = intact.slice(0, at) + flipped + intact.slice(at + 1);
      writeFileSync(file, JSON.stringify(json));
      expect(() => ClusterTree.load(file, 'emb-1')).toThrow(expect.objectContaining({ code: ParametricErrorCode.BankCorrupt, message: expect.stringContaining('checksum') }));
      json.nodes[0].centroid = intact;
      delete json.sha256;
      writeFileSync(file, JSON.stringify(json));
      expect(ClusterTree.load(file, 'emb-1').route(pts[0])).toEqual(tree.route(pts[0]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
