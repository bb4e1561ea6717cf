// Each layer: forward vs a float64 reference, backward (input and parameter grads) vs float64 finite differences
// (test/nn/ref.ts), accumulation and zeroGrad; mode-specific behaviour (BatchNorm, Dropout); bad arguments.
import { expect } from 'chai';
import { Tensor, Rng, samePadding } from '../../lib/engine';
import {
  Dense, Conv2d, ConvTranspose2d, BatchNorm1d, BatchNorm2d, LeakyReLU, ReLU, Tanh, Sigmoid, Dropout, Flatten, Reshape, KERAS_BN,
} from '../../lib/nn';
import { randArray, expectClose, maxAbs } from '../helpers';
import * as R from './ref';

/** Values in ±[0.05, 1] (no element within 0.05 of a LeakyReLU kink). */
function awayFromZero(n: number, seed: number): Float32Array {
  return randArray(n, seed, 0.05, 1).map((v, i) => (i % 3 === 0 ? -v : v));
}

describe('nn layers: forward vs float64, backward vs finite differences', () => {
  it('Dense with and without bias', () => {
    R.gradCheck({ layer: new Dense(5, 3), xShape: [4, 5], ref: (x, [w, b]) => R.dense(x, 4, 5, w, 3, b) });
    R.gradCheck({ layer: new Dense(5, 3, { bias: false }), xShape: [2, 5], ref: (x, [w]) => R.dense(x, 2, 5, w, 3, null), seed: 2 });
  });

  it('Conv2d: stride 2 pad 1 with bias, stride 1 no bias, asymmetric and same padding', () => {
    const cases: { k: number | [number, number]; o: ConstructorParameters<typeof Conv2d>[3]; xs: number[]; pads: number[]; st: [number, number] }[] = [
      { k: 4, o: { stride: 2, padding: 1 }, xs: [2, 3, 8, 8], pads: [1, 1, 1, 1], st: [2, 2] },
      { k: 3, o: { stride: 1, padding: 1, bias: false }, xs: [2, 2, 5, 6], pads: [1, 1, 1, 1], st: [1, 1] },
      { k: [3, 2], o: { stride: [2, 1], padding: [0, 2, 1, 0] }, xs: [1, 2, 7, 5], pads: [0, 2, 1, 0], st: [2, 1] },
      // TF 'same' with stride 2 on an even size pads [0, 1] (asymmetric)
      { k: 3, o: { stride: 2, padding: 'same' }, xs: [2, 2, 6, 6], pads: [...samePadding(6, 3, 2), ...samePadding(6, 3, 2)], st: [2, 2] },
    ];
    cases.forEach((c, i) => {
      const kk = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      const L = new Conv2d(c.xs[1], 3, c.k, c.o);
      const ws = [3, c.xs[1], kk[0], kk[1]];
      R.gradCheck({ layer: L, xShape: c.xs, seed: 10 + i, ref: (x, [w, b]) => R.conv2d(x, c.xs, w, ws, b ?? null, c.st, c.pads).y });
    });
    expect(samePadding(6, 3, 2)).to.deep.equal([0, 1]);
  });

  it('ConvTranspose2d: k4 s2 p1, k4 s1 p0 (no bias), k3 s1 p1, output padding and asymmetric kernel', () => {
    const cases: { cin: number; cout: number; k: number | [number, number]; o: ConstructorParameters<typeof ConvTranspose2d>[3]; xs: number[]; p: number[]; st: [number, number]; op: [number, number] }[] = [
      { cin: 3, cout: 2, k: 4, o: { stride: 2, padding: 1 }, xs: [2, 3, 3, 3], p: [1, 1, 1, 1], st: [2, 2], op: [0, 0] },
      { cin: 4, cout: 3, k: 4, o: { stride: 1, padding: 0, bias: false }, xs: [2, 4, 1, 1], p: [0, 0, 0, 0], st: [1, 1], op: [0, 0] },
      { cin: 2, cout: 2, k: 3, o: { stride: 1, padding: 1 }, xs: [2, 2, 4, 4], p: [1, 1, 1, 1], st: [1, 1], op: [0, 0] },
      { cin: 2, cout: 3, k: [3, 2], o: { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2] }, xs: [1, 2, 3, 2], p: [1, 1, 0, 0], st: [2, 3], op: [1, 2] },
    ];
    cases.forEach((c, i) => {
      const kk = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      const L = new ConvTranspose2d(c.cin, c.cout, c.k, c.o);
      const ws = [c.cin, c.cout, kk[0], kk[1]];
      expect(L.weight.value.shape, 'IOHW weight').to.deep.equal(ws);
      R.gradCheck({ layer: L, xShape: c.xs, seed: 20 + i, ref: (x, [w, b]) => R.convTranspose2d(x, c.xs, w, ws, b ?? null, c.st, c.p, c.op).y });
    });
  });

  it('BatchNorm2d and BatchNorm1d in training mode (through the batch statistics)', () => {
    R.gradCheck({ layer: new BatchNorm2d(3), xShape: [2, 3, 3, 2], ref: (x, [g, b]) => R.batchNorm(x, [2, 3, 3, 2], g, b, 1e-5).y });
    R.gradCheck({ layer: new BatchNorm1d(4, KERAS_BN), xShape: [5, 4], seed: 3, ref: (x, [g, b]) => R.batchNorm(x, [5, 4], g, b, 1e-3).y });
  });

  it('BatchNorm2d in eval mode uses and keeps the running statistics; its backward is the affine map', () => {
    const L = new BatchNorm2d(3, { momentum: 0.3, eps: 1e-3 });
    const rm = randArray(3, 5, -0.5, 0.5), rv = randArray(3, 6, 0.5, 2);
    L.runningMean.value.copyFrom(Tensor.fromArray(rm, [3]));
    L.runningVar.value.copyFrom(Tensor.fromArray(rv, [3]));
    L.eval();
    R.gradCheck({ layer: L, xShape: [2, 3, 2, 2], ref: (x, [g, b]) => R.batchNorm(x, [2, 3, 2, 2], g, b, 1e-3, { mean: Float64Array.from(rm), var: Float64Array.from(rv) }).y });
    expect(L.runningMean.value.toArray()).to.deep.equal(Array.from(rm));
    expect(L.runningVar.value.toArray()).to.deep.equal(Array.from(rv));
    expect(L.numBatchesTracked).to.equal(0);
  });

  it('BatchNorm2d training updates running stats with momentum (unbiased variance) and counts batches', () => {
    const xs = [3, 2, 2, 2];
    const L = new BatchNorm2d(2, { momentum: 0.25 });
    const xa = randArray(24, 9, -2, 3);
    const x = Tensor.fromArray(xa, xs);
    L.forward(x).dispose();
    const r = R.batchNorm(Float64Array.from(xa), xs, new Float64Array([1, 1]), new Float64Array([0, 0]), 1e-5);
    expectClose(L.runningMean.value.toFloat32Array(), Array.from(r.mean, (m) => 0.25 * m), 1e-5, 1e-7, 'running_mean');
    expectClose(L.runningVar.value.toFloat32Array(), Array.from(r.varU, (v) => 0.75 + 0.25 * v), 1e-5, 1e-7, 'running_var');
    expect(L.numBatchesTracked).to.equal(1);
    // eval after training: normalises with the running stats, not the batch's
    L.eval();
    const y = L.forward(x);
    const want = R.batchNorm(Float64Array.from(xa), xs, new Float64Array([1, 1]), new Float64Array([0, 0]), 1e-5,
      { mean: Float64Array.from(L.runningMean.value.toFloat32Array()), var: Float64Array.from(L.runningVar.value.toFloat32Array()) }).y;
    expectClose(y.toFloat32Array(), want, 1e-5, 1e-6, 'eval output');
    expect(L.numBatchesTracked).to.equal(1);
    expect(() => new BatchNorm1d(3).forward(Tensor.zeros([1, 3]))).to.throw(/more than 1 value per channel/);
    expect(() => L.forward(Tensor.zeros([2, 3, 2, 2]))).to.throw(/3 channels, layer expects 2/);
    expect(() => new BatchNorm1d(2).forward(Tensor.zeros([2, 2, 1, 1]))).to.throw(/must have 2 dims/);
    expect(() => new BatchNorm2d(2, { momentum: 2 })).to.throw(/momentum/);
  });

  it('LeakyReLU, ReLU, Tanh, Sigmoid', () => {
    const xs = [2, 3, 2, 2];
    const x = awayFromZero(24, 4);
    R.gradCheck({ layer: new LeakyReLU(0.2), xShape: xs, x, ref: (v) => R.leaky(v, 0.2) });
    R.gradCheck({ layer: new ReLU(), xShape: xs, x, ref: (v) => R.leaky(v, 0) });
    R.gradCheck({ layer: new Tanh(), xShape: xs, ref: R.tanh64, x: randArray(24, 5, -2, 2) });
    R.gradCheck({ layer: new Sigmoid(), xShape: [4, 5], ref: R.sigmoid64, x: randArray(20, 6, -4, 4) });
  });

  it('Flatten and Reshape are views with exact gradients', () => {
    R.gradCheck({ layer: new Flatten(), xShape: [2, 3, 2, 2], ref: (v) => v });
    R.gradCheck({ layer: new Reshape([4, 2, 2]), xShape: [3, 16], ref: (v) => v });
    const x = Tensor.zeros([2, 3, 2, 2]);
    const y = new Flatten().forward(x);
    expect(y.shape).to.deep.equal([2, 12]);
    expect(y.sharesStorageWith(x)).to.equal(true);
    expect(() => new Reshape([5]).forward(x)).to.throw(/12 values per sample, target \[5\] needs 5/);
  });
});

describe('nn Dropout', () => {
  const xs = [4, 8, 16, 16];
  const n = 4 * 8 * 16 * 16;
  const run = (seed: number, stream: number, p = 0.3): { y: Float32Array; mask: Float32Array; l: Dropout } => {
    const l = new Dropout(p, new Rng(seed, stream));
    const x = Tensor.full(xs, 2);
    const y = l.forward(x);
    return { y: y.toFloat32Array(), mask: l.mask!.toFloat32Array(), l };
  };

  it('keeps about 1 − p, scales kept values by 1/(1 − p), and backward multiplies by the mask', () => {
    const { y, mask, l } = run(7, 3);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      expect(mask[i] === 0 || Math.abs(mask[i] - 1 / 0.7) < 1e-6, `mask[${i}] = ${mask[i]}`).to.equal(true);
      expect(y[i]).to.equal(Math.fround(2 * mask[i]));
      if (mask[i]) kept++;
    }
    // Binomial(n, 0.7): std = sqrt(n·0.21) ≈ 41 of n = 8192; 5 std
    expect(Math.abs(kept - 0.7 * n)).to.be.lessThan(5 * Math.sqrt(n * 0.21));
    // gradCheck runs a new forward (a new mask); the reference reads that mask: y = x·mask
    const small = new Dropout(0.4, new Rng(1, 2));
    R.gradCheck({ layer: small, xShape: [2, 3, 4], ref: (v) => v.map((a, i) => a * small.mask!.toFloat32Array()[i]) });
    l.dispose();
  });

  it('same seed and stream → same mask; another seed, stream or the next forward → another mask', () => {
    const a = run(7, 3).mask, b = run(7, 3).mask, c = run(8, 3).mask, d = run(7, 4).mask;
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).to.equal(0);
    const diff = (u: Float32Array, v: Float32Array): number => u.reduce((s, x, i) => s + (x !== v[i] ? 1 : 0), 0);
    expect(diff(a, c)).to.be.greaterThan(n / 10);
    expect(diff(a, d)).to.be.greaterThan(n / 10);
    const l = new Dropout(0.3, new Rng(7, 3));
    const x = Tensor.full(xs, 1);
    l.forward(x);
    const m1 = l.mask!.toFloat32Array();
    expect(l.rng.offset).to.equal(n / 4);
    l.forward(x);
    expect(diff(m1, l.mask!.toFloat32Array())).to.be.greaterThan(n / 10);
  });

  it('eval mode and p = 0 are the identity', () => {
    const x = Tensor.fromArray(randArray(12, 3), [3, 4]);
    for (const l of [new Dropout(0.5, new Rng(1, 1)).eval(), new Dropout(0, new Rng(1, 1))]) {
      const y = l.forward(x);
      expect(y.toArray()).to.deep.equal(x.toArray());
      expect(l.mask).to.equal(null);
      expect(l.rng.offset).to.equal(0);
      const dy = Tensor.fromArray(randArray(12, 4), [3, 4]);
      expect(l.backward(dy).toArray()).to.deep.equal(dy.toArray());
    }
    expect(() => new Dropout(1, new Rng(1, 1))).to.throw(/p must be in \[0, 1\)/);
  });
});

describe('nn layer errors', () => {
  it('name the layer and the mismatch', () => {
    expect(() => new Dense(3, 2).forward(Tensor.zeros([2, 4]))).to.throw(/Dense: input has 4 features, layer expects 3/);
    expect(() => new Conv2d(3, 2, 3).forward(Tensor.zeros([1, 2, 5, 5]))).to.throw(/Conv2d: input has 2 channels/);
    expect(() => new Conv2d(1, 2, 3).forward(Tensor.zeros([1, 1, 5]))).to.throw(/must have 4 dims/);
    expect(() => new Conv2d(1, 2, 5).outputShape([1, 1, 3, 3])).to.throw(/too small/);
    expect(() => new ConvTranspose2d(1, 1, 4, { stride: 2, outputPadding: 2 })).to.throw(/outputPadding/);
    expect(() => new Dense(3, 2).backward(Tensor.zeros([2, 2]))).to.throw(/no forward cache/);
    expect(() => new Tanh().backward(Tensor.zeros([2, 2]))).to.throw(/no forward cache/);
  });
});
