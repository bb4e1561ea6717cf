// Activations and dropout against float64 references.
// Tolerances: LeakyReLU/ReLU forward and backward are one float32 rounding of the exact value: bit-exact.
// tanh/sigmoid forward: relative error <= 1e-6 against Math.tanh / 1/(1+e^-x) (the kernel's own error is ~2e-7).
// tanh/sigmoid backward from y: rtol 1e-6, atol 1e-7·|dy| (the 1 − y² / y(1 − y) factor cancels near saturation).
// Finite differences: central, h = 1e-5, in float64 on the float64 function: truncation ~h² = 1e-10, so the
// float32 backward must agree to rtol 1e-5, atol 1e-6. Dropout: the mask and y must equal, bit for bit, the rule of
// ops.def recomputed from the raw philox4x32 block.
import { expect } from 'chai';
import { Tensor, leakyRelu, leakyReluBackward, relu, reluBackward, tanh, tanhBackward, sigmoid, sigmoidBackward, dropout } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectClose, maxAbs, rng } from '../../helpers';
import { philoxWords, u01 } from '../../helpers/philox-ref';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

const f32 = Math.fround;
const sig = (x: number): number => 1 / (1 + Math.exp(-x));
/** Seeded random [n, c] or [n, c, h, w] shapes with small, mostly odd sizes (batch 1 included). */
function randomShapes(seed: number, count: number): number[][] {
  const r = rng(seed), k = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: count }, () => (r() < 0.3 ? [k(1, 9), k(1, 40)] : [k(1, 6), k(1, 12), k(1, 13), k(1, 13)]));
}
const shapes: number[][] = [[1], [5], [3, 7], [2, 3, 5, 7], [70001], ...randomShapes(21, 4)];
const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** Central finite difference of a float64 elementwise f at x, times the upstream dy. */
const fdElementwise = (f: (x: number) => number, x: ArrayLike<number>, dy: ArrayLike<number>, h = 1e-5): number[] =>
  Array.from(x, (v, i) => ((f(v + h) - f(v - h)) / (2 * h)) * dy[i]);

describe('activations', () => {
  opCase({ ops: ['leaky_relu_forward', 'leaky_relu_backward'], name: 'LeakyReLU and ReLU forward/backward are exact, with the slope side at x = 0 (as PyTorch)', cpu: () => {
    for (const slope of [0.2, 0, 0.01, -0.5]) {
      shapes.forEach((s, k) => {
        const n = numel(s);
        const x = randArray(n, 100 + k, -2, 2);
        x[0] = 0;
        const dy = randArray(n, 200 + k, -1, 1);
        const tx = Tensor.fromArray(x, s), tdy = Tensor.fromArray(dy, s);
        const y = (slope === 0 ? relu(tx) : leakyRelu(tx, slope)).toFloat32Array();
        const dx = (slope === 0 ? reluBackward(tdy, tx) : leakyReluBackward(tdy, tx, slope)).toFloat32Array();
        const sl = f32(slope);
        for (let i = 0; i < n; i++) {
          const wy = x[i] > 0 ? x[i] : f32(sl * x[i]);
          const wdx = x[i] > 0 ? dy[i] : f32(sl * dy[i]);
          if (y[i] !== wy || dx[i] !== wdx) expect.fail(`slope ${slope} [${i}] x=${x[i]}: y ${y[i]} vs ${wy}, dx ${dx[i]} vs ${wdx}`);
        }
      });
    }
  } });

  opCase({ ops: ['leaky_relu_backward'], name: 'LeakyReLU backward matches finite differences', cpu: () => {
    const n = 1000, slope = 0.2;
    const x = randArray(n, 301, -2, 2).map((v) => (Math.abs(v) < 1e-3 ? 0.5 : v));  // away from the kink
    const dy = randArray(n, 302);
    const f = (v: number): number => (v > 0 ? v : slope * v);
    const got = leakyReluBackward(Tensor.fromArray(dy, [n]), Tensor.fromArray(x, [n]), slope).toFloat32Array();
    expectClose(got, fdElementwise(f, x, dy), 1e-5, 1e-6, 'lrelu dx vs FD');
  } });

  opCase({ ops: ['tanh_forward', 'sigmoid_forward'], name: 'tanh and sigmoid forward are within 1e-6 relative of float64', cpu: () => {
    shapes.forEach((s, k) => {
      const n = numel(s);
      const x = randArray(n, 400 + k, -12, 12);
      // a spread of magnitudes: tiny, around the kernel's 0.4 branch point, large
      const special = [0, -0, 1e-30, -1e-7, 3e-4, 0.39999, 0.4, 0.40001, -0.4, 9, -15, 30, -30];
      for (let i = 0; i < Math.min(n, special.length); i++) x[i] = special[i];
      const tx = Tensor.fromArray(x, s);
      expectClose(tanh(tx).toFloat32Array(), Array.from(x, Math.tanh), 1e-6, 0, `tanh ${s}`);
      expectClose(sigmoid(tx).toFloat32Array(), Array.from(x, sig), 1e-6, 0, `sigmoid ${s}`);
    });
  } });

  opCase({ ops: ['tanh_forward', 'sigmoid_forward'], name: 'tanh and sigmoid saturate cleanly and keep NaN', cpu: () => {
    const x = [100, -100, 1e30, -1e30, Infinity, -Infinity, NaN, -0];
    const t = tanh(Tensor.fromArray(x, [x.length])).toArray();
    const s = sigmoid(Tensor.fromArray(x, [x.length])).toArray();
    expect(t.slice(0, 6)).to.deep.equal([1, -1, 1, -1, 1, -1]);
    expect(Number.isNaN(t[6])).to.equal(true);
    expect(Object.is(t[7], -0)).to.equal(true);
    expect(s[0]).to.equal(1);
    expect(s[1]).to.be.at.least(0).and.below(1e-37);  // true value 3.7e-44: flushed or subnormal, never above FLT_MIN
    expect([s[2], s[3], s[4], s[5]]).to.deep.equal([1, 0, 1, 0]);
    expect(Number.isNaN(s[6])).to.equal(true);
    expect(s[7]).to.equal(0.5);
  } });

  opCase({ ops: ['tanh_backward', 'sigmoid_backward'], name: 'tanh and sigmoid backward from y match the float64 formula and finite differences', cpu: () => {
    shapes.forEach((s, k) => {
      const n = numel(s);
      const x = randArray(n, 500 + k, -4, 4), dy = randArray(n, 600 + k, -2, 2);
      const tx = Tensor.fromArray(x, s), tdy = Tensor.fromArray(dy, s);
      const yt = tanh(tx), ys = sigmoid(tx);
      const yta = yt.toFloat32Array(), ysa = ys.toFloat32Array();
      const dxt = tanhBackward(tdy, yt).toFloat32Array(), dxs = sigmoidBackward(tdy, ys).toFloat32Array();
      const atol = 1e-7 * maxAbs(dy);
      expectClose(dxt, Array.from(yta, (y, i) => dy[i] * (1 - y * y)), 1e-6, atol, `tanh' formula ${s}`);
      expectClose(dxs, Array.from(ysa, (y, i) => dy[i] * y * (1 - y)), 1e-6, atol, `sigmoid' formula ${s}`);
      expectClose(dxt, fdElementwise(Math.tanh, x, dy), 1e-5, 1e-6, `tanh' vs FD ${s}`);
      expectClose(dxs, fdElementwise(sig, x, dy), 1e-5, 1e-6, `sigmoid' vs FD ${s}`);
    });
  } });
});

describe('dropout', () => {
  // Odd sizes (a partial last Philox block), a size spanning parallel chunks, a seed above 2^32 (bigint) and an
  // offset above 2^32 so both key words and both counter words are exercised.
  const cases: { shape: number[]; p: number; seed: number | bigint; stream: number; offset: number }[] = [
    { shape: [1], p: 0.5, seed: 1, stream: 0, offset: 0 },
    { shape: [3, 7], p: 0.2, seed: 0x1234567890abcdefn, stream: 3, offset: 5 },
    { shape: [2, 3, 5, 7], p: 0.5, seed: 42, stream: 0xffffffff, offset: 2 ** 32 - 3 },
    { shape: [40003], p: 0.3, seed: 2n ** 64n - 1n, stream: 7, offset: 2 ** 40 + 11 },
    { shape: [4, 9], p: 0, seed: 9, stream: 1, offset: 0 },
  ];

  opCase({ ops: ['dropout_forward'], name: 'mask and y follow the Philox rule (keep iff uniform >= p, mask = keep / (1 − p)) exactly', cpu: () => {
    cases.forEach((c, k) => {
      const n = numel(c.shape);
      const x = randArray(n, 700 + k, -3, 3);
      const { y, mask } = dropout(Tensor.fromArray(x, c.shape), c.p, c);
      expect(y.shape).to.deep.equal(c.shape);
      expect(mask.shape).to.deep.equal(c.shape);
      const words = philoxWords(n, c.seed, c.stream, c.offset);
      const p = f32(c.p), keep = f32(1 / f32(1 - p));
      const ya = y.toFloat32Array(), ma = mask.toFloat32Array();
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const m = u01(words[i]) >= p ? keep : 0;
        kept += m ? 1 : 0;
        if (ma[i] !== m) expect.fail(`case ${k} mask[${i}] = ${ma[i]}, want ${m}`);
        if (ya[i] !== f32(x[i] * m)) expect.fail(`case ${k} y[${i}] = ${ya[i]}, want ${f32(x[i] * m)}`);
      }
      if (n > 10000) expect(Math.abs(kept / n - (1 - c.p))).to.be.below(5 * Math.sqrt(c.p * (1 - c.p) / n));
      if (c.p === 0) expect(kept).to.equal(n);
    });
  } });

  opCase({ ops: ['dropout_forward'], name: 'keeps an element whose uniform equals p exactly (keep iff u >= p)', cpu: () => {
    const r = { seed: 31, stream: 2, offset: 7 };
    const w = philoxWords(16, r.seed, r.stream, r.offset);
    const i = w.findIndex((x) => u01(x) > 0.05 && u01(x) < 0.95);
    const p = u01(w[i]);  // exactly representable in float32
    const { mask } = dropout(Tensor.full([16], 1), p, r);
    const m = mask.toArray();
    expect(m[i]).to.equal(Math.fround(1 / Math.fround(1 - p)));
    for (let j = 0; j < 16; j++) expect(m[j] !== 0).to.equal(u01(w[j]) >= p);
  } });

  opCase({ ops: ['dropout_forward'], name: 'the same (seed, stream, offset) gives the same mask; another stream or offset does not', cpu: () => {
    const x = Tensor.full([1000], 1);
    const a = dropout(x, 0.5, { seed: 5, stream: 1, offset: 10 }).mask.toArray();
    const b = dropout(x, 0.5, { seed: 5n, stream: 1, offset: 10 }).mask.toArray();
    const c = dropout(x, 0.5, { seed: 5, stream: 2, offset: 10 }).mask.toArray();
    const d = dropout(x, 0.5, { seed: 5, stream: 1, offset: 11 }).mask.toArray();
    expect(a).to.deep.equal(b);
    expect(a).to.not.deep.equal(c);
    expect(d.slice(0, 996)).to.deep.equal(a.slice(4));  // one block later = 4 elements later
  } });

  it('rejects bad arguments with errors that name them', () => {
    const x = Tensor.zeros([2, 3]);
    const r = { seed: 1, stream: 0, offset: 0 };
    expect(() => dropout(x, 1, r)).to.throw(/dropoutForward: p must be in \[0, 1\)/);
    expect(() => dropout(x, -0.1, r)).to.throw(/p must be in \[0, 1\)/);
    expect(() => dropout(x, 1 - 1e-9, r)).to.throw(/p must be in \[0, 1\) \(as a float32\)/);
    expect(() => dropout(x, NaN, r)).to.throw(/p.*finite/);
    expect(() => dropout(x, 0.5, { ...r, seed: -1 })).to.throw(/seed.*integer/);
    expect(() => dropout(x, 0.5, { ...r, seed: 1.5 })).to.throw(/seed.*integer/);
    expect(() => dropout(x, 0.5, { ...r, seed: 2n ** 64n })).to.throw(/seed.*64 unsigned bits/);
    expect(() => dropout(x, 0.5, { ...r, seed: -1n })).to.throw(/seed.*64 unsigned bits/);
    expect(() => dropout(x, 0.5, { ...r, stream: -1 })).to.throw(/stream.*integer in \[0, 4294967295\]/);
    expect(() => dropout(x, 0.5, { ...r, stream: 2 ** 32 })).to.throw(/stream/);
    expect(() => dropout(x, 0.5, { ...r, offset: -4 })).to.throw(/offset.*integer/);
    expect(() => native().dropoutForward(x.h, 0.5, 1, 0)).to.throw(/dropoutForward: expected 5 arguments/);
    expect(() => leakyRelu(x, NaN)).to.throw(/slope.*finite/);
    expect(() => leakyReluBackward(Tensor.zeros([3, 2]), x, 0.2)).to.throw(/dy must have shape \[2, 3\]/);
    expect(() => tanhBackward(Tensor.zeros([6]), x)).to.throw(/dy must have shape \[2, 3\]/);
    expect(() => sigmoidBackward(x, Tensor.zeros([2]))).to.throw(/dy must have shape \[2\]/);
    expect(() => native().tanhForward()).to.throw(/tanhForward: expected 1 arguments/);
    expect(() => native().sigmoidForward([1, 2])).to.throw(/x.*must be a Tensor/);
    const d = Tensor.zeros([2]);
    d.dispose();
    expect(() => sigmoid(d)).to.throw(/disposed/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('activations, dropout (CUDA vs the CPU twin)', () => {
  opCase({ ops: ['leaky_relu_forward', 'leaky_relu_backward', 'tanh_forward', 'tanh_backward', 'sigmoid_forward', 'sigmoid_backward'], name: 'LeakyReLU, ReLU, tanh, sigmoid forward and backward', cuda: (dev) => {
    const x = both(dev, [3, 1001], 40, -6, 6), dy = both(dev, [3, 1001], 41);
    same(E.leakyRelu(x.g, 0.2), E.leakyRelu(x.c, 0.2), 0, 0, 'leakyRelu');
    same(E.leakyReluBackward(dy.g, x.g, 0.2), E.leakyReluBackward(dy.c, x.c, 0.2), 0, 0, 'leakyReluBackward');
    same(E.relu(x.g), E.relu(x.c), 0, 0, 'relu');
    const tg = E.tanh(x.g), tc = E.tanh(x.c), sg = E.sigmoid(x.g), sc = E.sigmoid(x.c);
    same(tg, tc, 1e-6, 1e-7, 'tanh');
    same(sg, sc, 1e-6, 1e-7, 'sigmoid');
    same(E.tanhBackward(dy.g, tc.to(dev)), E.tanhBackward(dy.c, tc), 1e-6, 1e-7, 'tanhBackward');
    same(E.sigmoidBackward(dy.g, sc.to(dev)), E.sigmoidBackward(dy.c, sc), 1e-6, 1e-7, 'sigmoidBackward');
  } });

  opCase({ ops: ['dropout_forward'], name: 'dropout draws the same Philox masks on both devices', cuda: (dev) => {
    for (const [n, p] of [[1001, 0.5], [7, 0.2], [4096, 0.9]] as const) {
      const x = both(dev, [n], 50 + n), st = { seed: 12345, stream: 202, offset: 17 };
      const g = E.dropout(x.g, p, st), c = E.dropout(x.c, p, st);
      expect(g.mask.toFloat32Array(), `mask n=${n} p=${p}`).to.deep.equal(c.mask.toFloat32Array());
      same(g.y, c.y, 0, 0, 'dropout y');
    }
  } });
});
