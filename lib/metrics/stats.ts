// Streaming feature statistics in float64: running sums Σ(x − c), Σ(x − c)(x − c)ᵀ and n around a fixed shift c
// (the first row seen), so that the covariance does not lose digits to cancellation when the mean is large next to
// the spread. Batches may come from any number of workers/ranks; partial statistics merge exactly.
import { gemm, view } from './linalg';

/** Mean and covariance (divided by n − 1) of n feature vectors of dimension d. */
export interface GaussianStats {
  d: number;
  n: number;
  mu: Float64Array;
  /** d×d row-major, symmetric. */
  sigma: Float64Array;
}

export class StatsAccumulator {
  readonly d: number;
  n = 0;
  /** The shift c (set from the first row), Σ(x − c) and Σ(x − c)(x − c)ᵀ (its lower triangle is what counts). */
  shift: Float64Array | null = null;
  readonly sum: Float64Array;
  readonly xtx: Float64Array;

  constructor(d: number) {
    if (!Number.isInteger(d) || d < 1) throw new Error(`StatsAccumulator: dimension must be a positive integer, got ${d}`);
    this.d = d;
    this.sum = new Float64Array(d);
    this.xtx = new Float64Array(d * d);
  }

  /** Adds `rows` feature vectors stored row-major in `x` (length rows·d). Non-finite features are an error. */
  add(x: Float32Array | Float64Array, rows = x.length / this.d): this {
    const d = this.d;
    if (!Number.isInteger(rows) || rows < 0 || x.length < rows * d) {
      throw new Error(`StatsAccumulator.add: ${x.length} values do not hold ${rows} rows of dimension ${d}`);
    }
    if (rows === 0) return this;
    if (!this.shift) this.shift = Float64Array.from(x.subarray(0, d));
    const c = this.shift;
    // centre the batch in float64, then XᵀX += YᵀY as one matrix product (lower blocks only; finalize reads the
    // lower triangle), in chunks of 256 rows to bound the temporary
    const CH = 256, y = new Float64Array(Math.min(rows, CH) * d);
    for (let r0 = 0; r0 < rows; r0 += CH) {
      const nb = Math.min(CH, rows - r0);
      for (let b = 0; b < nb; b++) {
        const src = (r0 + b) * d;
        for (let j = 0; j < d; j++) {
          const v = x[src + j];
          if (!Number.isFinite(v)) throw new Error(`StatsAccumulator.add: feature ${j} of row ${r0 + b} is ${v}`);
          const t = v - c[j];
          y[b * d + j] = t;
          this.sum[j] += t;
        }
      }
      gemm(d, d, nb, view(y, d, 0, true), view(y, d), this.xtx, d, 0, (i0, i1, j0) => (j0 >= i1 ? null : [0, nb]));
    }
    this.n += rows;
    return this;
  }

  /** Adds another accumulator's sums (re-centred onto this shift): the result equals one pass over both sets. */
  merge(other: StatsAccumulator): this {
    const d = this.d;
    if (other.d !== d) throw new Error(`StatsAccumulator.merge: dimensions differ (${d} vs ${other.d})`);
    if (other.n === 0) return this;
    if (!this.shift) this.shift = Float64Array.from(other.shift!);
    // Σ(x − c) = Σ(x − c') + n δ and Σ(x − c)(x − c)ᵀ = Σ(x − c')(x − c')ᵀ + S' δᵀ + δ S'ᵀ + n δ δᵀ, δ = c' − c
    const delta = new Float64Array(d);
    for (let j = 0; j < d; j++) delta[j] = other.shift![j] - this.shift[j];
    const so = other.sum, no = other.n;
    for (let i = 0; i < d; i++) {
      const row = i * d, di = delta[i], si = so[i];
      for (let j = 0; j <= i; j++) this.xtx[row + j] += other.xtx[row + j] + si * delta[j] + di * so[j] + no * di * delta[j];
    }
    for (let j = 0; j < d; j++) this.sum[j] += so[j] + no * delta[j];
    this.n += no;
    return this;
  }

  /** Mean and unbiased covariance; needs n ≥ 2. */
  finalize(): GaussianStats {
    const d = this.d, n = this.n;
    if (n < 2) throw new Error(`StatsAccumulator: covariance needs at least 2 samples, have ${n}`);
    const mu = new Float64Array(d), m = new Float64Array(d);
    for (let j = 0; j < d; j++) { m[j] = this.sum[j] / n; mu[j] = this.shift![j] + m[j]; }
    const sigma = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const v = (this.xtx[i * d + j] - n * m[i] * m[j]) / (n - 1);
        sigma[i * d + j] = v; sigma[j * d + i] = v;
      }
    }
    return { d, n, mu, sigma };
  }
}

/** Statistics of one row-major feature matrix (rows × d). */
export function featureStats(x: Float32Array | Float64Array, d: number): GaussianStats {
  return new StatsAccumulator(d).add(x).finalize();
}
