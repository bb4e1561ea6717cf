// adamStep against a float64 re-implementation of torch.optim.Adam (L2 weight decay added to the gradient, bias
// correction with step counted from 1), over several steps and several tensors at once.
// Tolerances, after 6 steps: parameters rtol 1e-6 + atol 1e-6·lr (each update is at most ~lr, computed to float32
// precision); m: rtol 1e-5 + atol 1e-7·max|g| (m is a signed sum of O(|g|) terms that can cancel); v: rtol 2e-6
// (a positive sum, float32 rounding only). β crosses the binding as a double and 1 − β is formed in double before
// rounding, as PyTorch does; with 1 − fround(0.999) formed in float32 v would be 1.3e-5 off and fail this bound.
import { expect } from 'chai';
import { Tensor, adamStep, AdamHyper } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectClose } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

/** One torch.optim.Adam step in float64 on plain arrays. */
function adamRef(p: number[], g: ArrayLike<number>, m: number[], v: number[], h: AdamHyper): void {
  const bc1 = 1 - h.beta1 ** h.step, bc2 = 1 - h.beta2 ** h.step;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + h.weightDecay * p[i];
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * gi;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * gi * gi;
    p[i] -= (h.lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps));
  }
}

describe('adamStep', () => {
  // a conv-sized tensor spanning several parallel chunks, small BN-like vectors, a scalar, an empty tensor
  const shapes = [[64, 32, 4, 4], [7], [1], [3, 5], [0, 4], [100003]];

  for (const weightDecay of [0, 0.01]) {
    opCase({ ops: ['adam_step'], name: `matches float64 torch.optim.Adam over 6 steps (weight decay ${weightDecay})`, cpu: () => {
      const lr = 2e-4, base = { lr, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay };
      const p0 = shapes.map((s, k) => randArray(s.reduce((a, b) => a * b, 1), 1300 + k, -0.1, 0.1));
      const P = p0.map((a, k) => Tensor.fromArray(a, shapes[k]));
      const M = shapes.map((s) => Tensor.zeros(s)), V = shapes.map((s) => Tensor.zeros(s));
      const rp = p0.map((a) => Array.from(a)), rm = p0.map((a) => Array.from(a, () => 0)), rv = p0.map((a) => Array.from(a, () => 0));
      for (let step = 1; step <= 6; step++) {
        // gradients of mixed scales, including tiny ones where √v̂ is comparable to eps
        const G = shapes.map((s, k) => Float32Array.from(randArray(s.reduce((a, b) => a * b, 1), 1400 + 10 * step + k, -1, 1),
          (x, i) => x * (i % 3 === 0 ? 1e-7 : i % 3 === 1 ? 1e-2 : 1)));
        const h = { ...base, step };
        adamStep(P, G.map((g, k) => Tensor.fromArray(g, shapes[k])), M, V, h);
        rp.forEach((p, k) => adamRef(p, G[k], rm[k], rv[k], h));
      }
      shapes.forEach((s, k) => {
        expect(P[k].shape).to.deep.equal(s);
        expectClose(P[k].toFloat32Array(), rp[k], 1e-6, 1e-6 * lr, `param ${s}`);
        expectClose(M[k].toFloat32Array(), rm[k], 1e-5, 1e-7, `m ${s}`);
        expectClose(V[k].toFloat32Array(), rv[k], 2e-6, 0, `v ${s}`);
      });
    } });
  }

  opCase({ ops: ['adam_step'], name: 'uses the step it is given for the bias correction (step 1: the update is ≈ lr·sign(g))', cpu: () => {
    const p = Tensor.fromArray([1, 1, 1], [3]), m = Tensor.zeros([3]), v = Tensor.zeros([3]);
    adamStep([p], [Tensor.fromArray([0.5, -2, 1e-3], [3])], [m], [v], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
    // step 1: m̂ = g, v̂ = g², so p −= lr·g/(|g| + eps)
    expectClose(p.toFloat32Array(), [0.5, -2, 1e-3].map((g) => 1 - (0.1 * g) / (Math.abs(g) + 1e-8)), 1e-7, 0, 'first step');
    // at step 3 with the same state the corrections are 1 − β^3
    const rp = [1, 1], rm = [0.2, -0.1], rv = [0.01, 0.003], g = [0.3, 0.4];
    const h = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3 };
    const P = Tensor.fromArray(rp, [2]), M = Tensor.fromArray(rm, [2]), V = Tensor.fromArray(rv, [2]);
    adamStep([P], [Tensor.fromArray(g, [2])], [M], [V], h);
    adamRef(rp, g, rm, rv, h);
    expectClose(P.toFloat32Array(), rp, 1e-6, 1e-9, 'step 3 params');
    expectClose(M.toFloat32Array(), rm, 1e-6, 1e-9, 'step 3 m');
    adamStep([], [], [], [], h);  // nothing to do
  } });

  it('rejects bad arguments with errors that name them', () => {
    const p = Tensor.zeros([2, 3]), g = Tensor.zeros([2, 3]), m = Tensor.zeros([2, 3]), v = Tensor.zeros([2, 3]);
    const h: AdamHyper = { lr: 1e-3, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
    expect(() => adamStep([p], [g, g], [m], [v], h)).to.throw(/params, grads, m and v must have the same length, got 1, 2, 1, 1/);
    expect(() => adamStep([p], [Tensor.zeros([3, 2])], [m], [v], h)).to.throw(/grads\[0\] must have shape \[2, 3\]/);
    expect(() => adamStep([p, Tensor.zeros([4])], [g, Tensor.zeros([4])], [m, Tensor.zeros([4])], [v, Tensor.zeros([5])], h))
      .to.throw(/v\[1\] must have shape \[4\], got \[5\]/);
    expect(() => adamStep([p], [g], [m], [m], h)).to.throw(/adamStep: v\[0\] shares storage with m\[0\]; every tensor must be distinct/);
    expect(() => adamStep([p], [p], [m], [v], h)).to.throw(/grads\[0\] shares storage with params\[0\]/);
    const p2 = Tensor.zeros([2, 3]), g2 = Tensor.zeros([2, 3]), v2 = Tensor.zeros([2, 3]);
    expect(() => adamStep([p, p2], [g, g2], [m, p.reshape([2, 3])], [v, v2], h)).to.throw(/m\[1\] shares storage with params\[0\]/);
    expect(() => adamStep([p, p], [g, g2], [m, Tensor.zeros([2, 3])], [v, v2], h)).to.throw(/params\[1\] shares storage with params\[0\]/);
    expect(() => adamStep([p], [g], [m], [p.reshape([6])], h)).to.throw(/v\[0\] must have shape/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, lr: -1 })).to.throw(/lr must be >= 0/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, beta1: 1 })).to.throw(/beta1 must be in \[0, 1\)/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, beta2: -0.1 })).to.throw(/beta2 must be in \[0, 1\)/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, eps: 0 })).to.throw(/eps must be > 0/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, weightDecay: -1e-4 })).to.throw(/weightDecay must be >= 0/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, step: 0 })).to.throw(/step.*integer in \[1,/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, step: 1.5 })).to.throw(/step.*integer/);
    expect(() => adamStep([p], [g], [m], [v], { ...h, lr: NaN })).to.throw(/lr.*finite/);
    expect(() => native().adamStep(p.h, [g.h], [m.h], [v.h], 1e-3, 0.5, 0.999, 1e-8, 0, 1)).to.throw(/params.*array of Tensors/);
    expect(() => native().adamStep([p.h], [g.h, 3], [m.h], [v.h], 1e-3, 0.5, 0.999, 1e-8, 0, 1)).to.throw(/grads.*\[1\] must be a Tensor/);
    expect(() => native().adamStep([p.h], [g.h], [m.h], [v.h], 1e-3, 0.5, 0.999, 1e-8, 0)).to.throw(/adamStep: expected 10 arguments/);
    const d = Tensor.zeros([2, 3]);
    d.dispose();
    expect(() => adamStep([p], [g], [d], [v], h)).to.throw(/m.*\[0\] is a disposed tensor/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('adamStep (CUDA vs the CPU twin)', () => {
  opCase({ ops: ['adam_step'], name: 'Adam over 60 tensors in one call (two launches), with and without weight decay', cuda: (dev) => {
    const sizes = Array.from({ length: 60 }, (_, i) => (i * 37) % 500 + (i % 7 === 0 ? 0 : 1));
    const mk = (seed: number, lo = -1, hi = 1) => sizes.map((s, i) => both(dev, [s], seed * 1000 + i, lo, hi));
    const p = mk(1), g = mk(2), m = mk(3, -0.1, 0.1), v = mk(4, 0, 0.01);
    for (const [step, wd] of [[1, 0], [2, 0.01], [3, 0]]) {
      const h = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: wd, step };
      E.adamStep(p.map((t) => t.g), g.map((t) => t.g), m.map((t) => t.g), v.map((t) => t.g), h);
      E.adamStep(p.map((t) => t.c), g.map((t) => t.c), m.map((t) => t.c), v.map((t) => t.c), h);
    }
    p.forEach((t, i) => same(t.g, t.c, 1e-6, 1e-9, `param ${i}`));
    m.forEach((t, i) => same(t.g, t.c, 1e-6, 1e-9, `m ${i}`));
    v.forEach((t, i) => same(t.g, t.c, 1e-6, 1e-12, `v ${i}`));
  } });
});
