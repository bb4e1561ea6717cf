// Randomness keyed by global sample index (lib/train/shard.ts): the ranks' draws put side by side are the 1-rank
// draw of the global batch, aligned or not, and every rank's stream ends where the 1-rank stream ends.
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { Dropout } from '../../lib/nn';
import { ShardedRng } from '../../lib/train/shard';

function ranks(size: number, global: number): ShardedRng[] {
  const b = global / size;
  return Array.from({ length: size }, (_, r) => {
    const g = new ShardedRng(9, 303, 5);
    g.shard = { start: r * b, count: b, global };
    return g;
  });
}
const cat = (ts: Tensor[]): number[] => ts.flatMap((t) => Array.from(t.toFloat32Array()));

describe('train: randomness keyed by global sample index', () => {
  for (const [size, global, per] of [[2, 8, 128], [4, 8, 1], [2, 6, 1], [3, 6, 100], [1, 8, 3]] as const) {
    it(`${size} ranks × global batch ${global} × ${per} values per sample equal one process's draws`, () => {
      const one = new ShardedRng(9, 303, 5);
      const rs = ranks(size, global), b = global / size;
      for (const kind of ['normal', 'uniform'] as const) {
        const want = Array.from(one[kind]([global, per]).toFloat32Array());
        expect(cat(rs.map((r) => r[kind]([b, per])))).to.deep.equal(want);
      }
      for (const r of rs) expect(r.offset).to.equal(one.offset);
    });
  }

  it('dropout masks: each rank masks its own samples as one process would', () => {
    const global = 4, size = 2, shape = [global, 3, 4, 4];
    const x = Tensor.full(shape, 1);
    const ref = new Dropout(0.5, new ShardedRng(2, 201)), want = Array.from(ref.forward(x).toFloat32Array());
    const got = ranks(size, global).map((r, i) => {
      const rr = new ShardedRng(2, 201);
      rr.shard = { ...r.shard! };
      const xl = Tensor.full([global / size, 3, 4, 4], 1);
      const y = new Dropout(0.5, rr).forward(xl);
      expect(rr.offset, `rank ${i} advances past the global draw`).to.equal(ref.rng.offset);
      return y;
    });
    expect(cat(got)).to.deep.equal(want);
  });

  it('a layer draw that does not start on a Philox block is refused with a clear message', () => {
    const r = new ShardedRng(1, 2);
    r.shard = { start: 1, count: 1, global: 2 };
    expect(() => r.take(3)).to.throw(/not on a Philox block/);
    const q = new ShardedRng(1, 2);
    q.shard = { start: 2, count: 2, global: 4 };
    expect(() => q.take(3)).to.throw(/not per sample/);
  });
});
