// Float64 symmetric eigensolver: Householder reduction to tridiagonal form, then the implicit QL iteration with
// shifts (the EISPACK tred2/tql2 pair, as in JAMA), with or without eigenvectors. FID needs eigenvalues only
// (Σ√λ of a symmetric positive semidefinite matrix), for which the reduction runs in LAPACK dsytrd-style panels
// (half of its flops in one gemm per panel); the vectors (column by column) are for tests and Σ^½. The matrix
// products go through blas64.ts (native or TypeScript kernels); the algorithm is here.
// Storage: n×n row-major Float64Array; only the lower triangle of the input is read.

import { blas64, Blas64 } from './blas64';

const EPS = 2.220446049250313e-16;
/** Panel width of the blocked reduction (eigenvalues only); matrices up to 2·NB use the unblocked loop alone. */
const NB = 32;

export interface Tridiagonal {
  /** Diagonal (n) and subdiagonal (e[i] = T[i+1][i], e[n-1] = 0). */
  d: Float64Array;
  e: Float64Array;
  /** With vectors: Qᵀ row-major (row j = column j of Q), A = Q T Qᵀ. */
  qt?: Float64Array;
}

/**
 * Householder tridiagonalisation T = Qᵀ A Q of a symmetric matrix (lower triangle read; the input is not modified).
 * Step k reflects column k below the diagonal onto e_{k+1}: H = I − τ v vᵀ, then the trailing block gets the
 * symmetric rank-2 update A ← A − v wᵀ − w vᵀ with w = τAv − (τ²/2)(vᵀAv) v.
 * The working copy holds the upper triangle row-major (= the lower one column-major, LAPACK's layout): column k
 * below the diagonal is then the contiguous row k right of it. Without Q, all but the last 2·NB columns go through
 * the blocked panels (reducePanels); with Q, column by column. Products go through `k` (blas64.ts).
 */
export function tridiagonalize(aIn: Float64Array, n: number, wantQ = false, k: Blas64 = blas64()): Tridiagonal {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = aIn[j * n + i];
  const d = new Float64Array(n), e = new Float64Array(n);
  if (!wantQ) {
    reduceColumns(a, n, d, e, reducePanels(a, n, d, e, k), null, [], k);
    return { d, e };
  }
  const vs: Float64Array[] = [], taus: number[] = [];
  reduceColumns(a, n, d, e, 0, vs, taus, k);
  return { d, e, qt: accumulateQ(vs, taus, n) };
}

/** Builds the Householder reflector of x (length m) in v (unnormalised, H = I − τ v vᵀ, Hx = α e₁); returns [α, τ]. */
function householder(v: Float64Array, m: number): [number, number] {
  let scale = 0;
  for (let i = 0; i < m; i++) scale = Math.max(scale, Math.abs(v[i]));
  let sigma = 0;
  if (scale > 0) for (let i = 1; i < m; i++) { const x = v[i] / scale; sigma += x * x; }
  if (sigma === 0) { const a0 = v[0]; v.fill(0, 0, m); return [a0, 0]; }
  const x0 = v[0] / scale;
  const norm = scale * Math.sqrt(x0 * x0 + sigma);
  const alpha = v[0] >= 0 ? -norm : norm;
  v[0] -= alpha;
  let vv = 0;
  for (let i = 0; i < m; i++) vv += v[i] * v[i];
  return [alpha, 2 / vv];
}

/** w = τp − (τ²/2)(pᵀv)v in p, from p = A v (length m). */
function toW(p: Float64Array, v: Float64Array, m: number, tau: number): void {
  let pv = 0;
  for (let i = 0; i < m; i++) { p[i] *= tau; pv += p[i] * v[i]; }
  const kk = 0.5 * tau * pv;
  for (let i = 0; i < m; i++) p[i] -= kk * v[i];
}

/**
 * Blocked reduction (LAPACK dsytrd/dlatrd, lower): for a panel of NB columns, each column is first brought up to
 * date with the panel's earlier reflectors (A(:,k) −= V W(k,:)ᵀ + W V(k,:)ᵀ), then its reflector v and
 * w = τ(A v − V(Wᵀv) − W(Vᵀv)) − (τ²/2)(vᵀ…)v are formed against the trailing matrix as it was at the panel start;
 * the trailing matrix gets the whole panel at once, A −= V Wᵀ + W Vᵀ, as one matrix product (upper triangle only).
 * Half the flops become a gemm instead of rank-2 updates. V and W are kept as rows (each vector contiguous over the
 * matrix index), interleaved: X = [v0; w0; v1; w1; …] and Y = [w0; v0; w1; v1; …], so every panel correction is a
 * single product Σ_r X_r Y_rᵀ. Returns the first column left for the unblocked loop.
 */
function reducePanels(a: Float64Array, n: number, d: Float64Array, e: Float64Array, k: Blas64): number {
  const X = new Float64Array(2 * NB * n), Y = new Float64Array(2 * NB * n);
  const p = new Float64Array(n), v = new Float64Array(n), t = new Float64Array(2 * NB);
  let k0 = 0;
  for (; n - k0 > 2 * NB; k0 += NB) {
    X.fill(0); Y.fill(0);
    for (let c = 0; c < NB; c++) {
      const col = k0 + c, o = col + 1, m = n - o, r = 2 * c;
      // row `col` of the stored upper triangle (= column col from the diagonal down) −= Σ_{q<2c} Y[q][col] X[q][col…]
      if (c > 0) k.gemv(true, r, n - col, -1, X, col, n, Y, col, n, 1, a, col * n + col, 1);
      d[col] = a[col * n + col];
      for (let i = 0; i < m; i++) v[i] = a[col * n + o + i];
      const [alpha, tau] = householder(v, m);
      e[col] = alpha;
      if (tau === 0) continue; // its X and Y rows stay 0
      // p = A_t v on the trailing block as at the panel start, then p −= Σ_q X_q (Y_q · v) over the earlier columns
      k.symv(m, a, o * n + o, n, v, 0, p, 0);
      if (c > 0) {
        k.gemv(false, r, m, 1, Y, o, n, v, 0, 1, 0, t, 0, 1);
        k.gemv(true, r, m, -1, X, o, n, t, 0, 1, 1, p, 0, 1);
      }
      toW(p, v, m, tau);
      X.set(v.subarray(0, m), r * n + o); X.set(p.subarray(0, m), (r + 1) * n + o);
      Y.set(p.subarray(0, m), r * n + o); Y.set(v.subarray(0, m), (r + 1) * n + o);
    }
    // trailing rows/cols k1…n-1: A −= V Wᵀ + W Vᵀ = Xᵀ Y over the panel's 2·NB rows, upper triangle only
    const k1 = k0 + NB, m = n - k1;
    k.gemm(true, false, 2, m, m, 2 * NB, -1, X, k1, n, Y, k1, n, 1, a, k1 * n + k1, n);
  }
  return k0;
}

/** Unblocked reduction of columns k0…n-3 (and the last 2×2); records the reflectors when `vs` is given. */
function reduceColumns(a: Float64Array, n: number, d: Float64Array, e: Float64Array, kStart: number,
  vs: Float64Array[] | null, taus: number[], k: Blas64): void {
  const p = new Float64Array(n), v = new Float64Array(n);
  for (let col = kStart; col < n - 2; col++) {
    const m = n - col - 1, o = col + 1;
    for (let i = 0; i < m; i++) v[i] = a[col * n + o + i];
    d[col] = a[col * n + col];
    const [alpha, tau] = householder(v, m);
    e[col] = alpha;
    if (tau === 0) { if (vs) { vs.push(new Float64Array(0)); taus.push(0); } continue; }
    k.symv(m, a, o * n + o, n, v, 0, p, 0);
    toW(p, v, m, tau); // p is now w
    // A22 −= v wᵀ + w vᵀ on the stored upper triangle
    for (let i = 0; i < m; i++) {
      const row = (o + i) * n + o, vi = v[i], wi = p[i];
      for (let j = i; j < m; j++) a[row + j] -= vi * p[j] + wi * v[j];
    }
    if (vs) { vs.push(Float64Array.from(v.subarray(0, m))); taus.push(tau); }
  }
  if (n >= 2) { d[n - 2] = a[(n - 2) * n + n - 2]; e[n - 2] = a[(n - 2) * n + n - 1]; }
  if (n >= 1) { d[n - 1] = a[(n - 1) * n + n - 1]; e[n - 1] = 0; }
}

function accumulateQ(vs: Float64Array[], taus: number[], n: number): Float64Array {
  // Q = H_0 H_1 … H_{n-3}, accumulated backwards on Qᵀ: row j of Qᵀ gets z ← z − τ (z·v) v on indices k+1…;
  // rows j ≤ k are still e_j there and are skipped.
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  for (let k = n - 3; k >= 0; k--) {
    const vk = vs[k], tau = taus[k], o = k + 1, m = n - o;
    if (tau === 0) continue;
    for (let j = o; j < n; j++) {
      const row = j * n + o;
      let s = 0;
      for (let i = 0; i < m; i++) s += qt[row + i] * vk[i];
      s *= tau;
      for (let i = 0; i < m; i++) qt[row + i] -= s * vk[i];
    }
  }
  return qt;
}

/**
 * Eigenvalues (ascending) of a symmetric tridiagonal matrix by implicit QL with shifts; with `zt` (row-major,
 * row j = j-th basis vector) the rotations are applied to its rows so they become the eigenvectors. d and e are
 * overwritten (d holds the eigenvalues, unsorted, on return; the sorted copy and the order are returned).
 */
export function tridiagonalQL(d: Float64Array, e: Float64Array, zt?: Float64Array): { values: Float64Array; order: Int32Array } {
  const n = d.length;
  let f = 0, tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error(`eigen: the QL iteration did not converge for eigenvalue ${l} of ${n}`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          g = c * e[i]; h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r; c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (zt) {
            const ri = i * n, rj = (i + 1) * n;
            for (let k = 0; k < n; k++) {
              const zh = zt[rj + k], zi = zt[ri + k];
              zt[rj + k] = s * zi + c * zh;
              zt[ri + k] = c * zi - s * zh;
            }
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y]);
  return { values: Float64Array.from(order, (i) => d[i]), order };
}

export interface SymEig {
  /** Ascending eigenvalues. */
  values: Float64Array;
  /** With vectors: n×n row-major, column j is the unit eigenvector of values[j] (A = V Λ Vᵀ). */
  vectors?: Float64Array;
}

/** Eigen-decomposition of a symmetric n×n matrix (lower triangle read). */
export function symEig(a: Float64Array, n: number, opts: { vectors?: boolean } = {}): SymEig {
  if (!Number.isInteger(n) || n < 0 || a.length < n * n) throw new Error(`symEig: need an n×n array, got length ${a.length} for n = ${n}`);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
    if (!Number.isFinite(a[i * n + j])) throw new Error(`symEig: element (${i}, ${j}) is ${a[i * n + j]}`);
  }
  const t = tridiagonalize(a, n, !!opts.vectors);
  const { values, order } = tridiagonalQL(t.d, t.e, t.qt);
  if (!opts.vectors) return { values };
  const zt = t.qt!, vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) { const src = order[j] * n; for (let i = 0; i < n; i++) vectors[i * n + j] = zt[src + i]; }
  return { values, vectors };
}
