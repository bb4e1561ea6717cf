// Float64 dense linear algebra for the metrics (FID's trace term, KID's kernels, PRDC's distances): a packed,
// register-blocked matrix product in TypeScript (the pure-TS kernel of blas64.ts, and KID's/PRDC's product), and
// the Cholesky factorisations, whose heavy products go through blas64.ts (native SIMD kernels when the addon has
// them, else TypeScript). Matrices are row-major Float64Array; `ld*` is the row stride.

import { blas64, Blas64 } from './blas64';

/** Block sizes (measured best of a few on the 2-core host at d = 1536): a KC×NC panel of B (128 KB) and an MC×KC panel of A (64 KB) stay in L2. */
const MC = 64, KC = 128, NC = 128;

/** Element (i, k) of op(A) where op is the identity or the transpose. */
export interface MatView { data: Float64Array; off: number; ld: number; trans: boolean }
export const view = (data: Float64Array, ld: number, off = 0, trans = false): MatView => ({ data, off, ld, trans });

/** Packs rows i0..i0+m of op(A), columns k0..k0+kc into 4-row slivers: out[(s*kc + k)*4 + r] = A(i0+4s+r, k0+k). */
function packA(a: MatView, i0: number, m: number, k0: number, kc: number, out: Float64Array): void {
  const { data, off, ld, trans } = a;
  for (let s = 0; s * 4 < m; s++) {
    const base = s * kc * 4;
    for (let r = 0; r < 4; r++) {
      const i = i0 + s * 4 + r;
      if (s * 4 + r >= m) { for (let k = 0; k < kc; k++) out[base + k * 4 + r] = 0; continue; }
      if (!trans) { const row = off + i * ld + k0; for (let k = 0; k < kc; k++) out[base + k * 4 + r] = data[row + k]; }
      else { for (let k = 0; k < kc; k++) out[base + k * 4 + r] = data[off + (k0 + k) * ld + i]; }
    }
  }
}

/** Packs rows k0..k0+kc of op(B), columns j0..j0+n into 4-column slivers: out[(s*kc + k)*4 + c] = B(k0+k, j0+4s+c). */
function packB(b: MatView, k0: number, kc: number, j0: number, n: number, out: Float64Array): void {
  const { data, off, ld, trans } = b;
  for (let s = 0; s * 4 < n; s++) {
    const base = s * kc * 4;
    for (let k = 0; k < kc; k++) {
      for (let c = 0; c < 4; c++) {
        const j = j0 + s * 4 + c;
        out[base + k * 4 + c] = s * 4 + c >= n ? 0 : trans ? data[off + j * ld + k0 + k] : data[off + (k0 + k) * ld + j];
      }
    }
  }
}

/**
 * C[4×4 block] += alpha · packed A sliver · packed B sliver over kc; rows/cols beyond mr/nr are not stored, nor (tri
 * 1: lower, 2: upper) those on the wrong side of C's diagonal, given the block's place (gi, gj) in C.
 */
function micro(pa: Float64Array, ao: number, pb: Float64Array, bo: number, kc: number,
  c: Float64Array, co: number, ldc: number, mr: number, nr: number, alpha = 1, tri: Tri = 0, gi = 0, gj = 0): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let k = 0; k < kc; k++) {
    const a = ao + k * 4, b = bo + k * 4;
    const b0 = pb[b], b1 = pb[b + 1], b2 = pb[b + 2], b3 = pb[b + 3];
    let x = pa[a];
    c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
    x = pa[a + 1];
    c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
    x = pa[a + 2];
    c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
    x = pa[a + 3];
    c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
  }
  if (alpha !== 1) {
    c00 *= alpha; c01 *= alpha; c02 *= alpha; c03 *= alpha; c10 *= alpha; c11 *= alpha; c12 *= alpha; c13 *= alpha;
    c20 *= alpha; c21 *= alpha; c22 *= alpha; c23 *= alpha; c30 *= alpha; c31 *= alpha; c32 *= alpha; c33 *= alpha;
  }
  if (mr === 4 && nr === 4 && (tri === 0 || (tri === 1 ? gj + 3 <= gi : gj >= gi + 3))) {
    let o = co;
    c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; c[o + 3] += c03; o += ldc;
    c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; c[o + 3] += c13; o += ldc;
    c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; c[o + 3] += c23; o += ldc;
    c[o] += c30; c[o + 1] += c31; c[o + 2] += c32; c[o + 3] += c33;
    return;
  }
  const t = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nr; q++) if (tri === 0 || (tri === 1 ? gj + q <= gi + r : gj + q >= gi + r)) c[co + r * ldc + q] += t[r * 4 + q];
  }
}

/** Which elements of C a product writes: 0 all, 1 lower (j ≤ i), 2 upper (j ≥ i), (i, j) relative to C. */
export type Tri = 0 | 1 | 2;

/**
 * C (m×n, row-major, stride ldc, offset coff) += op(A) (m×k) · op(B) (k×n).
 * `kRange(i0, i1, j0, j1)` is a hint: k blocks entirely outside the returned range are skipped (the caller
 * guarantees those products are zero, e.g. triangular factors); null skips the C block (e.g. the upper half of a
 * symmetric result).
 */
export function gemm(m: number, n: number, k: number, a: MatView, b: MatView, c: Float64Array, ldc: number, coff = 0,
  kRange?: (i0: number, i1: number, j0: number, j1: number) => [number, number] | null): void {
  gemmTri(m, n, k, 1, a, b, c, ldc, coff, 0, kRange);
}

/** C += alpha · op(A) · op(B) on the elements of `tri` (see gemm for the rest). */
export function gemmTri(m: number, n: number, k: number, alpha: number, a: MatView, b: MatView, c: Float64Array, ldc: number,
  coff: number, tri: Tri, kRange?: (i0: number, i1: number, j0: number, j1: number) => [number, number] | null): void {
  const pa = new Float64Array(MC * KC), pb = new Float64Array(KC * (NC + 4));
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = Math.min(NC, n - j0);
    for (let k0 = 0; k0 < k; k0 += KC) {
      const kc = Math.min(KC, k - k0);
      let packed = false;
      for (let i0 = 0; i0 < m; i0 += MC) {
        const mc = Math.min(MC, m - i0);
        if ((tri === 1 && j0 > i0 + mc - 1) || (tri === 2 && j0 + nc - 1 < i0)) continue;
        if (kRange) {
          const r = kRange(i0, i0 + mc, j0, j0 + nc);
          if (!r || r[1] <= k0 || r[0] >= k0 + kc) continue;
        }
        if (!packed) { packB(b, k0, kc, j0, nc, pb); packed = true; }
        packA(a, i0, mc, k0, kc, pa);
        for (let js = 0; js < nc; js += 4) {
          for (let is = 0; is < mc; is += 4) {
            const gi = i0 + is, gj = j0 + js;
            if ((tri === 1 && gj > gi + 3) || (tri === 2 && gj + 3 < gi)) continue;
            micro(pa, is * kc, pb, js * kc, kc, c, coff + gi * ldc + gj, ldc, Math.min(4, mc - is), Math.min(4, nc - js), alpha, tri, gi, gj);
          }
        }
      }
    }
  }
}

/** Mirrors the lower triangle of a square n×n matrix into the upper one. */
export function symmetrizeFromLower(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j];
}

export interface PivotedCholesky {
  /** n×rank, row-major, rows in pivot order: L[k][j] = 0 for j > k, so P·S·Pᵀ ≈ L·Lᵀ. */
  l: Float64Array;
  /** perm[k] = original index of the k-th pivot. */
  perm: Int32Array;
  rank: number;
  /** Largest remaining (Schur complement) diagonal when the factorisation stopped: the part of S left out. */
  residual: number;
}

/**
 * Pivoted (diagonal pivoting, LAPACK dpstrf's rule) Cholesky of a symmetric positive semidefinite n×n S: stops
 * when the largest remaining diagonal is ≤ tol (default n·ε·max diag S), which is how a rank-deficient
 * covariance (fewer samples than dimensions) is factored exactly up to rounding instead of failing.
 */
export function pivotedCholesky(s: Float64Array, n: number, tol?: number): PivotedCholesky {
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, s[i * n + i]);
  const t = tol ?? n * 2.220446049250313e-16 * maxDiag;
  // Work in "original index" rows: lo[i*n + k] = L(perm⁻¹(i), k); a row's first k entries are contiguous.
  const lo = new Float64Array(n * n);
  const rem = new Float64Array(n);
  for (let i = 0; i < n; i++) rem[i] = s[i * n + i];
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let rank = 0, residual = 0;
  for (let k = 0; k < n; k++) {
    let p = k, best = rem[perm[k]];
    for (let q = k + 1; q < n; q++) if (rem[perm[q]] > best) { best = rem[perm[q]]; p = q; }
    if (!(best > t)) { residual = Math.max(0, best); break; }
    const tmp = perm[k]; perm[k] = perm[p]; perm[p] = tmp;
    const ip = perm[k], lp = ip * n;
    const piv = Math.sqrt(best);
    lo[lp + k] = piv;
    rem[ip] = 0;
    const sp = ip * n;
    for (let q = k + 1; q < n; q++) {
      const i = perm[q], li = i * n;
      let dot = 0;
      for (let j = 0; j < k; j++) dot += lo[li + j] * lo[lp + j];
      const v = (s[sp + i] - dot) / piv;
      lo[li + k] = v;
      rem[i] -= v * v;
    }
    rank = k + 1;
  }
  const l = new Float64Array(n * rank);
  for (let k = 0; k < n; k++) {
    const src = perm[k] * n, dst = k * rank;
    for (let j = 0; j < rank && j <= k; j++) l[dst + j] = lo[src + j];
  }
  return { l, perm, rank, residual };
}

/**
 * Unpivoted blocked Cholesky S = L Lᵀ (right-looking: factor a 64-column panel column by column, each column
 * brought up to date with the panel's earlier ones by one matrix–vector product, then update the trailing lower
 * triangle with one product), the fast path for a full-rank covariance. The products go through `k` (blas64.ts).
 * Returns null as soon as a pivot is ≤ tol (default n·ε·max diag S), i.e. when S is rank-deficient to working
 * precision: the caller then uses pivotedCholesky. L is n×n row-major with zeros above the diagonal.
 */
export function cholesky(s: Float64Array, n: number, tol?: number, k: Blas64 = blas64()): Float64Array | null {
  const NB = 64;
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, s[i * n + i]);
  const t = tol ?? n * 2.220446049250313e-16 * maxDiag;
  const a = Float64Array.from(s.subarray(0, n * n));
  for (let k0 = 0; k0 < n; k0 += NB) {
    const kb = Math.min(NB, n - k0), k1 = k0 + kb;
    for (let c = k0; c < k1; c++) {
      // column c, rows c…n-1: a[i][c] −= Σ_{k0≤j<c} a[i][j] a[c][j]  (A and x are read before y is written)
      if (c > k0) k.gemv(false, n - c, c - k0, -1, a, c * n + k0, n, a, c * n + k0, 1, 1, a, c * n + c, n);
      const dcc = a[c * n + c];
      if (!(dcc > t)) return null;
      const lcc = Math.sqrt(dcc);
      a[c * n + c] = lcc;
      for (let i = c + 1; i < n; i++) a[i * n + c] /= lcc;
    }
    // trailing lower triangle: A22 −= L21 L21ᵀ (L21 = rows k1…, columns k0…k1-1: disjoint from A22)
    if (k1 < n) k.gemm(false, true, 1, n - k1, n - k1, kb, -1, a, k1 * n + k0, n, a, k1 * n + k0, n, 1, a, k1 * n + k1, n);
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = 0;
  return a;
}
