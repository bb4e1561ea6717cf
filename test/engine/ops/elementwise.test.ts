// Elementwise ops, sum and bias add/grad against float64 loops. Tolerances: add/mul/scale/biasAdd are single
// float32 roundings of the exact result, so they must equal Math.fround of the float64 value bit for bit; axpy may
// be fused (one rounding instead of two): rtol 1e-6; sum is float64-accumulated: |err| <= 1e-12·Σ|x|; biasGrad is
// a float64 sum rounded to float32 and added to db in float32: rtol 1e-6 + atol 1e-6·Σ|dy|/n.
import { expect } from 'chai';
import { Tensor, add, mul, scale, axpy, fill, sum, mean, biasAdd, biasGrad, lerpRows, firstNonFinite } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectClose, rng } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

const f32 = Math.fround;
const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
// Odd sizes, a single element, an empty tensor, sizes that span several parallel blocks (32768 elements), and
// seeded random shapes.
/** Seeded random [n, c] or [n, c, h, w] shapes with small, mostly odd sizes (batch 1 included). */
function randomShapes(seed: number, count: number): number[][] {
  const r = rng(seed), k = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: count }, () => (r() < 0.3 ? [k(1, 9), k(1, 40)] : [k(1, 6), k(1, 12), k(1, 13), k(1, 13)]));
}
const shapes: number[][] = [[1], [7], [3, 5], [2, 3, 5, 7], [0, 4], [100003], [3, 33000], ...randomShapes(11, 6)];

describe('elementwise', () => {
  opCase({ ops: ['add', 'mul', 'scale'], name: 'add, mul and scale are single roundings of the float64 result', cpu: () => {
    shapes.forEach((s, k) => {
      const n = numel(s);
      const a = randArray(n, 10 + k, -3, 3), b = randArray(n, 20 + k, -3, 3);
      const ta = Tensor.fromArray(a, s), tb = Tensor.fromArray(b, s);
      const alpha = -1.37;
      const ys = [add(ta, tb), mul(ta, tb), scale(ta, alpha)];
      for (const y of ys) expect(y.shape).to.deep.equal(s);
      const [ya, ym, ysc] = ys.map((t) => t.toFloat32Array());
      for (let i = 0; i < n; i++) {
        if (ya[i] !== f32(a[i] + b[i])) expect.fail(`add[${i}] ${ya[i]} != ${f32(a[i] + b[i])} (shape ${s})`);
        if (ym[i] !== f32(a[i] * b[i])) expect.fail(`mul[${i}] ${ym[i]} != ${f32(a[i] * b[i])}`);
        if (ysc[i] !== f32(f32(alpha) * a[i])) expect.fail(`scale[${i}]`);
      }
    });
  } });

  opCase({ ops: ['axpy', 'fill'], name: 'axpy and fill work in place', cpu: () => {
    shapes.forEach((s, k) => {
      const n = numel(s);
      const x = randArray(n, 30 + k), y = randArray(n, 40 + k);
      const tx = Tensor.fromArray(x, s), ty = Tensor.fromArray(y, s);
      axpy(0.25, tx, ty);
      const want = Array.from(y, (v, i) => v + 0.25 * x[i]);
      expectClose(ty.toFloat32Array(), want, 1e-6, 1e-7, `axpy ${s}`);
      fill(ty, -2.5);
      expect(ty.toArray().every((v) => v === -2.5)).to.equal(true);
    });
    // y += alpha·y (x and y the same tensor)
    const t = Tensor.fromArray([1, 2, 3], [3]);
    axpy(2, t, t);
    expect(t.toArray()).to.deep.equal([3, 6, 9]);
  } });

  opCase({ ops: ['sum'], name: 'sum and mean accumulate in float64', cpu: () => {
    shapes.forEach((s, k) => {
      const n = numel(s);
      const x = randArray(n, 50 + k, -1, 1);
      let want = 0, abs = 0;
      for (const v of x) { want += v; abs += Math.abs(v); }
      const t = Tensor.fromArray(x, s);
      expect(Math.abs(sum(t) - want)).to.be.at.most(1e-12 * abs + 1e-300, `sum ${s}`);
      if (n) expect(Math.abs(mean(t) - want / n)).to.be.at.most(1e-12 * abs / n + 1e-300);
    });
    // 2^24 + 1 ones: a float32 accumulator would stop at 2^24
    const big = Tensor.full([(1 << 24) + 1], 1);
    expect(sum(big)).to.equal((1 << 24) + 1);
    big.dispose();
    expect(sum(Tensor.zeros([0]))).to.equal(0);
  } });

  const biasShapes: number[][] = [[1, 1], [5, 7], [2, 3, 5, 7], [1, 4, 1, 1], [3, 2, 17, 33], [64, 300], ...randomShapes(12, 6)];

  opCase({ ops: ['bias_add'], name: 'biasAdd adds b[c] per channel for [n, c] and [n, c, h, w]', cpu: () => {
    biasShapes.forEach((s, k) => {
      const n = numel(s), c = s[1], hw = n / (s[0] * c);
      const y = randArray(n, 60 + k), b = randArray(c, 70 + k);
      const ty = Tensor.fromArray(y, s);
      biasAdd(ty, Tensor.fromArray(b, [c]));
      const got = ty.toFloat32Array();
      for (let i = 0; i < n; i++) {
        const ch = Math.floor(i / hw) % c;
        if (got[i] !== f32(y[i] + b[ch])) expect.fail(`biasAdd ${s} [${i}]: ${got[i]} != ${f32(y[i] + b[ch])}`);
      }
    });
  } });

  opCase({ ops: ['bias_grad'], name: 'biasGrad accumulates Σ dy over batch and space into db', cpu: () => {
    biasShapes.forEach((s, k) => {
      const n = numel(s), c = s[1], hw = n / (s[0] * c);
      const dy = randArray(n, 80 + k), db0 = randArray(c, 90 + k);
      const want = Array.from(db0, (v) => v);
      let abs = 0;
      for (let i = 0; i < n; i++) { want[Math.floor(i / hw) % c] += dy[i]; abs += Math.abs(dy[i]); }
      const tdb = Tensor.fromArray(db0, [c]);
      biasGrad(Tensor.fromArray(dy, s), tdb);
      expectClose(tdb.toFloat32Array(), want, 1e-6, 1e-6 * abs / c, `biasGrad ${s}`);
    });
  } });

  // lerpRows: d = a − b is one rounding (exact: Math.fround); b + t·d is one (FMA) or two roundings, so
  // |y − (b + t·d)| <= 2^-23·(|b| + |t·d|) in float64.
  opCase({ ops: ['lerp_rows'], name: 'lerpRows: b + t[i]·(a − b) row by row, within the roundings of a multiply-add', cpu: () => {
    for (const s of [[1], [3, 5], [2, 3, 5, 7], [4, 1, 9, 11], [2, 33000]]) {
      const n = numel(s), rows = s[0], per = n / rows;
      const a = randArray(n, 41, -3, 3), b = randArray(n, 42, -3, 3), t = randArray(rows, 43, 0, 1);
      const ta = Tensor.fromArray(a, s), tb = Tensor.fromArray(b, s), tt = Tensor.fromArray(t, [rows]);
      const y = lerpRows(ta, tb, tt);
      expect(y.shape).to.deep.equal(s);
      const yv = y.toFloat32Array();
      for (let i = 0; i < n; i++) {
        const ti = f32(t[Math.floor(i / per)]), bi = f32(b[i]), d = f32(f32(a[i]) - bi), want = bi + ti * d;
        if (Math.abs(yv[i] - want) > 2 ** -23 * (Math.abs(bi) + Math.abs(ti * d)))
          expect.fail(`lerpRows[${i}] ${yv[i]} vs ${want} (shape ${s})`);
      }
      for (const u of [ta, tb, tt, y]) u.dispose();
    }
  } });

  opCase({ ops: ['first_non_finite'], name: 'firstNonFinite: the index of the first tensor holding a NaN or ±Inf, anywhere in it, or −1', cpu: () => {
    // sizes around the 32768-element pieces, an empty tensor, one element; 110 tensors (more than one GPU launch)
    const sizes = [1, 0, 32767, 32768, 32769, 100003, 7, ...Array.from({ length: 103 }, (_, i) => 1 + ((i * 37) % 50))];
    const data = sizes.map((n, i) => randArray(n, 500 + i, -1e38, 1e38));  // huge but finite
    const ts = data.map((d, i) => Tensor.fromArray(d, [sizes[i]]));
    expect(firstNonFinite(ts)).to.equal(-1);
    expect(firstNonFinite([])).to.equal(-1);
    // each planted value alone, at the first, a middle and the last element of each nonempty tensor
    const cases: [number, number, number][] = [];
    for (const [t, n] of sizes.entries()) if (n > 0) for (const at of new Set([0, n >> 1, n - 1])) cases.push([t, at, [NaN, Infinity, -Infinity][(t + at) % 3]]);
    for (const [t, at, v] of cases) {
      const d = data[t].slice();
      d[at] = v;
      const planted = ts.slice();
      planted[t] = Tensor.fromArray(d, [sizes[t]]);
      const got = firstNonFinite(planted);
      planted[t].dispose();
      if (got !== t) expect.fail(`${v} at element ${at} of tensor ${t}: got ${got}`);
    }
    // two bad tensors: the first one wins
    const both = ts.slice();
    both[3] = Tensor.fromArray(Float32Array.from(data[3], (x, i) => (i === 5 ? NaN : x)), [sizes[3]]);
    both[90] = Tensor.fromArray(new Float32Array(sizes[90]).fill(Infinity), [sizes[90]]);
    expect(firstNonFinite(both)).to.equal(3);
    expect(firstNonFinite(both.slice(4))).to.equal(86);
    for (const t of [...ts, both[3], both[90]]) t.dispose();
  } });

  it('rejects bad arguments with errors that name them', () => {
    const a = Tensor.zeros([2, 3]), b = Tensor.zeros([3, 2]), c = Tensor.zeros([6]);
    expect(() => add(a, b)).to.throw(/b must have shape \[2, 3\], got \[3, 2\]/);
    expect(() => mul(a, c)).to.throw(/b must have shape/);
    expect(() => native().add(a.h)).to.throw(/add: expected 2 arguments/);
    expect(() => native().add(a.h, {})).to.throw(/argument 2 \(b\) must be a Tensor/);
    expect(() => scale(a, NaN)).to.throw(/alpha.*finite/);
    expect(() => scale(a, 1e39)).to.throw(/alpha.*float32/);
    expect(() => native().scale(a.h, '2')).to.throw(/alpha.*number/);
    expect(() => axpy(1, b, a)).to.throw(/x must have shape \[2, 3\]/);
    expect(() => axpy(Infinity, a, a)).to.throw(/alpha.*finite/);
    expect(() => fill(a, NaN)).to.throw(/value.*finite/);
    expect(() => native().sum(42)).to.throw(/x.*must be a Tensor/);
    expect(() => native().firstNonFinite([a.h, 7])).to.throw(/tensors/);
    expect(() => native().firstNonFinite(a.h)).to.throw(/tensors/);
    expect(() => biasAdd(c, Tensor.zeros([6]))).to.throw(/biasAdd: y must be \[n, c\] or \[n, c, h, w\]/);
    expect(() => biasAdd(Tensor.zeros([2, 3, 4]), Tensor.zeros([3]))).to.throw(/biasAdd: y must be/);
    expect(() => biasAdd(a, Tensor.zeros([2]))).to.throw(/b must have shape \[3\]/);
    expect(() => biasAdd(a, Tensor.zeros([1, 3]))).to.throw(/b must have shape \[3\]/);
    expect(() => biasGrad(a, Tensor.zeros([4]))).to.throw(/db must have shape \[3\]/);
    expect(() => biasGrad(c, Tensor.zeros([6]))).to.throw(/biasGrad: dy must be/);
    expect(() => lerpRows(a, b, Tensor.zeros([2]))).to.throw(/b must have shape \[2, 3\], got \[3, 2\]/);
    expect(() => lerpRows(a, a, Tensor.zeros([3]))).to.throw(/lerpRows: t must have one element per row of a \(2\), got 3/);
    expect(() => lerpRows(Tensor.zeros([0, 3]), Tensor.zeros([0, 3]), Tensor.zeros([0]))).to.throw(/lerpRows: a must have at least one row/);
    expect(() => native().lerpRows(a.h, a.h)).to.throw(/lerpRows: expected 3 arguments/);
    const d = Tensor.zeros([2, 3]);
    d.dispose();
    expect(() => add(a, d)).to.throw(/disposed/);
    expect(() => biasGrad(a, d)).to.throw(/disposed/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('elementwise (CUDA vs the CPU twin)', () => {
  for (const n of [1, 3, 4, 1023, 4099]) {
    opCase({ ops: ['add', 'mul', 'scale', 'axpy', 'sum', 'lerp_rows', 'fill'], name: `add, mul, scale, axpy, fill, sum, mean (n = ${n})`, cuda: (dev) => {
      const a = both(dev, [n], 10 + n), b = both(dev, [n], 20 + n);
      same(E.add(a.g, b.g), E.add(a.c, b.c), 0, 0, 'add');
      same(E.mul(a.g, b.g), E.mul(a.c, b.c), 0, 0, 'mul');
      same(E.scale(a.g, -1.5), E.scale(a.c, -1.5), 0, 0, 'scale');
      E.axpy(0.75, a.g, b.g);
      E.axpy(0.75, a.c, b.c);
      same(b.g, b.c, 1e-7, 0, 'axpy');
      expect(E.sum(a.g)).to.be.closeTo(E.sum(a.c), 1e-9 * n);
      expect(E.mean(a.g)).to.be.closeTo(E.mean(a.c), 1e-9);
      const t = both(dev, [n], 40 + n, 0, 1);
      same(E.lerpRows(a.g, b.g, t.g), E.lerpRows(a.c, b.c, t.c), 1e-6, 1e-6, 'lerpRows');
      E.fill(a.g, 3.25);
      expect(a.g.toFloat32Array().every((v) => v === 3.25)).to.equal(true);
    } });
  }

  opCase({ ops: ['first_non_finite'], name: 'firstNonFinite over 100 tensors (two launches): the same index as the CPU for each planted NaN / ±Inf', cuda: (dev) => {
    const sizes = Array.from({ length: 100 }, (_, i) => (i === 50 ? 0 : 1 + ((i * 7919) % 9000)));
    const data = sizes.map((n, i) => randArray(n, 600 + i));
    const gs = data.map((d, i) => Tensor.fromArray(d, [sizes[i]], dev));
    expect(E.firstNonFinite(gs)).to.equal(-1);
    for (const [t, v] of [[0, NaN], [37, Infinity], [95, -Infinity], [99, NaN]] as [number, number][]) {
      const d = data[t].slice();
      d[d.length - 1] = v;
      const planted = gs.slice();
      planted[t] = Tensor.fromArray(d, [sizes[t]], dev);
      expect(E.firstNonFinite(planted), `${v} in tensor ${t}`).to.equal(t);
      const c = planted.map((g) => g.to('cpu'));
      expect(E.firstNonFinite(c)).to.equal(t);
      for (const u of [...c, planted[t]]) u.dispose();
    }
    expect(() => E.firstNonFinite([gs[0], Tensor.zeros([3])])).to.throw(/tensors\[1\]/);
    for (const g of gs) g.dispose();
  } });

  for (const shape of [[2, 3, 5, 1], [4, 7], [3, 5, 20, 15]]) {
    opCase({ ops: ['bias_add', 'bias_grad'], name: `biasAdd and biasGrad [${shape}]`, cuda: (dev) => {
      const c = shape[1], y = both(dev, shape, 30), b = both(dev, [c], 31);
      E.biasAdd(y.g, b.g);
      E.biasAdd(y.c, b.c);
      same(y.g, y.c, 0, 0, 'biasAdd');
      const db = both(dev, [c], 32);
      E.biasGrad(y.g, db.g);
      E.biasGrad(y.c, db.c);
      same(db.g, db.c, 1e-6, 1e-6, 'biasGrad');
    } });
  }
});
