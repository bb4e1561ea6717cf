// The float64 kernels under FID's trace term (lib/metrics/blas64.ts), native (native/cpu/blas64.cc) and TypeScript,
// against plain float64 loops: odd sizes (edge tiles), transposes, offsets, row strides wider than the rows,
// triangles, alpha/beta (beta = 0 must not read C/y: they start as NaN), strided vectors, and the upper-stored
// symmetric product (the strict lower triangle holds NaN: it must not be read). Then the native argument checks,
// bit-for-bit determinism across thread counts, and the trace term itself: native vs TypeScript kernels within
// 1e-12 relative on random SPD pairs past every panel size, and a closed form at d = 200 on both.
import { expect } from 'chai';
import { Blas64, nativeBlas64, tsBlas64, setBlas64 } from '../../lib/metrics/blas64';
import { traceSqrtProduct } from '../../lib/metrics/fid';
import { nativeUnchecked } from '../../lib/engine/native';
import { gaussian, matmul, transpose, randomOrthogonal, fromEigen } from './util';

const kernels = (): Blas64[] => {
  const n = nativeBlas64();
  if (!n) throw new Error('the loaded addon has no f64Gemm: rebuild it (npm run build:native)');
  return [n, tsBlas64];
};

/** Reference C = alpha·op(A)·op(B) + beta·C on tri, by loops (beta = 0 does not read C). */
function refGemm(ta: boolean, tb: boolean, tri: number, m: number, n: number, k: number, alpha: number, a: Float64Array, ao: number,
  lda: number, b: Float64Array, bo: number, ldb: number, beta: number, c: Float64Array, co: number, ldc: number): Float64Array {
  const out = c.slice();
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      if ((tri === 1 && j > i) || (tri === 2 && j < i)) continue;
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[ao + p * lda + i] : a[ao + i * lda + p]) * (tb ? b[bo + j * ldb + p] : b[bo + p * ldb + j]);
      const o = co + i * ldc + j;
      out[o] = alpha * s + (beta === 0 ? 0 : beta * c[o]);
    }
  }
  return out;
}

/** max |x − y| with NaN = NaN counted as equal (untouched elements), NaN vs number as Infinity. */
function diff(x: Float64Array, y: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
    const d = Math.abs(x[i] - y[i]);
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
}

describe('metrics blas64: float64 kernels (native and TypeScript) against loops', () => {
  it('gemm: odd sizes, transposes, offsets, strides, triangles, alpha/beta', () => {
    let seed = 1, cases = 0;
    for (const k of kernels()) {
      for (const [m, n, kk] of [[1, 1, 1], [7, 5, 3], [17, 33, 1], [37, 19, 300], [130, 101, 70], [6, 1030, 260], [9, 150, 0]]) {
        for (const ta of [false, true]) for (const tb of [false, true]) for (const tri of [0, 1, 2] as const) {
          const beta = [0, 1, -0.75][(seed++) % 3], alpha = [1, -1, 0.3][seed % 3];
          const lda = (ta ? m : kk) + 3, ldb = (tb ? kk : n) + 1, ldc = n + 2, ao = 5, bo = 2, co = 7;
          const a = gaussian(ao + lda * (ta ? kk : m), seed), b = gaussian(bo + ldb * (tb ? n : kk), seed + 1);
          const c = gaussian(co + ldc * m + 3, seed + 2);
          if (beta === 0) c.fill(NaN); // must be overwritten, never read
          const want = refGemm(ta, tb, tri, m, n, kk, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc);
          k.gemm(ta, tb, tri, m, n, kk, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc);
          expect(diff(c, want), `${k.name} ${m}×${n}×${kk} ta=${ta} tb=${tb} tri=${tri} α=${alpha} β=${beta}`).to.be.below(1e-14 * (kk + 1) * 8);
          cases++;
        }
      }
    }
    expect(cases).to.equal(2 * 7 * 12);
  });

  it('gemm: a product larger than one cache block (d = 300, k = 600) in every triangle', () => {
    const m = 300, k = 600, a = gaussian(m * k, 3), b = gaussian(k * m, 4);
    const full = matmul(a, b, m, k, m);
    for (const kern of kernels()) {
      for (const tri of [0, 1, 2] as const) {
        const c = new Float64Array(m * m).fill(NaN);
        kern.gemm(false, false, tri, m, m, k, 1, a, 0, k, b, 0, m, 0, c, 0, m);
        let err = 0;
        for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
          const inside = tri === 0 || (tri === 1 ? j <= i : j >= i);
          if (inside) err = Math.max(err, Math.abs(c[i * m + j] - full[i * m + j]));
          else expect(Number.isNaN(c[i * m + j]), `${kern.name} tri=${tri} wrote (${i}, ${j})`).to.equal(true);
        }
        expect(err, `${kern.name} tri=${tri}`).to.be.below(1e-11);
      }
    }
  });

  it('gemv: both orientations, offsets, strided x and y, beta = 0 does not read y', () => {
    let seed = 50;
    for (const k of kernels()) {
      for (const [m, n] of [[1, 1], [3, 7], [13, 5], [67, 130], [5, 0]]) {
        for (const trans of [false, true]) for (const [incx, incy] of [[1, 1], [3, 2]]) for (const beta of [0, 1, 0.5]) {
          const lda = n + 2, ao = 3, xo = 1, yo = 4, nx = trans ? m : n, ny = trans ? n : m, alpha = -0.7;
          const a = gaussian(ao + lda * m, seed++), x = gaussian(xo + incx * nx + 1, seed++), y = gaussian(yo + incy * ny + 2, seed++);
          if (beta === 0) for (let q = 0; q < ny; q++) y[yo + q * incy] = NaN;
          const want = y.slice();
          for (let q = 0; q < ny; q++) {
            let s = 0;
            for (let p = 0; p < nx; p++) s += (trans ? a[ao + p * lda + q] : a[ao + q * lda + p]) * x[xo + p * incx];
            const o = yo + q * incy;
            want[o] = alpha * s + (beta === 0 ? 0 : beta * y[o]);
          }
          k.gemv(trans, m, n, alpha, a, ao, lda, x, xo, incx, beta, y, yo, incy);
          expect(diff(y, want), `${k.name} ${m}×${n} trans=${trans} inc=${incx},${incy} β=${beta}`).to.be.below(1e-13 * (nx + 1));
        }
      }
    }
  });

  it('symv: reads only the upper triangle (row-major), odd sizes, offsets, wider rows', () => {
    for (const k of kernels()) {
      for (const m of [1, 2, 3, 4, 5, 8, 13, 67, 257]) {
        const lda = m + 3, ao = 2, xo = 1, yo = 3, s = gaussian(m * m, m);
        const a = new Float64Array(ao + lda * m).fill(NaN); // the strict lower triangle stays NaN
        for (let i = 0; i < m; i++) for (let j = i; j < m; j++) a[ao + i * lda + j] = s[i * m + j];
        const x = gaussian(xo + m, m + 1), y = new Float64Array(yo + m + 2).fill(NaN), want = y.slice();
        for (let i = 0; i < m; i++) {
          let t = 0;
          for (let j = 0; j < m; j++) t += s[Math.min(i, j) * m + Math.max(i, j)] * x[xo + j];
          want[yo + i] = t;
        }
        k.symv(m, a, ao, lda, x, xo, y, yo);
        expect(diff(y, want), `${k.name} m=${m}`).to.be.below(1e-13 * m);
      }
    }
  });

  it('native: bad extents, types and overlaps throw (naming the argument); calls are bitwise deterministic across thread counts', () => {
    const m = nativeUnchecked(), a = new Float64Array(12), c = new Float64Array(12);
    m.f64Gemm(false, false, 0, 3, 4, 3, 1, a, 0, 3, a, 0, 4, 0, c, 0, 4); // valid
    expect(() => m.f64Gemm(false, false, 0, 3, 4, 3, 1, a, 4, 3, a, 0, 4, 0, c, 0, 4)).to.throw(/A \(m×k\).*needs 13 elements, its array has 12/);
    expect(() => m.f64Gemm(false, true, 0, 3, 4, 3, 1, a, 0, 3, a, 0, 2, 0, c, 0, 4)).to.throw(/B \(stored n×k\) has 3 columns but row stride 2/);
    expect(() => m.f64Gemm(false, false, 0, 3, 4, 3, 1, a, 0, 3, a, 0, 4, 0, c, 0, 5)).to.throw(/C \(m×n\)/);
    expect(() => m.f64Gemm(false, false, 3, 3, 4, 3, 1, a, 0, 3, a, 0, 4, 0, c, 0, 4)).to.throw(/argument 3 \(tri/);
    expect(() => m.f64Gemm(false, false, 0, 3, 4, 3, 1, new Float32Array(12), 0, 3, a, 0, 4, 0, c, 0, 4)).to.throw(/argument 8 \(a\) must be a Float64Array/);
    expect(() => m.f64Gemm(false, false, 0, 3, 4, 3, 1, a, -1, 3, a, 0, 4, 0, c, 0, 4)).to.throw(/aOff/);
    expect(() => m.f64Gemm(false, false, 0, 3, 4, 3, NaN, a, 0, 3, a, 0, 4, 0, c, 0, 4)).to.throw(/alpha/);
    expect(() => m.f64Gemm(false, false, 0, 3, 4)).to.throw(/expected 17 arguments/);
    expect(() => m.f64Gemv(true, 3, 4, 1, a, 0, 4, a, 0, 6, 0, c, 0, 1)).to.throw(/x \(3 elements at offset 0, stride 6\) needs 13 elements/);
    expect(() => m.f64Gemv(false, 3, 4, 1, a, 0, 4, a, 0, 0, 0, c, 0, 1)).to.throw(/incx/);
    expect(() => m.f64Symv(3, a, 0, 3, a, 0, a, 2)).to.throw(/overlaps/); // y over x
    expect(() => m.f64Symv(3, a, 0, 3, c, 0, a, 7)).to.throw(/overlaps/); // y over S
    m.f64Symv(3, a, 0, 3, a, 0, a, 9); // y right after S: fine
    expect(() => m.f64Symv(4, a, 0, 3, a, 0, c, 0)).to.throw(/S \(m×m\) has 4 columns but row stride 3/);
    // zero-size calls touch nothing, whatever the offsets
    m.f64Gemm(false, false, 0, 0, 4, 3, 1, a, 99, 3, a, 99, 4, 0, c, 99, 4);
    m.f64Symv(0, a, 99, 0, a, 99, c, 99);

    const d = 301, x = gaussian(d * d, 8), y = gaussian(d * d, 9), out: Float64Array[] = [];
    const prev = m.info().threads;
    for (const threads of [1, 2, 1]) {
      m.setThreads(threads);
      const r = new Float64Array(d * d), v = new Float64Array(d);
      m.f64Gemm(true, false, 1, d, d, d, 1, x, 0, d, y, 0, d, 0, r, 0, d);
      m.f64Symv(d, x, 0, d, y, 0, v, 0);
      out.push(Float64Array.of(...r, ...v));
    }
    m.setThreads(prev);
    expect(Buffer.from(out[1].buffer).equals(Buffer.from(out[0].buffer))).to.equal(true);
    expect(Buffer.from(out[2].buffer).equals(Buffer.from(out[0].buffer))).to.equal(true);
  });
});

describe('metrics blas64: the FID trace term on native vs TypeScript kernels', () => {
  let prev: 'native' | 'ts';
  before(() => { prev = setBlas64('native'); });
  after(() => { setBlas64(prev); });

  const trace = (which: 'native' | 'ts', s1: Float64Array, s2: Float64Array, d: number) => { setBlas64(which); return traceSqrtProduct(s1, s2, d); };

  it('random SPD pairs (d = 65 … 300: across Cholesky, reduction and product panels) agree within 1e-12 relative', () => {
    for (const [d, n] of [[65, 90], [150, 200], [300, 340]]) {
      const g1 = gaussian(d * n, d), g2 = gaussian(d * n, d + 7);
      const s1 = matmul(g1, transpose(g1, d, n), d, n, d), s2 = matmul(g2, transpose(g2, d, n), d, n, d);
      const a = trace('native', s1, s2, d), b = trace('ts', s1, s2, d);
      expect(a.rank1).to.equal(d);
      expect(Math.abs(a.value - b.value) / b.value, `d=${d}`).to.be.below(1e-12);
    }
  });

  it('rank-deficient Σ1 (pivoted route) and a closed form at d = 200: tr (Q D1 Qᵀ · Q D2 Qᵀ)^½ = Σ √(d1 d2)', () => {
    const d = 200, q = randomOrthogonal(d, 4), l1 = new Float64Array(d), l2 = new Float64Array(d);
    for (let i = 0; i < d; i++) { l1[i] = i < 150 ? 0.1 + ((i * 37) % 101) / 10 : 0; l2[i] = 0.5 + ((i * 53) % 89) / 7; }
    const s1 = fromEigen(q, l1, d), s2 = fromEigen(q, l2, d);
    let want = 0;
    for (let i = 0; i < d; i++) want += Math.sqrt(l1[i] * l2[i]);
    for (const which of ['native', 'ts'] as const) {
      const t = trace(which, s1, s2, d);
      expect(t.rank1, which).to.equal(150);
      expect(Math.abs(t.value - want) / want, which).to.be.below(1e-10);
    }
    const full = fromEigen(q, l2, d), a = trace('native', full, s1, d), b = trace('ts', full, s1, d);
    expect(Math.abs(a.value - want) / want).to.be.below(1e-10);
    expect(Math.abs(a.value - b.value) / b.value).to.be.below(1e-12);
  });
});
