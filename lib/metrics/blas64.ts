// The float64 kernels under the metrics' linear algebra (Cholesky in linalg.ts, the tridiagonalisation in eigen.ts,
// FID's products in fid.ts): a matrix product with transposes, offsets, row strides and an optional triangle of C,
// a matrix–vector product and a symmetric matrix–vector product. One contract, two implementations:
//   native  native/cpu/blas64.cc through the addon (f64Gemm/f64Gemv/f64Symv): SIMD, one thread, a fixed order of
//           summation (the same bits at any MRIGAN_THREADS);
//   ts      plain TypeScript (linalg.ts's packed gemm and loops): the same algorithm where there is no addon.
// The algorithms stay in TypeScript; only these products cross into native code. The two differ by rounding only.
// Choice: MRIGAN_F64=auto (default: native when the loaded addon has the kernels, else ts) | native | ts, or
// setBlas64() (tests, bench).
import { native } from '../engine/native';
import { gemmTri, view, Tri } from './linalg';

export type { Tri };

export interface Blas64 {
  name: 'native' | 'ts';
  /**
   * C = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m×k (A stored k×m at aOff, stride lda, when ta), op(B) k×n;
   * tri 1/2 writes only j ≤ i / j ≥ i of C. beta = 0 never reads C. C must not overlap what is read of A and B.
   */
  gemm(ta: boolean, tb: boolean, tri: Tri, m: number, n: number, k: number, alpha: number, a: Float64Array, aOff: number,
    lda: number, b: Float64Array, bOff: number, ldb: number, beta: number, c: Float64Array, cOff: number, ldc: number): void;
  /** y = alpha·op(A)·x + beta·y, A m×n row-major (op(A) n×m when trans), x and y strided. A and x are read before y is written. */
  gemv(trans: boolean, m: number, n: number, alpha: number, a: Float64Array, aOff: number, lda: number, x: Float64Array,
    xOff: number, incx: number, beta: number, y: Float64Array, yOff: number, incy: number): void;
  /** y = S x for the symmetric m×m S stored as its upper triangle, row-major (S(i, j) = a[aOff + i·lda + j], j ≥ i). */
  symv(m: number, a: Float64Array, aOff: number, lda: number, x: Float64Array, xOff: number, y: Float64Array, yOff: number): void;
}

export const tsBlas64: Blas64 = {
  name: 'ts',
  gemm(ta, tb, tri, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) {
    if (m <= 0 || n <= 0) return;
    if (beta !== 1) {
      for (let i = 0; i < m; i++) {
        const j0 = tri === 2 ? Math.min(i, n) : 0, j1 = tri === 1 ? Math.min(i + 1, n) : n, r = cOff + i * ldc;
        if (beta === 0) c.fill(0, r + j0, r + j1); else for (let j = j0; j < j1; j++) c[r + j] *= beta;
      }
    }
    if (k <= 0 || alpha === 0) return;
    gemmTri(m, n, k, alpha, view(a, lda, aOff, ta), view(b, ldb, bOff, tb), c, ldc, cOff, tri);
  },
  gemv(trans, m, n, alpha, a, aOff, lda, x, xOff, incx, beta, y, yOff, incy) {
    const nx = trans ? m : n, ny = trans ? n : m;
    const t = new Float64Array(ny);
    if (nx > 0 && alpha !== 0) {
      if (!trans) {
        for (let i = 0; i < m; i++) {
          const r = aOff + i * lda;
          let s = 0;
          for (let j = 0; j < n; j++) s += a[r + j] * x[xOff + j * incx];
          t[i] = s;
        }
      } else {
        for (let i = 0; i < m; i++) {
          const r = aOff + i * lda, xi = x[xOff + i * incx];
          for (let j = 0; j < n; j++) t[j] += a[r + j] * xi;
        }
      }
    }
    for (let q = 0; q < ny; q++) { const o = yOff + q * incy; y[o] = (beta === 0 ? 0 : beta * y[o]) + alpha * t[q]; }
  },
  symv(m, a, aOff, lda, x, xOff, y, yOff) {
    // rows in pairs: row i adds S(i, j) x_j to y_i and, by symmetry, S(i, j) x_i to y_j (j > i)
    y.fill(0, yOff, yOff + m);
    let i = 0;
    for (; i + 1 < m; i += 2) {
      const r0 = aOff + i * lda, r1 = r0 + lda, x0 = x[xOff + i], x1 = x[xOff + i + 1], a01 = a[r0 + i + 1];
      let s0 = a[r0 + i] * x0 + a01 * x1, s1 = a01 * x0 + a[r1 + i + 1] * x1;
      for (let j = i + 2; j < m; j++) {
        const a0 = a[r0 + j], a1 = a[r1 + j], xj = x[xOff + j];
        s0 += a0 * xj; s1 += a1 * xj;
        y[yOff + j] += a0 * x0 + a1 * x1;
      }
      y[yOff + i] += s0; y[yOff + i + 1] += s1;
    }
    if (i < m) y[yOff + i] += a[aOff + i * lda + i] * x[xOff + i];
  },
};

let nativeBlas: Blas64 | null | undefined;

/** The addon's kernels, or null when the addon cannot be loaded or predates them. */
export function nativeBlas64(): Blas64 | null {
  if (nativeBlas !== undefined) return nativeBlas;
  let m: ReturnType<typeof native> | undefined;
  try { m = native(); } catch { m = undefined; }
  if (!m || typeof m.f64Gemm !== 'function' || typeof m.f64Gemv !== 'function' || typeof m.f64Symv !== 'function') return (nativeBlas = null);
  const addon = m;
  nativeBlas = {
    name: 'native',
    gemm: (ta, tb, tri, mm, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) =>
      addon.f64Gemm(ta, tb, tri, mm, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc),
    gemv: (trans, mm, n, alpha, a, aOff, lda, x, xOff, incx, beta, y, yOff, incy) =>
      addon.f64Gemv(trans, mm, n, alpha, a, aOff, lda, x, xOff, incx, beta, y, yOff, incy),
    symv: (mm, a, aOff, lda, x, xOff, y, yOff) => addon.f64Symv(mm, a, aOff, lda, x, xOff, y, yOff),
  };
  return nativeBlas;
}

let current: Blas64 | undefined;

function pick(which: string): Blas64 {
  if (which === 'ts') return tsBlas64;
  const n = nativeBlas64();
  if (n) return n;
  if (which === 'native') throw new Error('mrigan: the native float64 kernels (f64Gemm) are not in the loaded addon; rebuild it (npm run build:native) or set MRIGAN_F64=ts');
  return tsBlas64;
}

/** The kernels in use: MRIGAN_F64 (auto | native | ts) on first use, or what setBlas64 chose. */
export function blas64(): Blas64 {
  if (!current) {
    const w = process.env.MRIGAN_F64 ?? 'auto';
    if (!['auto', 'native', 'ts'].includes(w)) throw new Error(`mrigan: MRIGAN_F64 must be auto, native or ts, got '${w}'`);
    current = pick(w);
  }
  return current;
}

/** Selects the kernels ('auto' = native when available); returns the previous ones' name. */
export function setBlas64(which: 'auto' | 'native' | 'ts'): 'native' | 'ts' {
  const prev = blas64().name;
  current = pick(which);
  return prev;
}
