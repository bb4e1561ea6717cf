// BatchNorm (PyTorch semantics) against float64 references written here.
// Tolerances (float32 kernels, float64 references): y: rtol 1e-6 + atol 1e-6·max|y| (the kernel forms x − mean in
// float64, so this holds even when |mean| ≫ std); mean, invstd, running stats: rtol 1e-5; dx, dgamma, dbeta
// (formed from the float32 saved mean, like PyTorch, so they lose ~ulp(mean)/std) against the float64 analytic
// backward: rtol 1e-4 + atol 1e-5·(largest term of the difference that forms dx; see bnBackwardRef). The analytic
// float64 backward is itself checked against central finite differences (h = 1e-6) of the float64 forward to
// rtol 1e-7 + 100× their rounding noise, and the float32 kernel against the same finite differences.
// Decision for one value per channel (n·h·w = 1) in training mode: an error, as in PyTorch (the unbiased variance
// of the running-var update is undefined there); n = 1 with h·w > 1 is fine.
import { expect } from 'chai';
import { Tensor, batchNormTrain, batchNormEval, batchNormBackward } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectClose, maxAbs, rng } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

type Arr = ArrayLike<number>;
const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const geom = (s: number[]): { n: number; c: number; hw: number } => ({ n: s[0], c: s[1], hw: s.length === 4 ? s[2] * s[3] : 1 });

/** float64 training-mode BatchNorm: batch mean, biased var, invstd and y. */
function bnRef(x: Arr, s: number[], gamma: Arr, beta: Arr, eps: number) {
  const { n, c, hw } = geom(s);
  const N = n * hw, mean = new Float64Array(c), vr = new Float64Array(c), invstd = new Float64Array(c);
  const y = new Float64Array(x.length);
  for (let ch = 0; ch < c; ch++) {
    let m = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) m += x[(i * c + ch) * hw + j];
    m /= N;
    let v = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) v += (x[(i * c + ch) * hw + j] - m) ** 2;
    v /= N;
    mean[ch] = m; vr[ch] = v; invstd[ch] = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) {
      const k = (i * c + ch) * hw + j;
      y[k] = (x[k] - m) * invstd[ch] * gamma[ch] + beta[ch];
    }
  }
  return { y, mean, vr, invstd };
}

/**
 * float64 analytic training-mode backward. `scale` is the largest term γ·invstd·(|dy| + |mean dy| + |x̂·mean(dy·x̂)|)
 * that dx is a difference of: float32 rounding errors are relative to it, not to dx (with n·h·w = 2, dx ≈ 0).
 */
function bnBackwardRef(dy: Arr, x: Arr, s: number[], gamma: Arr, eps: number) {
  const { n, c, hw } = geom(s);
  const N = n * hw, { mean, invstd } = bnRef(x, s, gamma, new Float64Array(c), eps);
  const dx = new Float64Array(x.length), dgamma = new Float64Array(c), dbeta = new Float64Array(c);
  let scale = 0;
  for (let ch = 0; ch < c; ch++) {
    let sdy = 0, sdyx = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) {
      const k = (i * c + ch) * hw + j;
      sdy += dy[k]; sdyx += dy[k] * (x[k] - mean[ch]) * invstd[ch];
    }
    dgamma[ch] = sdyx; dbeta[ch] = sdy;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) {
      const k = (i * c + ch) * hw + j, xh = (x[k] - mean[ch]) * invstd[ch], g = Math.abs(gamma[ch] * invstd[ch]);
      dx[k] = gamma[ch] * invstd[ch] * (dy[k] - sdy / N - xh * sdyx / N);
      scale = Math.max(scale, g * (Math.abs(dy[k]) + Math.abs(sdy / N) + Math.abs(xh * sdyx / N)));
    }
  }
  return { dx, dgamma, dbeta, scale };
}

/** Central differences of L = Σ w·y(x, γ, β) in float64; `noise` = 1e-16·Σ|w·y|/h bounds their rounding error. */
function bnFiniteDiff(w: Arr, x: Arr, s: number[], gamma: Arr, beta: Arr, eps: number, h = 1e-6) {
  const L = (xx: Arr, g: Arr, b: Arr): number => bnRef(xx, s, g, b, eps).y.reduce((a, v, i) => a + v * w[i], 0);
  const grad = (v: Arr, f: (vv: Float64Array) => number): number[] => Array.from(v, (_, i) => {
    const p = Float64Array.from(v), m = Float64Array.from(v);
    p[i] += h; m[i] -= h;
    return (f(p) - f(m)) / (2 * h);
  });
  const y = bnRef(x, s, gamma, beta, eps).y;
  return {
    noise: 1e-16 * y.reduce((a, v, i) => a + Math.abs(v * w[i]), 0) / h,
    dx: grad(x, (xx) => L(xx, gamma, beta)),
    dgamma: grad(gamma, (g) => L(x, g, beta)),
    dbeta: grad(beta, (b) => L(x, gamma, b)),
  };
}

// Odd sizes; n = 1 with spatial extent; [n, c] (hw = 1, the path after a Dense); [n, c, 1, 1]; 4×4 maps with many
// channels; a large channel that spans parallel work.
/** Seeded random [n, c] or [n, c, h, w] shapes with small, mostly odd sizes (batch 1 included). */
function randomShapes(seed: number, count: number): number[][] {
  const r = rng(seed), k = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: count }, () => (r() < 0.3 ? [k(1, 9), k(1, 40)] : [k(1, 6), k(1, 12), k(1, 13), k(1, 13)]));
}
// plus seeded random shapes (those with one value per channel dropped: they are tested as errors below).
const shapes: number[][] = [[5, 3, 7, 9], [1, 4, 3, 5], [6, 11], [2, 3, 1, 1], [1, 2, 1, 2], [3, 64, 4, 4], [2, 2, 130, 131], [9, 300],
  ...randomShapes(31, 8).filter((s) => numel(s) / s[1] > 1)];

function inputs(s: number[], seed: number) {
  const c = s[1];
  // channel-dependent offset and scale so statistics differ per channel
  const x = randArray(numel(s), seed, -1, 1).map((v, i) => 0.5 + (Math.floor(i / geom(s).hw) % c) * 0.3 + 2 * v);
  return { x, gamma: randArray(c, seed + 1, 0.5, 1.5), beta: randArray(c, seed + 2, -0.5, 0.5),
    rm: randArray(c, seed + 3, -0.2, 0.2), rv: randArray(c, seed + 4, 0.5, 2) };
}

describe('batchnorm', () => {
  opCase({ ops: ['batch_norm_forward_train'], name: 'training forward: y, mean, invstd and the PyTorch running-stat update', cpu: () => {
    shapes.forEach((s, k) => {
      const { x, gamma, beta, rm, rv } = inputs(s, 1000 + 10 * k);
      const { n, c, hw } = geom(s);
      const eps = 1e-5, mom = 0.1, N = n * hw;
      const trm = Tensor.fromArray(rm, [c]), trv = Tensor.fromArray(rv, [c]);
      const out = batchNormTrain(Tensor.fromArray(x, s), Tensor.fromArray(gamma, [c]), Tensor.fromArray(beta, [c]), trm, trv, mom, eps);
      const ref = bnRef(x, s, gamma, beta, eps);
      expect(out.y.shape).to.deep.equal(s);
      expect(out.mean.shape).to.deep.equal([c]);
      expectClose(out.y.toFloat32Array(), ref.y, 1e-6, 1e-6 * maxAbs(ref.y), `y ${s}`);
      expectClose(out.mean.toFloat32Array(), ref.mean, 1e-5, 1e-6, `mean ${s}`);
      expectClose(out.invstd.toFloat32Array(), ref.invstd, 1e-5, 0, `invstd ${s}`);
      // torch.nn.BatchNorm: running = (1 − momentum)·running + momentum·batch, with the unbiased batch variance
      expectClose(trm.toFloat32Array(), Array.from(rm, (v, i) => (1 - mom) * v + mom * ref.mean[i]), 1e-5, 1e-6, `runMean ${s}`);
      expectClose(trv.toFloat32Array(), Array.from(rv, (v, i) => (1 - mom) * v + mom * ref.vr[i] * N / (N - 1)), 1e-5, 0, `runVar ${s}`);
    });
  } });

  opCase({ ops: ['batch_norm_forward_train'], name: 'running stats follow the PyTorch recursion over several steps, and momentum 0 / 1', cpu: () => {
    const s = [4, 3, 5, 5], c = 3, N = 4 * 25, eps = 1e-3;
    const { gamma, beta } = inputs(s, 2000);
    let rm = [0, 0, 0], rv = [1, 1, 1];
    const trm = Tensor.fromArray(rm, [c]), trv = Tensor.fromArray(rv, [c]);
    for (let step = 0; step < 4; step++) {
      const x = inputs(s, 2100 + step).x.map((v) => v * (step + 1));
      batchNormTrain(Tensor.fromArray(x, s), Tensor.fromArray(gamma, [c]), Tensor.fromArray(beta, [c]), trm, trv, 0.1, eps);
      const r = bnRef(x, s, gamma, beta, eps);
      rm = rm.map((v, i) => 0.9 * v + 0.1 * r.mean[i]);
      rv = rv.map((v, i) => 0.9 * v + 0.1 * r.vr[i] * N / (N - 1));
    }
    expectClose(trm.toFloat32Array(), rm, 1e-5, 1e-6, 'runMean after 4 steps');
    expectClose(trv.toFloat32Array(), rv, 1e-5, 0, 'runVar after 4 steps');

    const x = inputs(s, 2200).x, r = bnRef(x, s, gamma, beta, eps);
    const m0 = Tensor.fromArray([1, 2, 3], [c]), v0 = Tensor.fromArray([4, 5, 6], [c]);
    batchNormTrain(Tensor.fromArray(x, s), Tensor.fromArray(gamma, [c]), Tensor.fromArray(beta, [c]), m0, v0, 0, eps);
    expect(m0.toArray()).to.deep.equal([1, 2, 3]);
    expect(v0.toArray()).to.deep.equal([4, 5, 6]);
    batchNormTrain(Tensor.fromArray(x, s), Tensor.fromArray(gamma, [c]), Tensor.fromArray(beta, [c]), m0, v0, 1, eps);
    expectClose(m0.toFloat32Array(), r.mean, 1e-6, 1e-7, 'momentum 1 mean');
    expectClose(v0.toFloat32Array(), Array.from(r.vr, (v) => v * N / (N - 1)), 1e-6, 0, 'momentum 1 var');
  } });

  opCase({ ops: ['batch_norm_forward_train'], name: 'stays accurate when |mean| ≫ std (shifted accumulation)', cpu: () => {
    const s = [8, 2, 16, 16], c = 2;
    const x = randArray(numel(s), 2300, -1, 1).map((v) => 1000 + v);  // std ≈ 0.58 around 1000
    const gamma = [1, 2], beta = [0, 0.5], eps = 1e-5;
    const out = batchNormTrain(Tensor.fromArray(x, s), Tensor.fromArray(gamma, [c]), Tensor.fromArray(beta, [c]),
      Tensor.zeros([c]), Tensor.full([c], 1), 0.1, eps);
    const ref = bnRef(Float32Array.from(x), s, gamma, beta, eps);
    expectClose(out.invstd.toFloat32Array(), ref.invstd, 1e-5, 0, 'invstd at mean 1000');
    // x − mean in float32 would cost ulp(1000)/std ≈ 1e-4 here; the kernel's float64 affine keeps y to float32 rounding
    expectClose(out.y.toFloat32Array(), ref.y, 1e-6, 1e-6 * maxAbs(ref.y), 'y at mean 1000');
  } });

  opCase({ ops: ['batch_norm_forward_eval'], name: 'eval forward uses the running statistics', cpu: () => {
    shapes.concat([[1, 5], [1, 3, 1, 1]]).forEach((s, k) => {
      const { x, gamma, beta, rm, rv } = inputs(s, 3000 + 10 * k);
      const { n, c, hw } = geom(s);
      const eps = 1e-3;
      const y = batchNormEval(Tensor.fromArray(x, s), Tensor.fromArray(gamma, [c]), Tensor.fromArray(beta, [c]),
        Tensor.fromArray(rm, [c]), Tensor.fromArray(rv, [c]), eps).toFloat32Array();
      const want = Array.from(x, (v, i) => {
        const ch = Math.floor(i / hw) % c;
        return (v - rm[ch]) / Math.sqrt(rv[ch] + eps) * gamma[ch] + beta[ch];
      });
      expect(y.length).to.equal(n * c * hw);
      expectClose(y, want, 1e-6, 1e-6 * maxAbs(want), `eval ${s}`);
    });
  } });

  opCase({ ops: ['batch_norm_backward'], name: 'backward through the batch statistics matches the float64 analytic gradient (dgamma, dbeta accumulate)', cpu: () => {
    shapes.forEach((s, k) => {
      const { x, gamma, beta } = inputs(s, 4000 + 10 * k);
      const c = s[1], eps = 1e-5;
      const dy = randArray(numel(s), 4001 + 10 * k, -1, 1);
      const tx = Tensor.fromArray(x, s), tg = Tensor.fromArray(gamma, [c]);
      const f = batchNormTrain(tx, tg, Tensor.fromArray(beta, [c]), Tensor.zeros([c]), Tensor.full([c], 1), 0.1, eps);
      const dg0 = randArray(c, 4002 + 10 * k), db0 = randArray(c, 4003 + 10 * k);
      const tdg = Tensor.fromArray(dg0, [c]), tdb = Tensor.fromArray(db0, [c]);
      const dx = batchNormBackward(Tensor.fromArray(dy, s), tx, tg, f.mean, f.invstd, tdg, tdb);
      const ref = bnBackwardRef(dy, Float32Array.from(x), s, gamma, eps);
      expect(dx.shape).to.deep.equal(s);
      expectClose(dx.toFloat32Array(), ref.dx, 1e-4, 1e-5 * ref.scale, `dx ${s}`);
      expectClose(tdg.toFloat32Array(), Array.from(ref.dgamma, (v, i) => v + dg0[i]), 1e-4, 1e-5 * maxAbs(ref.dgamma), `dgamma ${s}`);
      expectClose(tdb.toFloat32Array(), Array.from(ref.dbeta, (v, i) => v + db0[i]), 1e-4, 1e-5 * maxAbs(ref.dbeta), `dbeta ${s}`);
    });
  } });

  opCase({ ops: ['batch_norm_backward'], name: 'backward matches finite differences of the float64 forward', cpu: () => {
    for (const s of [[3, 2, 2, 3], [1, 3, 2, 2], [5, 4], [2, 1, 1, 1]]) {
      const { x, gamma, beta } = inputs(s, 5000 + s[0]);
      const c = s[1], eps = 1e-5;
      const xf = Float32Array.from(x);
      const w = randArray(numel(s), 5001 + s[0], -1, 1);
      const fd = bnFiniteDiff(w, xf, s, gamma, beta, eps);
      const an = bnBackwardRef(w, xf, s, gamma, eps);
      expectClose(an.dx, fd.dx, 1e-7, 100 * fd.noise, `analytic dx vs FD ${s}`);
      expectClose(an.dgamma, fd.dgamma, 1e-7, 100 * fd.noise, `analytic dgamma vs FD ${s}`);
      expectClose(an.dbeta, fd.dbeta, 1e-7, 100 * fd.noise, `analytic dbeta vs FD ${s}`);
      const tx = Tensor.fromArray(x, s), tg = Tensor.fromArray(gamma, [c]);
      const f = batchNormTrain(tx, tg, Tensor.fromArray(beta, [c]), Tensor.zeros([c]), Tensor.full([c], 1), 0.1, eps);
      const tdg = Tensor.zeros([c]), tdb = Tensor.zeros([c]);
      const dx = batchNormBackward(Tensor.fromArray(w, s), tx, tg, f.mean, f.invstd, tdg, tdb);
      expectClose(dx.toFloat32Array(), fd.dx, 1e-4, Math.max(1e-5 * an.scale, 100 * fd.noise), `dx vs FD ${s}`);
      expectClose(tdg.toFloat32Array(), fd.dgamma, 1e-4, 1e-5 * maxAbs(fd.dgamma), `dgamma vs FD ${s}`);
      expectClose(tdb.toFloat32Array(), fd.dbeta, 1e-4, 1e-5 * maxAbs(fd.dbeta), `dbeta vs FD ${s}`);
    }
  } });

  it('one value per channel in training mode is an error; eval mode accepts it', () => {
    for (const s of [[1, 3], [1, 3, 1, 1]]) {
      const t = Tensor.zeros(s), p = Tensor.full([3], 1);
      expect(() => batchNormTrain(t, p, p, Tensor.zeros([3]), Tensor.full([3], 1), 0.1, 1e-5))
        .to.throw(/batchNormForwardTrain: expected more than 1 value per channel in training mode/);
      expect(batchNormEval(t, p, Tensor.zeros([3]), Tensor.zeros([3]), Tensor.full([3], 1), 1e-5).shape).to.deep.equal(s);
    }
  });

  it('rejects bad arguments with errors that name them', () => {
    const x = Tensor.zeros([4, 3, 2, 2]), p = Tensor.full([3], 1), q = Tensor.full([4], 1);
    const rm = Tensor.zeros([3]), rv = Tensor.full([3], 1);
    expect(() => batchNormTrain(Tensor.zeros([4, 3, 2]), p, p, rm, rv, 0.1, 1e-5)).to.throw(/x must be \[n, c\] or \[n, c, h, w\]/);
    expect(() => batchNormTrain(Tensor.zeros([12]), p, p, rm, rv, 0.1, 1e-5)).to.throw(/x must be \[n, c\]/);
    expect(() => batchNormTrain(x, q, p, rm, rv, 0.1, 1e-5)).to.throw(/gamma must have shape \[3\], got \[4\]/);
    expect(() => batchNormTrain(x, p, q, rm, rv, 0.1, 1e-5)).to.throw(/beta must have shape \[3\]/);
    expect(() => batchNormTrain(x, p, p, q, rv, 0.1, 1e-5)).to.throw(/runMean must have shape \[3\]/);
    expect(() => batchNormTrain(x, p, p, rm, Tensor.zeros([1, 3]), 0.1, 1e-5)).to.throw(/runVar must have shape \[3\]/);
    expect(() => batchNormTrain(x, p, p, rm, rv, 1.5, 1e-5)).to.throw(/momentum must be in \[0, 1\]/);
    expect(() => batchNormTrain(x, p, p, rm, rv, -0.1, 1e-5)).to.throw(/momentum must be in \[0, 1\]/);
    expect(() => batchNormTrain(x, p, p, rm, rv, 0.1, 0)).to.throw(/eps must be > 0/);
    expect(() => batchNormTrain(x, p, p, rm, rv, 0.1, NaN)).to.throw(/eps.*finite/);
    expect(() => batchNormEval(x, p, p, rm, rv, -1)).to.throw(/batchNormForwardEval: eps must be > 0/);
    expect(() => batchNormEval(x, p, p, rm, q, 1e-5)).to.throw(/runVar must have shape \[3\]/);
    expect(() => native().batchNormForwardEval(x.h, p.h, p.h, rm.h, rv.h)).to.throw(/expected 6 arguments/);
    const dy = Tensor.zeros([4, 3, 2, 2]);
    expect(() => batchNormBackward(Tensor.zeros([4, 3, 4]), x, p, rm, rv, Tensor.zeros([3]), Tensor.zeros([3]))).to.throw(/dy must have shape \[4, 3, 2, 2\]/);
    expect(() => batchNormBackward(dy, x, p, q, rv, Tensor.zeros([3]), Tensor.zeros([3]))).to.throw(/mean must have shape \[3\]/);
    expect(() => batchNormBackward(dy, x, p, rm, rv, Tensor.zeros([2]), Tensor.zeros([3]))).to.throw(/dgamma must have shape \[3\]/);
    expect(() => batchNormBackward(dy, x, p, rm, rv, Tensor.zeros([3]), {} as Tensor)).to.throw();
    expect(() => native().batchNormBackward(dy.h, x.h, p.h, rm.h, rv.h, p.h, 3)).to.throw(/dbeta.*must be a Tensor/);
    rm.dispose();
    expect(() => batchNormTrain(x, p, p, rm, rv, 0.1, 1e-5)).to.throw(/runMean.*disposed/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('batchnorm (CUDA vs the CPU twin)', () => {
  const bnShape = (n: number, c: number, hw: number): number[] => (hw === 1 ? [n, c] : [n, c, 1, hw]);
  for (const [n, c, hw, off] of [[4, 3, 25, 0], [8, 16, 1, 0], [2, 5, 4099, 0], [3, 4, 64, 1000]]) {
    opCase({ ops: ['batch_norm_forward_train', 'batch_norm_forward_eval', 'batch_norm_backward'], name: `train / eval / backward [${n}, ${c}, ${hw}]${off ? ' with mean ≫ std' : ''}`, cuda: (dev) => {
      const x = both(dev, bnShape(n, c, hw), 100, off - 1, off + 1), gm = both(dev, [c], 101, 0.5, 1.5), bt = both(dev, [c], 102);
      const rm = both(dev, [c], 103), rv = both(dev, [c], 104, 0.5, 2), dy = both(dev, bnShape(n, c, hw), 105);
      const g = E.batchNormTrain(x.g, gm.g, bt.g, rm.g, rv.g, 0.1, 1e-5), k = E.batchNormTrain(x.c, gm.c, bt.c, rm.c, rv.c, 0.1, 1e-5);
      same(g.mean, k.mean, 1e-6, 1e-6, 'mean');
      same(g.invstd, k.invstd, 1e-5, 0, 'invstd');
      same(g.y, k.y, 1e-5, 1e-5, 'y');
      same(rm.g, rm.c, 1e-6, 1e-6, 'running mean');
      same(rv.g, rv.c, 1e-5, 1e-6, 'running var');
      same(E.batchNormEval(x.g, gm.g, bt.g, rm.g, rv.g, 1e-5), E.batchNormEval(x.c, gm.c, bt.c, rm.c, rv.c, 1e-5), 1e-5, 1e-5, 'eval y');
      const dgg = both(dev, [c], 106), dbg = both(dev, [c], 107);
      const dxg = E.batchNormBackward(dy.g, x.g, gm.g, g.mean, g.invstd, dgg.g, dbg.g);
      const dxc = E.batchNormBackward(dy.c, x.c, gm.c, k.mean, k.invstd, dgg.c, dbg.c);
      const scale = maxAbs(dxc.toFloat32Array());
      same(dxg, dxc, 1e-4, 1e-5 * scale, 'dx');
      same(dgg.g, dgg.c, 1e-5, 1e-5 * Math.sqrt(n * hw), 'dgamma');
      same(dbg.g, dbg.c, 1e-5, 1e-5 * Math.sqrt(n * hw), 'dbeta');
    } });
  }
});
