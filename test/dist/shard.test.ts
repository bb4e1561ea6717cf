// Data shards and bucket bookkeeping in this (plain, world-of-1) process; the launched tests are in dist.test.ts.
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { shardIndices, GradBuckets, checksum } from '../../lib/dist';
import { permutation } from '../../lib/data';

describe('dist: shardIndices', () => {
  const perm = permutation(103, 42);
  for (const [batch, size] of [[12, 3], [8, 8], [10, 1], [64, 4]] as const) {
    it(`batch ${batch} over ${size} ranks: disjoint shards whose union is every complete global batch`, () => {
      const shards = [...Array(size).keys()].map((r) => shardIndices(perm, batch, r, size));
      const steps = Math.floor(perm.length / batch);
      for (const s of shards) expect(s.length).to.equal(steps * batch / size);
      for (let k = 0; k < steps; k++) {  // step k of all ranks together = global batch k, as a set
        const got = shards.flatMap((s) => Array.from(s.subarray(k * batch / size, (k + 1) * batch / size)));
        expect(got.sort((a, b) => a - b)).to.deep.equal(Array.from(perm.subarray(k * batch, (k + 1) * batch)).sort((a, b) => a - b));
      }
      const all = shards.flatMap((s) => Array.from(s));
      expect(new Set(all).size, 'no index on two ranks').to.equal(all.length);
    });
  }
  it('a global batch not divisible by the ranks names --batch', () => {
    expect(() => shardIndices(perm, 8, 0, 3)).to.throw(/--batch 8 .*not divisible by the 3 ranks/);
    expect(() => shardIndices(perm, 8, 3, 3)).to.throw(/rank 3 is not in \[0, 3\)/);
  });
});

describe('dist: GradBuckets bookkeeping', () => {
  it('rejects unknown and twice-marked parameters and duplicates', () => {
    const ps = [0, 1].map(() => ({ grad: Tensor.zeros([4]) }));
    const b = new GradBuckets(ps, { bytes: 1 });
    expect(() => b.markReady({ grad: Tensor.zeros([1]) })).to.throw(/not one of/);
    b.markReady(ps[1]);
    expect(() => b.markReady(ps[1])).to.throw(/marked twice/);
    expect(b.finish()).to.deep.equal({ buckets: 2, startedEarly: 1 });
    expect(() => new GradBuckets([ps[0], ps[0]])).to.throw(/listed twice/);
    expect(() => new GradBuckets(ps, { bytes: 0 })).to.throw(/bytes must be > 0/);
  });
  it('checksum: FNV-1a over the float bits; a moved tensor boundary changes it', () => {
    const a = Tensor.fromArray([1, 2, 3, 4, 5, 6], [6]);
    const b = Tensor.fromArray([7, 8], [2]);
    const c = Tensor.fromArray([1, 2, 3, 4], [4]);
    const d = Tensor.fromArray([5, 6, 7, 8], [4]);
    expect(checksum([a, b])).to.not.equal(checksum([c, d]));
    // the closed form for one word: FNV-1a 32 of the bits of 1.0f (0x3f800000), then the length word 1
    const one = Tensor.fromArray([1], [1]);
    let h = 0x811c9dc5;
    for (const w of [0x3f800000, 1]) h = Math.imul(h ^ w, 0x01000193) >>> 0;
    expect(checksum([one])).to.equal(h);
  });
});
