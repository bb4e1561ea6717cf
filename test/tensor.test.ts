import { expect } from 'chai';
import { Tensor, engineInfo, defaultDevice } from '../lib/engine';
import { native } from '../lib/engine/native';

describe('tensor', () => {
  it('round-trips data and shape', () => {
    const t = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.shape).to.deep.equal([2, 3]);
    expect(t.device).to.equal('cpu');
    expect(t.toArray()).to.deep.equal([1, 2, 3, 4, 5, 6]);
    t.dispose();
    expect(t.disposed).to.equal(true);
  });

  it('zeros, full, reshape shares storage, clone does not', () => {
    const z = Tensor.zeros([3, 1, 2]);
    expect(z.toArray()).to.deep.equal([0, 0, 0, 0, 0, 0]);
    const f = Tensor.full([2, 2], -2.5);
    expect(f.toArray()).to.deep.equal([-2.5, -2.5, -2.5, -2.5]);
    const r = f.reshape([4]);
    expect(r.sharesStorageWith(f)).to.equal(true);
    const c = f.clone();
    expect(c.sharesStorageWith(f)).to.equal(false);
    c.copyFrom(Tensor.fromArray([1, 2, 3, 4], [2, 2]));
    expect(f.toArray()).to.deep.equal([-2.5, -2.5, -2.5, -2.5]);
    expect(c.toArray()).to.deep.equal([1, 2, 3, 4]);
  });

  it('reports the engine and picks cpu without a GPU', () => {
    const i = engineInfo();
    expect(i.threads).to.be.greaterThan(0);
    if (i.cudaDevices === 0) expect(defaultDevice()).to.equal('cpu');
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).to.throw(/holds 4 values but the data has 3/);
    expect(() => Tensor.zeros([2, -1])).to.throw(/shape.*negative/);
    expect(() => Tensor.zeros([1e6, 1e6, 1e6])).to.throw(/too large/);
    expect(() => Tensor.zeros([2, 1.5])).to.throw(/integers/);
    expect(() => Tensor.full([2], NaN)).to.throw(/value.*finite/);
    expect(() => Tensor.zeros([2], 'cuda:7' as 'cpu')).to.throw(/not available/);
    expect(() => Tensor.zeros([2], 'gpu' as 'cpu')).to.throw(/'cpu', 'cuda' or 'cuda:N'/);
    const t = Tensor.zeros([2]);
    t.dispose();
    expect(() => t.toFloat32Array()).to.throw(/disposed/);
    expect(() => t.reshape([1, 2])).to.throw(/disposed/);
    expect(() => native().reshape({}, [2])).to.throw(/must be a Tensor/);
    expect(() => Tensor.zeros([4]).reshape([3])).to.throw(/cannot reshape/);
  });
});

describe('tidy', () => {
  it('disposes what it created except the result and kept tensors', async () => {
    const { tidy, keep } = await import('../lib/engine');
    const outer = Tensor.zeros([2]);
    let inner!: Tensor;
    let kept!: Tensor;
    const r = tidy(() => {
      inner = Tensor.zeros([3]);
      kept = keep(Tensor.zeros([1]));
      return { out: Tensor.full([2], 1), n: 3 };
    });
    expect(inner.disposed).to.equal(true);
    expect(kept.disposed).to.equal(false);
    expect(r.out.disposed).to.equal(false);
    expect(outer.disposed).to.equal(false);
    // nested: the inner result joins the outer scope and is freed with it
    let nestedResult!: Tensor;
    tidy(() => {
      nestedResult = tidy(() => Tensor.zeros([1]));
      expect(nestedResult.disposed).to.equal(false);
    });
    expect(nestedResult.disposed).to.equal(true);
  });

  it('disposes everything when fn throws', async () => {
    const { tidy } = await import('../lib/engine');
    let t!: Tensor;
    expect(() => tidy(() => { t = Tensor.zeros([1]); throw new Error('boom'); })).to.throw('boom');
    expect(t.disposed).to.equal(true);
  });
});
