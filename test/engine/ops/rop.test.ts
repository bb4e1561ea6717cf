// Second-order passes of the exact gradient penalty (native/cpu/rop.cc) against float64 references:
// the tangent (jvp) against central differences of a float64 forward along ẋ, and the pair-backward against
// central differences of L = Σȳ·y + Σẏ̄·ẏ (ẏ from the float64 jvp, itself checked first) w.r.t. x, ẋ, γ, β.
import { expect } from 'chai';
import { Tensor, tanhPairBackward, sigmoidPairBackward, batchNormJvp, batchNormPairBackward } from '../../../lib/engine';
import { randArray, expectClose, maxAbs } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);
const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);
const H = 1e-5;

/** Central difference of f at a along direction d (float64). */
function dirDiff(f: (v: Float64Array) => number, a: Float64Array, i: number): number {
  const p = a.slice(), m = a.slice();
  p[i] += H;
  m[i] -= H;
  return (f(p) - f(m)) / (2 * H);
}

describe('rop: activation pair-backward', () => {
  const acts = {
    tanh: { f: Math.tanh, op: tanhPairBackward },
    sigmoid: { f: (v: number) => 1 / (1 + Math.exp(-v)), op: sigmoidPairBackward },
  };
  for (const [name, { f, op }] of Object.entries(acts)) {
    opCase({ ops: [`${name}_pair_backward`], name: `${name}: xbar = σ′ȳ + σ″ẋẏ̄, xdotbar = σ′ẏ̄ match float64 finite differences`, cpu: () => {
      const n = 257;
      const x = f64(f32(randArray(n, 1, -3, 3))), xd = f64(f32(randArray(n, 2)));
      const yb = f64(f32(randArray(n, 3))), ydb = f64(f32(randArray(n, 4)));
      const sp = (v: number) => (f(v + H) - f(v - H)) / (2 * H); // σ′ by differences (float64)
      const wantXb = new Float64Array(n), wantXdb = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        // L_i(x) = ȳ σ(x) + ẏ̄ σ′(x) ẋ; σ′ here analytic from σ so the outer difference is first order only.
        const s1 = (v: number) => (name === 'tanh' ? 1 - Math.tanh(v) ** 2 : f(v) * (1 - f(v)));
        const L = (v: number) => yb[i] * f(v) + ydb[i] * s1(v) * xd[i];
        wantXb[i] = (L(x[i] + H) - L(x[i] - H)) / (2 * H);
        wantXdb[i] = ydb[i] * sp(x[i]);
      }
      const y = Tensor.fromArray(f32(Array.from(x, f)), [n]);
      const r = op(Tensor.fromArray(f32(yb), [n]), Tensor.fromArray(f32(ydb), [n]), y, Tensor.fromArray(f32(xd), [n]));
      expectClose(r.xbar.toArray(), wantXb, 1e-4, 1e-6 * maxAbs(wantXb), 'xbar');
      expectClose(r.xdotbar.toArray(), wantXdb, 1e-4, 1e-6 * maxAbs(wantXdb), 'xdotbar');
      // ybar = null is a zero primal adjoint
      const z = op(null, Tensor.fromArray(f32(ydb), [n]), y, Tensor.fromArray(f32(xd), [n]));
      const z0 = op(Tensor.zeros([n]), Tensor.fromArray(f32(ydb), [n]), y, Tensor.fromArray(f32(xd), [n]));
      expect(z.xbar.toArray()).to.deep.equal(z0.xbar.toArray());
      expect(z.xdotbar.toArray()).to.deep.equal(r.xdotbar.toArray());
    } });
  }

  it('rejects mismatched shapes and non-tensors with the argument name', () => {
    const a = Tensor.zeros([4]), b = Tensor.zeros([5]);
    expect(() => tanhPairBackward(null, a, a, b)).to.throw(/xdot/);
    expect(() => sigmoidPairBackward(b, a, a, a)).to.throw(/ybar/);
    expect(() => tanhPairBackward(null, {} as unknown as Tensor, a, a)).to.throw();
  });
});

// ---- BatchNorm (training mode) in float64: x [n, c, hw] ----
interface Bn { n: number; c: number; hw: number; eps: number }

function bnStats(x: Float64Array, g: Bn): { mu: Float64Array; r: Float64Array } {
  const mu = new Float64Array(g.c), r = new Float64Array(g.c), m = g.n * g.hw;
  for (let ch = 0; ch < g.c; ch++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < g.n; i++) for (let j = 0; j < g.hw; j++) s += x[(i * g.c + ch) * g.hw + j];
    mu[ch] = s / m;
    for (let i = 0; i < g.n; i++) for (let j = 0; j < g.hw; j++) s2 += (x[(i * g.c + ch) * g.hw + j] - mu[ch]) ** 2;
    r[ch] = 1 / Math.sqrt(s2 / m + g.eps);
  }
  return { mu, r };
}

function bnForward(x: Float64Array, gamma: Float64Array, beta: Float64Array, g: Bn): Float64Array {
  const { mu, r } = bnStats(x, g);
  const y = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const ch = Math.floor(k / g.hw) % g.c;
    y[k] = gamma[ch] * (x[k] - mu[ch]) * r[ch] + beta[ch];
  }
  return y;
}

/** Analytic float64 tangent ẏ = γ r (ẋ − mean ẋ − x̂ mean x̂ẋ); checked against differences in the first test. */
function bnJvp(x: Float64Array, xd: Float64Array, gamma: Float64Array, g: Bn): Float64Array {
  const { mu, r } = bnStats(x, g), m = g.n * g.hw;
  const a = new Float64Array(g.c), b = new Float64Array(g.c);
  for (let k = 0; k < x.length; k++) {
    const ch = Math.floor(k / g.hw) % g.c;
    a[ch] += xd[k] / m;
    b[ch] += (x[k] - mu[ch]) * r[ch] * xd[k] / m;
  }
  const yd = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const ch = Math.floor(k / g.hw) % g.c;
    yd[k] = gamma[ch] * r[ch] * (xd[k] - a[ch] - (x[k] - mu[ch]) * r[ch] * b[ch]);
  }
  return yd;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

function bnCase(g: Bn, seed: number) {
  const N = g.n * g.c * g.hw;
  // x with a per-channel offset and scale so the statistics matter
  const x = f64(f32(Array.from(randArray(N, seed), (v, k) => 0.5 + 2 * v + (Math.floor(k / g.hw) % g.c))));
  const xd = f64(f32(randArray(N, seed + 1)));
  const gamma = f64(f32(randArray(g.c, seed + 2, 0.5, 1.5))), beta = f64(f32(randArray(g.c, seed + 3)));
  const yb = f64(f32(randArray(N, seed + 4))), ydb = f64(f32(randArray(N, seed + 5)));
  const { mu, r } = bnStats(x, g);
  const shape = g.hw === 1 ? [g.n, g.c] : [g.n, g.c, g.hw === 6 ? 2 : 1, g.hw === 6 ? 3 : g.hw];
  const T = (a: ArrayLike<number>, s: number[] = shape) => Tensor.fromArray(f32(a), s);
  return { N, x, xd, gamma, beta, yb, ydb, mu, r, shape, T };
}

describe('rop: BatchNorm training mode', () => {
  const geoms: Bn[] = [{ n: 4, c: 3, hw: 6, eps: 1e-5 }, { n: 5, c: 4, hw: 1, eps: 1e-3 }];
  for (const g of geoms) {
    const tag = g.hw === 1 ? '[n, c]' : '[n, c, h, w]';
    opCase({ ops: ['batch_norm_jvp'], name: `jvp matches float64 central differences of the forward along ẋ ${tag}`, cpu: () => {
      const k = bnCase(g, 10);
      const want = new Float64Array(k.N);
      const p = k.x.map((v, i) => v + H * k.xd[i]), m = k.x.map((v, i) => v - H * k.xd[i]);
      const yp = bnForward(p, k.gamma, k.beta, g), ym = bnForward(m, k.gamma, k.beta, g);
      for (let i = 0; i < k.N; i++) want[i] = (yp[i] - ym[i]) / (2 * H);
      expectClose(bnJvp(k.x, k.xd, k.gamma, g), want, 1e-7, 1e-8, 'float64 jvp reference');
      const got = batchNormJvp(k.T(k.xd), k.T(k.x), k.T(k.gamma, [g.c]), k.T(k.mu, [g.c]), k.T(k.r, [g.c]));
      expect(got.shape).to.deep.equal(k.shape);
      expectClose(got.toArray(), want, 1e-4, 1e-5 * maxAbs(want), 'ydot');
    } });

    opCase({ ops: ['batch_norm_pair_backward'], name: `pair-backward matches float64 finite differences of Σȳy + Σẏ̄ẏ ${tag}`, cpu: () => {
      const k = bnCase(g, 20);
      const L = (x: Float64Array, xd: Float64Array, gamma: Float64Array, beta: Float64Array) =>
        dot(k.yb, bnForward(x, gamma, beta, g)) + dot(k.ydb, bnJvp(x, xd, gamma, g));
      const wantXb = k.x.map((_, i) => dirDiff((v) => L(v, k.xd, k.gamma, k.beta), k.x, i));
      const wantXdb = k.xd.map((_, i) => dirDiff((v) => L(k.x, v, k.gamma, k.beta), k.xd, i));
      const wantG = k.gamma.map((_, i) => dirDiff((v) => L(k.x, k.xd, v, k.beta), k.gamma, i));
      const wantB = k.beta.map((_, i) => dirDiff((v) => L(k.x, k.xd, k.gamma, v), k.beta, i));
      // dgamma/dbeta accumulate onto what is there
      const dg = Tensor.full([g.c], 0.25), db = Tensor.full([g.c], -0.5);
      const r = batchNormPairBackward(k.T(k.yb), k.T(k.ydb), k.T(k.x), k.T(k.xd), k.T(k.gamma, [g.c]), k.T(k.mu, [g.c]),
        k.T(k.r, [g.c]), dg, db);
      expectClose(r.xbar.toArray(), wantXb, 1e-4, 1e-5 * maxAbs(wantXb), 'xbar');
      expectClose(r.xdotbar.toArray(), wantXdb, 1e-4, 1e-5 * maxAbs(wantXdb), 'xdotbar');
      expectClose(dg.toArray(), wantG.map((v) => v + 0.25), 1e-4, 1e-5 * maxAbs(wantG), 'dgamma');
      expectClose(db.toArray(), wantB.map((v) => v - 0.5), 1e-4, 1e-5 * maxAbs(wantB), 'dbeta');
    } });
  }

  opCase({ ops: ['batch_norm_pair_backward'], name: 'ybar = null is a zero primal adjoint', cpu: () => {
    const g = geoms[0], k = bnCase(g, 30);
    const run = (yb: Tensor | null) => {
      const dg = Tensor.zeros([g.c]), db = Tensor.zeros([g.c]);
      const r = batchNormPairBackward(yb, k.T(k.ydb), k.T(k.x), k.T(k.xd), k.T(k.gamma, [g.c]), k.T(k.mu, [g.c]),
        k.T(k.r, [g.c]), dg, db);
      return [r.xbar.toArray(), r.xdotbar.toArray(), dg.toArray(), db.toArray()];
    };
    expect(run(null)).to.deep.equal(run(Tensor.zeros(k.shape)));
  } });

  it('rejects bad shapes with the argument name', () => {
    const x = Tensor.zeros([2, 3, 2, 2]), c3 = Tensor.zeros([3]), c4 = Tensor.zeros([4]);
    expect(() => batchNormJvp(x, x, c4, c3, c3)).to.throw(/gamma/);
    expect(() => batchNormJvp(Tensor.zeros([2, 3]), x, c3, c3, c3)).to.throw(/xdot/);
    expect(() => batchNormJvp(Tensor.zeros([3]), Tensor.zeros([3]), c3, c3, c3)).to.throw(/\[n, c\]/);
    expect(() => batchNormJvp(Tensor.zeros([1, 3]), Tensor.zeros([1, 3]), c3, c3, c3)).to.throw(/more than one value/);
    expect(() => batchNormPairBackward(null, x, x, x, c3, c3, c3, c3, c4)).to.throw(/dbeta/);
    expect(() => batchNormPairBackward(Tensor.zeros([2, 3, 2, 1]), x, x, x, c3, c3, c3, c3, c3)).to.throw(/ybar/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('rop: pair-backward, batchnorm jvp (CUDA vs the CPU twin)', () => {
  const bnShape = (n: number, c: number, hw: number): number[] => (hw === 1 ? [n, c] : [n, c, 1, hw]);

  opCase({ ops: ['tanh_pair_backward', 'sigmoid_pair_backward'], name: 'tanh / sigmoid pair-backward (with and without the primal adjoint)', cuda: (dev) => {
    const y = both(dev, [1000], 110, -0.99, 0.99), yb = both(dev, [1000], 111), ydb = both(dev, [1000], 112), xd = both(dev, [1000], 113);
    const ys = both(dev, [1000], 114, 0.01, 0.99);
    for (const withY of [true, false]) {
      const a = E.tanhPairBackward(withY ? yb.g : null, ydb.g, y.g, xd.g), b = E.tanhPairBackward(withY ? yb.c : null, ydb.c, y.c, xd.c);
      same(a.xbar, b.xbar, 1e-6, 1e-7, 'tanh xbar');
      same(a.xdotbar, b.xdotbar, 1e-6, 1e-7, 'tanh xdotbar');
      const s = E.sigmoidPairBackward(withY ? yb.g : null, ydb.g, ys.g, xd.g), t = E.sigmoidPairBackward(withY ? yb.c : null, ydb.c, ys.c, xd.c);
      same(s.xbar, t.xbar, 1e-6, 1e-7, 'sigmoid xbar');
      same(s.xdotbar, t.xdotbar, 1e-6, 1e-7, 'sigmoid xdotbar');
    }
  } });

  for (const [n, c, hw] of [[4, 3, 25], [8, 6, 1], [2, 4, 3000]]) {
    opCase({ ops: ['batch_norm_jvp', 'batch_norm_pair_backward'], name: `batchnorm jvp and pair-backward [${n}, ${c}, ${hw}]`, cuda: (dev) => {
      const sh = bnShape(n, c, hw);
      const x = both(dev, sh, 120), gm = both(dev, [c], 121, 0.5, 1.5), bt = both(dev, [c], 122), xd = both(dev, sh, 123);
      const yb = both(dev, sh, 124), ydb = both(dev, sh, 125);
      const st = E.batchNormTrain(x.c, gm.c, bt.c, Tensor.zeros([c]), Tensor.full([c], 1), 0.1, 1e-5);
      const mean = { c: st.mean, g: st.mean.to(dev) }, inv = { c: st.invstd, g: st.invstd.to(dev) };
      const jc = E.batchNormJvp(xd.c, x.c, gm.c, mean.c, inv.c);
      same(E.batchNormJvp(xd.g, x.g, gm.g, mean.g, inv.g), jc, 1e-4, 1e-5 * maxAbs(jc.toFloat32Array()), 'jvp');
      for (const withY of [true, false]) {
        const dg = both(dev, [c], 126), db = both(dev, [c], 127);
        const a = E.batchNormPairBackward(withY ? yb.g : null, ydb.g, x.g, xd.g, gm.g, mean.g, inv.g, dg.g, db.g);
        const b = E.batchNormPairBackward(withY ? yb.c : null, ydb.c, x.c, xd.c, gm.c, mean.c, inv.c, dg.c, db.c);
        same(a.xbar, b.xbar, 1e-4, 1e-5 * maxAbs(b.xbar.toFloat32Array()), 'xbar');
        same(a.xdotbar, b.xdotbar, 1e-4, 1e-5 * maxAbs(b.xdotbar.toFloat32Array()), 'xdotbar');
        same(dg.g, dg.c, 1e-5, 1e-5 * Math.sqrt(n * hw), 'dgamma');
        same(db.g, db.c, 1e-5, 1e-5 * Math.sqrt(n * hw), 'dbeta');
      }
    } });
  }
});
