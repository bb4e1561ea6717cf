// The custom-layer example of docs/custom-layer.md (examples/custom-layer.ts): its rules against closed forms in
// float64, and the exact gradient penalty running through it inside a Sequential (∂GP/∂θ against central
// differences of GP in float64 over the whole critic).
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { Sequential, Conv2d, Flatten, Dense } from '../../lib/nn';
import { gradientPenalty } from '../../lib/train/penalty';
import { Square } from '../../examples/custom-layer';
import { randArray, expectClose } from '../helpers';

const t = (shape: number[], seed: number, lo = -1, hi = 1): Tensor => Tensor.fromArray(randArray(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
const f64 = (x: Tensor): Float64Array => Float64Array.from(x.toFloat32Array());

describe('examples/custom-layer: Square', () => {
  it('jvp, backwardData and pairBackward match their closed forms', () => {
    const l = new Square(), x = t([2, 3, 4], 1), xd = t([2, 3, 4], 2), yb = t([2, 3, 4], 3), ydb = t([2, 3, 4], 4);
    const X = f64(x), Xd = f64(xd), Yb = f64(yb), Ydb = f64(ydb);
    const y = l.forward(x);
    expectClose(y.toFloat32Array(), X.map((v) => v * v), 1e-6, 1e-7, 'forward');
    expectClose(l.jvp(xd).toFloat32Array(), X.map((v, i) => 2 * v * Xd[i]), 1e-6, 1e-7, 'jvp');
    expectClose(l.backwardData(yb).toFloat32Array(), X.map((v, i) => 2 * v * Yb[i]), 1e-6, 1e-7, 'backwardData');
    const r = l.pairBackward(yb, ydb);
    expectClose(r.xbar!.toFloat32Array(), X.map((v, i) => 2 * v * Yb[i] + 2 * Xd[i] * Ydb[i]), 1e-6, 1e-7, 'xbar');
    expectClose(r.xdotbar!.toFloat32Array(), X.map((v, i) => 2 * v * Ydb[i]), 1e-6, 1e-7, 'xdotbar');
    const r0 = l.pairBackward(null, ydb, { xdotbar: false });
    expectClose(r0.xbar!.toFloat32Array(), Xd.map((v, i) => 2 * v * Ydb[i]), 1e-6, 1e-7, 'xbar (ȳ = 0)');
    expect(r0.xdotbar).to.equal(null);
  });

  it('the exact penalty runs through it: ∂GP/∂θ matches differences of GP', () => {
    const D = new Sequential([new Conv2d(1, 2, 3, { stride: 2, padding: 1 }), new Square(), new Flatten(), new Dense(2 * 3 * 3, 1)]);
    for (const [i, p] of D.params().entries()) p.value.copyFrom(t(p.value.shape, 10 + i, -0.5, 0.5));
    const real = t([3, 1, 6, 6], 20), fake = t([3, 1, 6, 6], 21), eps = t([3], 22, 0, 1), lambda = 5;
    D.zeroGrad();
    gradientPenalty(D, real, fake, eps, lambda);
    // GP in float64 as a function of the first conv weight, by central differences (the network is tiny)
    const w = D.params()[0], grad = w.grad.toFloat32Array(), w0 = w.value.toFloat32Array();
    const gpAt = (k: number, h: number): number => {
      const v = Float32Array.from(w0);
      v[k] += h;
      w.value.copyFrom(Tensor.fromArray(v, w.value.shape));
      const g = gradientPenalty(D, real, fake, eps, lambda).gp;
      return g;
    };
    const saved = D.params().map((p) => p.grad.clone());
    for (const k of [0, 4, 9, 17]) {
      const h = 1e-2, fd = (gpAt(k, h) - gpAt(k, -h)) / (2 * h);
      expect(grad[k], `∂GP/∂w[${k}]`).to.be.closeTo(fd, 2e-3 * (1 + Math.abs(fd)));
    }
    saved.forEach((s) => s.dispose());
    D.dispose();
  });
});
