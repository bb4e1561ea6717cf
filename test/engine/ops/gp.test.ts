// gpNormV (docs/design.md §5) against float64: norms[i] = ‖g_i‖, GP = λ/n Σ(‖g_i‖ − 1)², v_i = 2λ(‖g_i‖ − 1)g_i/(n‖g_i‖),
// v_i = 0 where g_i = 0. Since v = ∂GP/∂g, v is also checked against central finite differences (h = 1e-6) of the
// float64 GP. Tolerances: norms (float64 sums rounded to float32) rtol 1e-6; GP (float64 from float32 inputs)
// rtol 1e-9; v (a float32 coefficient times g) rtol 1e-6 + atol 1e-7·max|v|; FD: rtol 1e-5 + atol 1e-7·max|v|.
import { expect } from 'chai';
import { Tensor, gpNormV } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectClose, maxAbs } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, same } from '../devices';

function gpRef(g: ArrayLike<number>, n: number, lambda: number) {
  const d = g.length / n, norms: number[] = [], v = new Float64Array(g.length);
  let gp = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += g[i * d + j] ** 2;
    const nr = Math.sqrt(s);
    norms.push(nr);
    gp += (nr - 1) ** 2;
    const k = nr > 0 ? (2 * lambda * (nr - 1)) / (n * nr) : 0;
    for (let j = 0; j < d; j++) v[i * d + j] = k * g[i * d + j];
  }
  return { gp: (lambda * gp) / n, norms, v };
}

describe('gpNormV', () => {
  // batch 1, odd sizes, a sample larger than one parallel chunk (16384), a one-value-per-sample case
  const shapes = [[1, 1, 4, 4], [4, 3, 5, 7], [3, 1], [2, 50001], [1, 40000], [8, 1, 16, 16]];

  opCase({ ops: ['gp_norm_v'], name: 'norms, GP and v match float64, including an all-zero sample', cpu: () => {
    shapes.forEach((s, k) => {
      const n = s[0], numel = s.reduce((a, b) => a * b, 1), d = numel / n;
      // per-sample scale so norms straddle 1 (the penalty's target)
      const g = Float32Array.from(randArray(numel, 1100 + k, -1, 1), (x, i) => (x * (0.3 + Math.floor(i / d))) / Math.sqrt(d / 3));
      if (n > 1) g.fill(0, d, 2 * d);  // sample 1 has a zero gradient
      const lambda = 5;
      const out = gpNormV(Tensor.fromArray(g, s), lambda);
      const ref = gpRef(g, n, lambda);
      expect(out.v.shape).to.deep.equal(s);
      expect(out.norms.shape).to.deep.equal([n]);
      expect(Math.abs(out.gp - ref.gp)).to.be.at.most(1e-9 * Math.abs(ref.gp), `gp ${s}`);
      expectClose(out.norms.toFloat32Array(), ref.norms, 1e-6, 0, `norms ${s}`);
      const v = out.v.toFloat32Array();
      expectClose(v, ref.v, 1e-6, 1e-7 * maxAbs(ref.v), `v ${s}`);
      if (n > 1) {
        expect(out.norms.toArray()[1]).to.equal(0);
        expect(Array.from(v.subarray(d, 2 * d)).every((x) => x === 0)).to.equal(true);
      }
    });
  } });

  opCase({ ops: ['gp_norm_v'], name: 'v is the gradient of GP (finite differences), and a zero sample still counts λ/n', cpu: () => {
    const s = [3, 2, 3, 3], n = 3, lambda = 2.5;
    const g = Float32Array.from(randArray(54, 1200, -0.6, 0.6));
    const { v, gp } = gpNormV(Tensor.fromArray(g, s), lambda);
    const h = 1e-6;
    const fd = Array.from(g, (_, i) => {
      const p = Float64Array.from(g), m = Float64Array.from(g);
      p[i] += h; m[i] -= h;
      return (gpRef(p, n, lambda).gp - gpRef(m, n, lambda).gp) / (2 * h);
    });
    const va = v.toFloat32Array();
    expectClose(va, fd, 1e-5, 1e-7 * maxAbs(va), 'v vs FD');
    const z = gpNormV(Tensor.zeros([4, 10]), lambda);
    expect(z.gp).to.equal(lambda);  // (0 − 1)² for every sample
    expect(z.v.toArray().every((x) => x === 0)).to.equal(true);
    expect(gp).to.be.greaterThan(0);
    const zl = gpNormV(Tensor.fromArray(g, s), 0);
    expect(zl.gp).to.equal(0);
    expect(zl.v.toArray().every((x) => x === 0)).to.equal(true);
  } });

  it('rejects bad arguments with errors that name them', () => {
    const g = Tensor.zeros([2, 3]);
    expect(() => gpNormV(g, NaN)).to.throw(/lambda.*finite/);
    expect(() => gpNormV(g, -1)).to.throw(/gpNormV: lambda must be finite and >= 0/);
    expect(() => gpNormV(g, 1e40)).to.throw(/lambda.*float32/);
    expect(() => gpNormV(Tensor.zeros([]), 1)).to.throw(/gpNormV: g must be a non-empty \[n, \.\.\.\] tensor/);
    expect(() => gpNormV(Tensor.zeros([0, 3]), 1)).to.throw(/non-empty/);
    expect(() => gpNormV(Tensor.zeros([2, 0]), 1)).to.throw(/non-empty/);
    expect(() => native().gpNormV(g.h)).to.throw(/gpNormV: expected 2 arguments/);
    expect(() => native().gpNormV('g', 1)).to.throw(/g.*must be a Tensor/);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('gpNormV (CUDA vs the CPU twin)', () => {
  opCase({ ops: ['gp_norm_v'], name: 'gradient-penalty norms, v and GP', cuda: (dev) => {
    for (const [n, d] of [[1, 5], [8, 4096], [3, 1000]]) {
      const gr = both(dev, [n, d], 90, -0.05, 0.05);
      const a = E.gpNormV(gr.g, 5), b = E.gpNormV(gr.c, 5);
      expect(a.gp).to.be.closeTo(b.gp, 1e-12 * Math.max(1, b.gp));
      same(a.norms, b.norms, 1e-6, 0, 'norms');
      same(a.v, b.v, 1e-6, 1e-12, 'v');
    }
  } });
});
