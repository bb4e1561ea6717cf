// Float64 kernels of the metrics: the packed matrix product against naive loops (transposes, offsets, skipped
// blocks), the pivoted Cholesky on full-rank and rank-deficient matrices, and the symmetric eigensolver against
// closed-form spectra, reconstruction A = VΛVᵀ and orthogonality VᵀV = I.
import { expect } from 'chai';
import { gemm, view, pivotedCholesky, cholesky } from '../../lib/metrics/linalg';
import { symEig } from '../../lib/metrics/eigen';
import { gaussian, matmul, transpose, randomOrthogonal, fromEigen } from './util';

const maxAbs = (a: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

describe('metrics linalg', () => {
  it('gemm matches naive loops for odd sizes, transposes and an offset', () => {
    for (const [m, n, k] of [[1, 1, 1], [5, 7, 3], [67, 130, 259], [130, 517, 70]]) {
      const a = gaussian(m * k, m), b = gaussian(k * n, n), want = matmul(a, b, m, k, n);
      const c = new Float64Array(m * n);
      gemm(m, n, k, view(a, k), view(b, n), c, n);
      expect(maxDiff(c, want), `${m}x${n}x${k}`).to.be.below(1e-12 * k);
      const c2 = new Float64Array(m * n);
      gemm(m, n, k, view(transpose(a, m, k), m, 0, true), view(transpose(b, k, n), k, 0, true), c2, n);
      expect(maxDiff(c2, want)).to.be.below(1e-12 * k);
    }
    // A as a row block of a bigger matrix (offset), accumulate into C
    const a = gaussian(10 * 6, 3), b = gaussian(6 * 4, 4), c = new Float64Array(3 * 4).fill(1);
    gemm(3, 4, 6, view(a, 6, 2 * 6), view(b, 4), c, 4);
    const want = matmul(a.subarray(12, 30), b, 3, 6, 4);
    expect(maxDiff(c, want.map((v) => v + 1))).to.be.below(1e-12);
  });

  it('gemm with kRange: skipped blocks stay untouched, a k hint over structured zeros changes nothing', () => {
    const m = 130, n = 700, k = 600, a = gaussian(m * k, 1), b = gaussian(k * n, 2);
    // B lower-trapezoidal (B[p][j] = 0 for p < j): the hint says column block j0.. needs k ≥ j0 only
    for (let p = 0; p < k; p++) for (let j = p + 1; j < n; j++) b[p * n + j] = 0;
    const c = new Float64Array(m * n);
    gemm(m, n, k, view(a, k), view(b, n), c, n, 0, (_i0, _i1, j0) => [j0, k]);
    expect(maxDiff(c, matmul(a, b, m, k, n))).to.be.below(1e-11);
    const z = new Float64Array(m * n);
    gemm(m, n, k, view(a, k), view(b, n), z, n, 0, () => null);
    expect(maxAbs(z)).to.equal(0);
  });

  it('pivoted Cholesky reproduces a full-rank and a rank-deficient PSD matrix', () => {
    for (const [d, r] of [[40, 40], [60, 17], [33, 1]]) {
      const g = gaussian(d * r, d + r), s = matmul(g, transpose(g, d, r), d, r, d);
      const f = pivotedCholesky(s, d);
      expect(f.rank, `rank d=${d} r=${r}`).to.equal(r);
      const ll = matmul(f.l, transpose(f.l, d, f.rank), d, f.rank, d);
      let err = 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) err = Math.max(err, Math.abs(ll[i * d + j] - s[f.perm[i] * d + f.perm[j]]));
      expect(err).to.be.below(1e-11 * maxAbs(s));
      for (let i = 0; i < d; i++) for (let j = i + 1; j < f.rank; j++) expect(f.l[i * f.rank + j]).to.equal(0);
    }
  });

  it('blocked Cholesky: L Lᵀ = S across panel boundaries; null for a rank-deficient matrix', () => {
    for (const d of [1, 63, 64, 65, 200]) {
      const g = gaussian(d * (d + 5), d), s = matmul(g, transpose(g, d, d + 5), d, d + 5, d);
      const l = cholesky(s, d)!;
      expect(l, `d=${d}`).to.not.equal(null);
      for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) expect(l[i * d + j]).to.equal(0);
      expect(maxDiff(matmul(l, transpose(l, d, d), d, d, d), s), `d=${d}`).to.be.below(1e-12 * maxAbs(s));
    }
    const g = gaussian(150 * 40, 1);
    expect(cholesky(matmul(g, transpose(g, 150, 40), 150, 40, 150), 150)).to.equal(null);
  });

  it('symEig: closed-form spectrum of the 1-D Laplacian (2 − 2cos(kπ/(n+1)))', () => {
    const n = 50, a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) { a[i * n + i] = 2; if (i > 0) { a[i * n + i - 1] = -1; a[(i - 1) * n + i] = -1; } }
    const { values } = symEig(a, n);
    for (let k = 1; k <= n; k++) expect(Math.abs(values[k - 1] - (2 - 2 * Math.cos((k * Math.PI) / (n + 1))))).to.be.below(1e-13);
  });

  it('symEig: A = VΛVᵀ, VᵀV = I and the known eigenvalues of Q diag(λ) Qᵀ (with repeats and zeros)', () => {
    for (const d of [1, 2, 3, 17, 90]) {
      const q = randomOrthogonal(d, d);
      const lam = Array.from({ length: d }, (_, i) => (i % 5 === 0 ? 0 : i % 3 === 0 ? 2.5 : (i * 0.37) - 4));
      const a = fromEigen(q, lam, d);
      const { values, vectors } = symEig(a, d, { vectors: true });
      const sorted = [...lam].sort((x, y) => x - y);
      expect(maxDiff(values, sorted), `d=${d} eigenvalues`).to.be.below(1e-12 * d);
      const v = vectors!;
      const vl = new Float64Array(d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) vl[i * d + j] = v[i * d + j] * values[j];
      expect(maxDiff(matmul(vl, transpose(v, d, d), d, d, d), a), `d=${d} reconstruction`).to.be.below(1e-12 * d);
      const vtv = matmul(transpose(v, d, d), v, d, d, d);
      for (let i = 0; i < d; i++) vtv[i * d + i] -= 1;
      expect(maxAbs(vtv), `d=${d} orthogonality`).to.be.below(1e-13 * d);
    }
  });

  it('symEig eigenvalues only (blocked panels past 64 columns): known spectra with repeats, zeros, negatives', () => {
    for (const d of [65, 97, 257]) {
      const q = randomOrthogonal(d, 100 + d);
      const lam = Array.from({ length: d }, (_, i) => (i % 7 === 0 ? 0 : i % 4 === 0 ? 1.5 : Math.sin(i) * 10));
      const { values } = symEig(fromEigen(q, lam, d), d);
      expect(maxDiff(values, [...lam].sort((x, y) => x - y)), `d=${d}`).to.be.below(1e-12 * d);
    }
  });

  it('symEig: diagonal, already tridiagonal and zero matrices; bad input is an error', () => {
    const d = new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 2]);
    expect(Array.from(symEig(d, 3).values)).to.deep.equal([-1, 2, 3]);
    expect(Array.from(symEig(new Float64Array(16), 4).values)).to.deep.equal([0, 0, 0, 0]);
    expect(() => symEig(new Float64Array([1, NaN, NaN, 1]), 2)).to.throw(/element \(1, 0\) is NaN/);
    expect(() => symEig(new Float64Array(3), 2)).to.throw(/n×n/);
  });
});
