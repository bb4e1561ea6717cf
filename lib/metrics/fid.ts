// Fréchet distance between two Gaussians (FID on Inception features):
//   FID = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1 Σ2)^½.
// tr (Σ1Σ2)^½ = Σ √λ_i(Σ1Σ2), and Σ1Σ2 has the same eigenvalues as any symmetric Fᵀ Σ2 F with F Fᵀ = Σ1
// (Σ1^½ Σ2 Σ1^½ is the case F = Σ1^½), all real and ≥ 0. So no complex square root (scipy `sqrtm`) and no
// ε-retry is needed, and rank-deficient covariances (n ≤ d) are exact: eigenvalues within m·ε·λmax of 0 (rounding
// noise, including the slightly negative ones, which are counted and reported) contribute 0 instead of √noise.
//   method 'cholesky' (default): F = Pᵀ L from a Cholesky of Σ1 (blocked; pivoted when Σ1 is rank-deficient to
//     working precision, stopping at its numerical rank), then the eigenvalues of Lᵀ (P Σ2 Pᵀ) L;  ~3 d³ flops.
//   method 'sqrt': F = Σ1^½ from the eigen-decomposition of Σ1 (negative eigenvalues clamped), then the
//     eigenvalues of Σ1^½ Σ2 Σ1^½; slower (eigenvectors), kept as the literal definition and a cross-check.
import { gemm, view, pivotedCholesky, cholesky } from './linalg';
import { blas64 } from './blas64';
import { symEig, tridiagonalize, tridiagonalQL } from './eigen';
import { GaussianStats } from './stats';

export type TraceMethod = 'cholesky' | 'sqrt';

/** Column / row panel of the products W = Σ2 L and B = Lᵀ W: the skipped zeros of L cost ~PANEL/d of the flops. */
const PANEL = 128;

export interface TraceSqrt {
  /** tr (Σ1 Σ2)^½ */
  value: number;
  method: TraceMethod;
  /** Numerical rank of Σ1 used for the factor F. */
  rank1: number;
  /** Eigenvalues of the symmetric product that were < 0 (rounding) and clamped to 0: count and most negative. */
  negativeCount: number;
  negativeMin: number;
  /** Largest eigenvalue of the symmetric product (the scale the clamped values are small against). */
  maxEigenvalue: number;
  /** Eigenvalues within m·ε·λmax of 0 (zero to working precision, negative ones included) that contributed 0. */
  zeroEigenvalues: number;
}

function checkSquare(name: string, s: Float64Array, d: number): void {
  if (s.length !== d * d) throw new Error(`fid: ${name} has ${s.length} values, expected ${d}×${d}`);
  for (let i = 0; i < d * d; i++) if (!Number.isFinite(s[i])) throw new Error(`fid: ${name}[${Math.floor(i / d)}][${i % d}] is ${s[i]}`);
}

/**
 * Σ √λ over the eigenvalues of a symmetric PSD product. A backward-stable eigensolver gets each λ to within about
 * m·ε·λmax, so values below that are 0 to working precision: they are counted as zero instead of adding √(noise)
 * (√(1e-16) = 1e-8 relative per eigenvalue, which would swamp rank-deficient cases). Negative values are reported.
 */
function sumSqrt(values: Float64Array): { sum: number; negativeCount: number; negativeMin: number; max: number; zeroed: number } {
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  const tol = values.length * 2.220446049250313e-16 * max;
  let sum = 0, negativeCount = 0, negativeMin = 0, zeroed = 0;
  for (const v of values) {
    if (v < 0) { negativeCount++; negativeMin = Math.min(negativeMin, v); }
    if (v > tol) sum += Math.sqrt(v); else zeroed++;
  }
  return { sum, negativeCount, negativeMin, max, zeroed };
}

/** Process CPU seconds per phase of the 'cholesky' route, added into when given (bench/fid-trace.ts). */
export type TracePhases = Partial<Record<'cholesky' | 'sigma2L' | 'ltW' | 'tridiagonalize' | 'ql', number>>;

/** tr (Σ1 Σ2)^½ for symmetric positive semidefinite d×d Σ1, Σ2 (row-major; only symmetric input is meaningful). */
export function traceSqrtProduct(sigma1: Float64Array, sigma2: Float64Array, d: number, method: TraceMethod = 'cholesky',
  phases?: TracePhases): TraceSqrt {
  let c0 = phases ? process.cpuUsage() : null;
  const lap = (name: keyof TracePhases): void => {
    if (!phases || !c0) return;
    const u = process.cpuUsage(c0);
    phases[name] = (phases[name] ?? 0) + (u.user + u.system) / 1e6;
    c0 = process.cpuUsage();
  };
  checkSquare('sigma1', sigma1, d);
  checkSquare('sigma2', sigma2, d);
  if (method === 'sqrt') {
    const e1 = symEig(sigma1, d, { vectors: true });
    const v = e1.vectors!;
    // F = V diag(√λ) Vᵀ; rank = number of positive eigenvalues above n·ε·λmax
    const lmax = Math.max(0, e1.values[d - 1]);
    let rank1 = 0;
    const vs = new Float64Array(d * d);
    for (let j = 0; j < d; j++) {
      const lam = e1.values[j];
      if (lam > d * 2.220446049250313e-16 * lmax) rank1++;
      const r = lam > d * 2.220446049250313e-16 * lmax ? Math.sqrt(lam) : 0;
      for (let i = 0; i < d; i++) vs[i * d + j] = v[i * d + j] * r;
    }
    const f = new Float64Array(d * d);
    gemm(d, d, d, view(vs, d), view(v, d, 0, true), f, d);
    const w = new Float64Array(d * d), a = new Float64Array(d * d);
    gemm(d, d, d, view(sigma2, d), view(f, d), w, d);
    gemm(d, d, d, view(f, d), view(w, d), a, d);
    const s = sumSqrt(symEig(a, d).values);
    return { value: s.sum, method, rank1, negativeCount: s.negativeCount, negativeMin: s.negativeMin, maxEigenvalue: s.max, zeroEigenvalues: s.zeroed };
  }
  // full rank: the blocked unpivoted factor (fast); rank-deficient to working precision: the pivoted one
  const full = cholesky(sigma1, d);
  const { l, perm, rank } = full ? { l: full, perm: null, rank: d } : pivotedCholesky(sigma1, d);
  const r = rank;
  lap('cholesky');
  if (r === 0) return { value: 0, method, rank1: 0, negativeCount: 0, negativeMin: 0, maxEigenvalue: 0, zeroEigenvalues: d };
  // P Σ2 Pᵀ, then W = (P Σ2 Pᵀ) L and B = Lᵀ W (lower triangle), in panels that skip L's zeros above its diagonal
  let s2p = sigma2;
  if (perm) {
    s2p = new Float64Array(d * d);
    for (let i = 0; i < d; i++) { const src = perm[i] * d, dst = i * d; for (let j = 0; j < d; j++) s2p[dst + j] = sigma2[src + perm[j]]; }
  }
  const k = blas64();
  const w = new Float64Array(d * r), b = new Float64Array(r * r);
  for (let j0 = 0; j0 < r; j0 += PANEL) {
    // W[:, j0:j1] = S2p[:, j0:d] · L[j0:d, j0:j1]  (L(i, j) = 0 for i < j)
    const jb = Math.min(PANEL, r - j0);
    k.gemm(false, false, 0, d, jb, d - j0, 1, s2p, j0, d, l, j0 * r + j0, r, 0, w, j0, r);
  }
  lap('sigma2L');
  for (let i0 = 0; i0 < r; i0 += PANEL) {
    // B[i0:i1, 0:i1] = L[i0:d, i0:i1]ᵀ · W[i0:d, 0:i1]: the block left of the diagonal, then the diagonal block's lower half
    const ib = Math.min(PANEL, r - i0);
    k.gemm(true, false, 0, ib, i0, d - i0, 1, l, i0 * r + i0, r, w, i0 * r, r, 0, b, i0 * r, r);
    k.gemm(true, false, 1, ib, ib, d - i0, 1, l, i0 * r + i0, r, w, i0 * r + i0, r, 0, b, i0 * r + i0, r);
  }
  lap('ltW');
  const t = tridiagonalize(b, r, false, k);
  lap('tridiagonalize');
  const s = sumSqrt(tridiagonalQL(t.d, t.e).values);
  lap('ql');
  return { value: s.sum, method, rank1: r, negativeCount: s.negativeCount, negativeMin: s.negativeMin, maxEigenvalue: s.max, zeroEigenvalues: s.zeroed };
}

/** Statistics as read from an .npz (no sample count) or computed here (with n). */
export interface StatsLike { mu: Float64Array; sigma: Float64Array; n?: number; d?: number }

export interface FidResult {
  fid: number;
  /** ‖μ1 − μ2‖², tr Σ1, tr Σ2, tr (Σ1Σ2)^½ */
  meanTerm: number;
  trace1: number;
  trace2: number;
  traceSqrt: number;
  d: number;
  n1?: number;
  n2?: number;
  method: TraceMethod;
  rank1: number;
  negativeEigenvalues: { count: number; min: number; maxEigenvalue: number; zeroed: number };
  /** The raw value when it came out < 0 and was clamped to 0. */
  clampedFrom?: number;
  warnings: string[];
}

/** Below this many samples FID is strongly biased upward (and the covariance is rank-deficient for n ≤ d). */
export const FID_MIN_SAMPLES = 2048;

/** FID between two sets of statistics. */
export function frechetDistance(a: StatsLike, b: StatsLike, opts: { method?: TraceMethod; phases?: TracePhases } = {}): FidResult {
  const d = a.mu.length;
  if (b.mu.length !== d) throw new Error(`fid: the statistics have different dimensions (${d} vs ${b.mu.length})`);
  for (const [name, m] of [['mu1', a.mu], ['mu2', b.mu]] as const) {
    for (let i = 0; i < d; i++) if (!Number.isFinite(m[i])) throw new Error(`fid: ${name}[${i}] is ${m[i]}`);
  }
  const warnings: string[] = [];
  let meanTerm = 0, trace1 = 0, trace2 = 0;
  for (let i = 0; i < d; i++) { const t = a.mu[i] - b.mu[i]; meanTerm += t * t; }
  for (let i = 0; i < d; i++) { trace1 += a.sigma[i * d + i]; trace2 += b.sigma[i * d + i]; }
  const tr = traceSqrtProduct(a.sigma, b.sigma, d, opts.method ?? 'cholesky', opts.phases);
  for (const [label, n] of [['first', a.n], ['second', b.n]] as const) {
    if (n !== undefined && n < FID_MIN_SAMPLES) {
      warnings.push(`the ${label} set has ${n} samples (< ${FID_MIN_SAMPLES}): FID is strongly biased upward at small n`
        + (n <= d ? ` and its covariance is rank-deficient (rank ≤ ${n - 1} < d = ${d})` : '') + '; compare only values computed with the same n');
    }
  }
  if (tr.negativeCount > 0) {
    warnings.push(`${tr.negativeCount} eigenvalue(s) of the symmetric product were negative (most negative ${tr.negativeMin.toExponential(3)}, `
      + `largest eigenvalue ${tr.maxEigenvalue.toExponential(3)}) and were clamped to 0`);
  }
  const raw = meanTerm + trace1 + trace2 - 2 * tr.value;
  const res: FidResult = {
    fid: raw, meanTerm, trace1, trace2, traceSqrt: tr.value, d, n1: a.n, n2: b.n, method: tr.method, rank1: tr.rank1,
    negativeEigenvalues: { count: tr.negativeCount, min: tr.negativeMin, maxEigenvalue: tr.maxEigenvalue, zeroed: tr.zeroEigenvalues }, warnings,
  };
  if (raw < 0) {
    res.fid = 0;
    res.clampedFrom = raw;
    const scale = meanTerm + trace1 + trace2;
    warnings.push(`FID came out ${raw.toExponential(3)} (${(Math.abs(raw) / (scale || 1)).toExponential(2)} of ‖Δμ‖² + tr Σ1 + tr Σ2) and was clamped to 0`
      + (Math.abs(raw) > 1e-8 * scale ? '; that is more than rounding: are both covariances positive semidefinite?' : ' (rounding)'));
  }
  return res;
}

/** Convenience: FID of two GaussianStats (keeps n for the small-sample warning). */
export const fidFromStats = (a: GaussianStats, b: GaussianStats, opts: { method?: TraceMethod } = {}): FidResult => frechetDistance(a, b, opts);
