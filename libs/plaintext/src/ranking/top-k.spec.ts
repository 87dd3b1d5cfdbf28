import { TopK } from './top-k';

describe('TopK', () => {
  it('keeps the k best, best first, ties to the smaller slot', () => {
    const top = new TopK(3);
    [[5, 0.1], [1, 0.9], [7, 0.5], [2, 0.5], [9, 0.7], [4, 0.2]].forEach(([slot, score]) => top.push(slot, score));
    expect(top.sorted()).toEqual([1, 9, 2]);
  });

  it('returns fewer when fewer were pushed', () => {
    const top = new TopK(10);
    top.push(3, 1);
    expect(top.sorted()).toEqual([3]);
  });
});
