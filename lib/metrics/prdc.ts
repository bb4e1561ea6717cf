// Precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
// Generative Models"; the authors' `prdc` package): each real sample gets a ball whose radius is the distance to its
// k-th nearest real neighbour (itself excluded), each fake sample likewise among the fakes; membership is strict `<`.
//   precision = share of fakes inside some real ball      recall   = share of reals inside some fake ball
//   density   = (1/k) · mean over fakes of the number of real balls containing it
//   coverage  = share of reals whose ball contains at least one fake
// Distances are Euclidean; squared distances ‖a‖² + ‖b‖² − 2aᵀb (float64, clamped ≥ 0) are compared, which orders
// the same. Work is done in row blocks so memory stays O(block · n).
import { gemm, view } from './linalg';

export interface PrdcResult { precision: number; recall: number; density: number; coverage: number; k: number; nReal: number; nFake: number }

const ROWS = 256;

function asF64(x: Float32Array | Float64Array, d: number, name: string): { a: Float64Array; n: number; sq: Float64Array } {
  const n = x.length / d;
  if (!Number.isInteger(n)) throw new Error(`prdc: ${name} has ${x.length} values, not a multiple of d = ${d}`);
  const a = Float64Array.from(x), sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = a[i * d + j];
      if (!Number.isFinite(v)) throw new Error(`prdc: ${name} row ${i} feature ${j} is ${v}`);
      s += v * v;
    }
    sq[i] = s;
  }
  return { a, n, sq };
}

/** Calls f(i0, rows, D) with D[r * nb + j] = ‖a_{i0+r} − b_j‖² for row blocks of a. */
function squaredDistanceBlocks(a: Float64Array, sa: Float64Array, na: number, b: Float64Array, sb: Float64Array, nb: number, d: number,
  f: (i0: number, rows: number, dist: Float64Array) => void): void {
  const g = new Float64Array(ROWS * nb);
  for (let i0 = 0; i0 < na; i0 += ROWS) {
    const rows = Math.min(ROWS, na - i0);
    g.fill(0);
    gemm(rows, nb, d, view(a, d, i0 * d), view(b, d, 0, true), g, nb);
    for (let r = 0; r < rows; r++) for (let j = 0; j < nb; j++) g[r * nb + j] = Math.max(0, sa[i0 + r] + sb[j] - 2 * g[r * nb + j]);
    f(i0, rows, g);
  }
}

/** Squared distance from each row to its k-th nearest other row of the same set. */
function kthNeighbourSq(a: Float64Array, sq: Float64Array, n: number, d: number, k: number): Float64Array {
  const out = new Float64Array(n), buf = new Float64Array(n - 1);
  squaredDistanceBlocks(a, sq, n, a, sq, n, d, (i0, rows, dist) => {
    for (let r = 0; r < rows; r++) {
      const i = i0 + r;
      let p = 0;
      for (let j = 0; j < n; j++) if (j !== i) buf[p++] = dist[r * n + j];
      out[i] = kthSmallest(buf, k);
    }
  });
  return out;
}

/** The k-th smallest (1-based) of the array (quickselect; reorders it). */
function kthSmallest(v: Float64Array, k: number): number {
  let lo = 0, hi = v.length - 1;
  const t = k - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) { const x = v[i]; v[i] = v[j]; v[j] = x; i++; j--; }
    }
    if (t <= j) hi = j; else if (t >= i) lo = i; else return v[t];
  }
  return v[t];
}

/** PRDC of fake features against real features (both rows × d, row-major). */
export function prdc(real: Float32Array | Float64Array, fake: Float32Array | Float64Array, d: number, k = 5): PrdcResult {
  const R = asF64(real, d, 'real set'), F = asF64(fake, d, 'fake set');
  if (!Number.isInteger(k) || k < 1) throw new Error(`prdc: k must be a positive integer, got ${k}`);
  if (R.n <= k || F.n <= k) throw new Error(`prdc: each set needs more than k = ${k} samples (real ${R.n}, fake ${F.n})`);
  const rr = kthNeighbourSq(R.a, R.sq, R.n, d, k), rf = kthNeighbourSq(F.a, F.sq, F.n, d, k);
  const inReal = new Int32Array(F.n); // real balls containing fake j
  let recallHits = 0, coverageHits = 0;
  squaredDistanceBlocks(R.a, R.sq, R.n, F.a, F.sq, F.n, d, (i0, rows, dist) => {
    for (let r = 0; r < rows; r++) {
      const i = i0 + r, rad = rr[i];
      let inFakeBall = false, minD = Infinity;
      for (let j = 0; j < F.n; j++) {
        const v = dist[r * F.n + j];
        if (v < rad) { inReal[j]++; }
        if (v < rf[j]) inFakeBall = true;
        if (v < minD) minD = v;
      }
      if (inFakeBall) recallHits++;
      if (minD < rad) coverageHits++;
    }
  });
  let precision = 0, density = 0;
  for (let j = 0; j < F.n; j++) { if (inReal[j] > 0) precision++; density += inReal[j]; }
  return {
    precision: precision / F.n, recall: recallHits / R.n, density: density / (k * F.n), coverage: coverageHits / R.n,
    k, nReal: R.n, nFake: F.n,
  };
}
