// lib/dist in this plain process (a world of 1): shards, bucket bookkeeping, checksums, argument checks at the addon.
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { shardIndices, GradBuckets, checksum, world, startAllReduce, pendingCollectives } from '../../lib/dist';
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

describe('dist: bad arguments are clear errors (world of 1)', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { native } = require('../../lib/engine/native');
  before(() => { world(); });
  it('names the argument or the tensor', () => {
    const a = Tensor.zeros([3]);
    expect(() => native().distAllReduceMean(5)).to.throw(/tensors\) must be an array of Tensors/);
    expect(() => native().distAllReduceSum([a.h, a.h])).to.throw(/tensor 1 shares storage with tensor 0/);
    expect(() => native().distAllReduceSum([a.h, a.reshape([1, 3]).h])).to.throw(/shares storage/);
    expect(() => native().distStartAllReduce([a.h], 'max')).to.throw(/op must be one of mean \| sum, got 'max'/);
    expect(() => native().distWait(12345)).to.throw(/handle 12345 is unknown or was already waited/);
    expect(() => native().distBroadcast([a.h], 1)).to.throw(/root 1 is not a rank of this world of 1/);
    expect(() => native().distAllReduceScalars([1, 2], 'sum')).to.throw(/must be a Float64Array/);
    expect(() => native().distAllReduceScalars(new Float64Array(2), 'mean')).to.throw(/sum \| max \| min/);
    expect(() => native().distInit('gpu')).to.throw(/device must be one of auto \| cpu \| cuda, got 'gpu'/);
    expect(() => native().distAbort(0, 'x')).to.throw(/code\) must be an integer in \[1, 255\]/);
  });
  it('a waited handle cannot be waited again; nothing stays pending', () => {
    const p = startAllReduce([Tensor.zeros([2])]);
    p.wait();
    expect(() => native().distWait(p.handle)).to.throw(/already waited/);
    expect(pendingCollectives()).to.equal(0);
  });
});
