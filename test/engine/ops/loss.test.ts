// Mean BCE-with-logits against float64: loss = mean(max(x, 0) − x·t + log(1 + e^{−|x|})), grad = (σ(x) − t)/n.
// Tolerances: the kernel works in float64 from the float32 inputs, so the loss must match to 1e-12 relative; grad
// is one float32 rounding of a float64 value: rtol 1e-6 + atol 1e-9/n. The gradient is also checked against
// central finite differences (h = 1e-5) of the float64 loss: rtol 1e-6 + atol 1e-9 (truncation ~h²·|ℓ'''| ≈ 1e-11).
import { expect } from 'chai';
import { Tensor, bceWithLogits } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectClose } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

const lossRef = (x: ArrayLike<number>, t: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.max(x[i], 0) - x[i] * t[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  return s / x.length;
};
const sig = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

describe('bceWithLogits', () => {
  // batch 1, odd sizes, [n, 1] like the discriminator's output, and a size that spans several parallel chunks
  const shapes = [[1], [1, 1], [7, 1], [64, 1], [3, 5, 7], [20001]];

  opCase({ ops: ['bce_with_logits'], name: 'loss and grad match float64, with soft (label-noise) targets', cpu: () => {
    shapes.forEach((s, k) => {
      const n = s.reduce((a, b) => a * b, 1);
      const x = Float32Array.from(randArray(n, 900 + k, -8, 8));
      // targets: real labels 1 − 0.05·u, fake labels 0.05·u (the paper's label noise), alternating
      const t = Float32Array.from(randArray(n, 950 + k, 0, 1), (u, i) => (i % 2 ? 1 - 0.05 * u : 0.05 * u));
      const { loss, grad } = bceWithLogits(Tensor.fromArray(x, s), Tensor.fromArray(t, s));
      expect(grad.shape).to.deep.equal(s);
      const want = lossRef(x, t);
      expect(Math.abs(loss - want)).to.be.at.most(1e-12 * Math.abs(want), `loss ${s}`);
      expectClose(grad.toFloat32Array(), Array.from(x, (v, i) => (sig(v) - t[i]) / n), 1e-6, 1e-9 / n, `grad ${s}`);
    });
  } });

  opCase({ ops: ['bce_with_logits'], name: 'grad matches finite differences of the float64 loss', cpu: () => {
    const n = 50;
    const x = Float32Array.from(randArray(n, 990, -5, 5)), t = Float32Array.from(randArray(n, 991, 0, 1));
    const { grad } = bceWithLogits(Tensor.fromArray(x, [n]), Tensor.fromArray(t, [n]));
    const h = 1e-5;
    const fd = Array.from(x, (_, i) => {
      const p = Float64Array.from(x), m = Float64Array.from(x);
      p[i] += h; m[i] -= h;
      return (lossRef(p, t) - lossRef(m, t)) / (2 * h);
    });
    expectClose(grad.toFloat32Array(), fd, 1e-6, 1e-9, 'grad vs FD');
  } });

  opCase({ ops: ['bce_with_logits'], name: 'is stable for extreme logits (no overflow, exact limits)', cpu: () => {
    const x = [100, -100, 80, -80, 0, 1e30, -1e30];
    const t = [1, 0, 0, 1, 0.5, 1, 0];
    const { loss, grad } = bceWithLogits(Tensor.fromArray(x, [7]), Tensor.fromArray(t, [7]));
    // per element: e^-100 ≈ 0, e^-100 ≈ 0, 80, 80, log 2, 0, 0
    const want = (80 + 80 + Math.log(2) + 2 * Math.log1p(Math.exp(-100))) / 7;
    expect(Math.abs(loss - want)).to.be.below(1e-12 * want);
    const g = grad.toArray();
    expect(g.every(Number.isFinite)).to.equal(true);
    expectClose(g, [0, 0, 1 / 7, -1 / 7, 0, 0, 0], 1e-6, 1e-12, 'grad at extremes');
  } });

  it('rejects bad arguments with errors that name them', () => {
    const x = Tensor.zeros([4, 1]);
    expect(() => bceWithLogits(x, Tensor.zeros([4]))).to.throw(/targets must have shape \[4, 1\], got \[4\]/);
    expect(() => bceWithLogits(Tensor.zeros([0, 1]), Tensor.zeros([0, 1]))).to.throw(/bceWithLogits: logits is empty/);
    expect(() => native().bceWithLogits(x.h)).to.throw(/bceWithLogits: expected 2 arguments/);
    expect(() => native().bceWithLogits(x.h, [1, 2, 3, 4])).to.throw(/targets.*must be a Tensor/);
    const d = Tensor.zeros([4, 1]);
    d.dispose();
    expect(() => bceWithLogits(d, x)).to.throw(/logits.*disposed/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('bceWithLogits (CUDA vs the CPU twin)', () => {
  opCase({ ops: ['bce_with_logits'], name: 'BCE-with-logits: loss and gradient', cuda: (dev) => {
    for (const n of [1, 8, 1000]) {
      const x = both(dev, [n], 80, -20, 20), t = both(dev, [n], 81, 0, 1);
      const g = E.bceWithLogits(x.g, t.g), c = E.bceWithLogits(x.c, t.c);
      expect(g.loss).to.be.closeTo(c.loss, 1e-12 * Math.max(1, Math.abs(c.loss)) * n);
      same(g.grad, c.grad, 1e-6, 1e-9, 'bce grad');
    }
  } });
});
