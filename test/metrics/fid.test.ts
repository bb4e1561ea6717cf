// FID: closed forms for diagonal and commuting covariances, a random SPD pair against an eigen-decomposition of
// the similar matrix computed here differently ('sqrt' method) and against scipy's sqrtm (pytorch-fid's route) when
// /usr/bin/python3 has scipy, FID(X, X) = 0, symmetry, rank-deficient covariances (n < d), the small-n warning and
// the clamp of tiny negative values, each on both float64 kernel sets (native and TypeScript). Streaming statistics
// against a two-pass float64 reference, merged partials.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { StatsAccumulator, featureStats, GaussianStats } from '../../lib/metrics/stats';
import { frechetDistance, traceSqrtProduct } from '../../lib/metrics/fid';
import { writeFidStats } from '../../lib/metrics/npz';
import { setBlas64 } from '../../lib/metrics/blas64';
import { gaussian, matmul, transpose, randomOrthogonal, fromEigen, samples, pythonHas, runPython } from './util';

/** Two-pass float64 mean and covariance (n − 1). */
function twoPass(x: Float64Array, d: number): { mu: Float64Array; sigma: Float64Array } {
  const n = x.length / d, mu = new Float64Array(d), sigma = new Float64Array(d * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += x[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) sigma[a * d + b] += (x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b]) / (n - 1);
  return { mu, sigma };
}
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describe('metrics stats', () => {
  it('streaming mean/covariance equal the two-pass float64 values; merging partials equals one pass', () => {
    const d = 13, n = 101, x = samples(n, d, 5, 3, 1000); // large offset: the shift keeps the digits
    const ref = twoPass(x, d);
    const one = featureStats(x, d);
    const parts = [new StatsAccumulator(d), new StatsAccumulator(d), new StatsAccumulator(d)];
    parts[0].add(x.subarray(0, 7 * d));
    parts[1].add(x.subarray(7 * d, 50 * d), 43);
    parts[2].add(x.subarray(50 * d));
    const merged = new StatsAccumulator(d).merge(parts[0]).merge(parts[1]).merge(new StatsAccumulator(d)).merge(parts[2]).finalize();
    for (const s of [one, merged]) {
      expect(s.n).to.equal(n);
      for (let j = 0; j < d; j++) expect(rel(s.mu[j], ref.mu[j])).to.be.below(1e-13);
      for (let j = 0; j < d * d; j++) expect(Math.abs(s.sigma[j] - ref.sigma[j])).to.be.below(1e-10 * Math.abs(ref.sigma[0]));
    }
  });

  it('a batch longer than the 256-row chunk, float32 input', () => {
    const d = 5, n = 600, x = samples(n, d, 8, 2, -3), ref = twoPass(x, d);
    const s = new StatsAccumulator(d).add(Float32Array.from(x)).finalize(), r32 = twoPass(Float64Array.from(Float32Array.from(x)), d);
    expect(s.n).to.equal(n);
    for (let j = 0; j < d * d; j++) expect(Math.abs(s.sigma[j] - r32.sigma[j])).to.be.below(1e-12 * Math.abs(ref.sigma[0]));
    for (let j = 0; j < d; j++) expect(Math.abs(s.mu[j] - r32.mu[j])).to.be.below(1e-12 * Math.abs(ref.mu[j]));
  });

  it('bad input: too few samples, NaN features, mismatched sizes', () => {
    expect(() => new StatsAccumulator(3).add(new Float64Array(3)).finalize()).to.throw(/at least 2 samples/);
    expect(() => new StatsAccumulator(2).add(new Float64Array([1, NaN]))).to.throw(/feature 1 of row 0 is NaN/);
    expect(() => new StatsAccumulator(2).add(new Float64Array(5))).to.throw(/do not hold/);
    expect(() => new StatsAccumulator(2).merge(new StatsAccumulator(3))).to.throw(/dimensions differ/);
  });
});

// The trace term runs on the native float64 kernels and on the TypeScript ones (lib/metrics/blas64.ts): same tests.
for (const kernels of ['native', 'ts'] as const) {
  describe(`metrics fid (${kernels} kernels)`, () => {
    let prev: 'native' | 'ts';
    before(() => { prev = setBlas64(kernels); });
    after(() => { setBlas64(prev); });

    it('diagonal covariances: closed form Σ(√a − √b)² + ‖Δμ‖²', () => {
      const d = 30, s1 = new Float64Array(d * d), s2 = new Float64Array(d * d), m1 = gaussian(d, 1), m2 = gaussian(d, 2);
      let want = 0;
      for (let i = 0; i < d; i++) {
        const a = 0.5 + i * 0.3, b = 2 / (1 + i);
        s1[i * d + i] = a; s2[i * d + i] = b;
        want += (Math.sqrt(a) - Math.sqrt(b)) ** 2 + (m1[i] - m2[i]) ** 2;
      }
      for (const method of ['cholesky', 'sqrt'] as const) {
        const r = frechetDistance({ mu: m1, sigma: s1 }, { mu: m2, sigma: s2 }, { method });
        expect(rel(r.fid, want), method).to.be.below(1e-12);
        expect(r.warnings).to.deep.equal([]);
      }
    });

    it('commuting covariances Q D1 Qᵀ, Q D2 Qᵀ (one of them singular): tr (Σ1Σ2)^½ = Σ √(d1 d2)', () => {
      const d = 40, q = randomOrthogonal(d, 9);
      const l1 = Array.from({ length: d }, (_, i) => (i < 10 ? 0 : 1 + i)), l2 = Array.from({ length: d }, (_, i) => 3 / (i + 1));
      const s1 = fromEigen(q, l1, d), s2 = fromEigen(q, l2, d);
      const want = l1.reduce((s, a, i) => s + Math.sqrt(a * l2[i]), 0);
      for (const [x, y] of [[s1, s2], [s2, s1]]) {
        for (const method of ['cholesky', 'sqrt'] as const) {
          const t = traceSqrtProduct(x, y, d, method);
          expect(rel(t.value, want), method).to.be.below(1e-10);
        }
      }
      expect(traceSqrtProduct(s1, s2, d).rank1).to.equal(30);
    });

    it('random SPD pair: the Cholesky route equals the Σ1^½ Σ2 Σ1^½ route and a brute-force similar-matrix check', () => {
      const d = 64;
      const a = samples(200, d, 11), b = samples(150, d, 12, 1.7, 0.3);
      const s1 = featureStats(a, d), s2 = featureStats(b, d);
      const c = frechetDistance(s1, s2), q = frechetDistance(s1, s2, { method: 'sqrt' });
      expect(rel(c.traceSqrt, q.traceSqrt)).to.be.below(1e-11);
      expect(rel(c.fid, q.fid)).to.be.below(1e-10);
      // independent: Σ√λ(Σ1Σ2) = Σ√λ(L2ᵀ Σ1 L2) for the factor L2 = Σ2's eigenvectors scaled by √λ (other side)
      const t = traceSqrtProduct(s2.sigma, s1.sigma, d, 'sqrt');
      expect(rel(t.value, c.traceSqrt)).to.be.below(1e-11);
      // and the definition term by term
      let mt = 0, t1 = 0, t2 = 0;
      for (let i = 0; i < d; i++) { mt += (s1.mu[i] - s2.mu[i]) ** 2; t1 += s1.sigma[i * d + i]; t2 += s2.sigma[i * d + i]; }
      expect(rel(c.fid, mt + t1 + t2 - 2 * c.traceSqrt)).to.be.below(1e-13);
    });

    it('agrees with scipy.linalg.sqrtm (the pytorch-fid computation) on the same statistics', function () {
      if (!pythonHas('numpy', 'scipy')) { this.skip(); return; }
      const d = 96, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-fid-'));
      const s1 = featureStats(samples(300, d, 21), d), s2 = featureStats(samples(260, d, 22, 0.8, -0.2), d);
      writeFidStats(path.join(dir, 'a.npz'), s1); writeFidStats(path.join(dir, 'b.npz'), s2);
      const out = runPython(`
import sys, numpy as np, scipy.linalg
a = np.load(sys.argv[1]); b = np.load(sys.argv[2])
mu1, s1, mu2, s2 = a['mu'], a['sigma'], b['mu'], b['sigma']
covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
covmean = covmean.real
diff = mu1 - mu2
print(repr(float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))), repr(float(np.trace(covmean))))
`, [path.join(dir, 'a.npz'), path.join(dir, 'b.npz')]);
      const [fid, tr] = out.trim().split(/\s+/).map(Number);
      const r = frechetDistance(s1, s2);
      expect(rel(r.traceSqrt, tr)).to.be.below(1e-9);
      expect(rel(r.fid, fid)).to.be.below(1e-8);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('FID(X, X) = 0 and FID is symmetric, also rank-deficient (n < d); the small-n warning says why', () => {
      for (const [n, d] of [[500, 20], [12, 40]]) {
        const x = samples(n, d, n + d), s = featureStats(x, d);
        const self = frechetDistance(s, s);
        expect(Math.abs(self.fid), `n=${n} d=${d}`).to.be.below(1e-9 * self.trace1);
        const y = featureStats(samples(n, d, n + d + 1, 1.2, 0.1), d);
        const ab = frechetDistance(s, y), ba = frechetDistance(y, s);
        expect(rel(ab.fid, ba.fid)).to.be.below(1e-9);
        expect(ab.fid).to.be.above(0);
        if (n < d) {
          expect(ab.rank1).to.equal(n - 1);
          expect(ab.warnings.join(' ')).to.match(/12 samples.*biased.*rank-deficient/);
        }
      }
    });

    it('rank-deficient closed form: both covariances of rank r in the same subspace', () => {
      // Σ1 = U A Uᵀ, Σ2 = U B Uᵀ with U d×r orthonormal, A, B diagonal → tr (Σ1Σ2)^½ = Σ √(a b)
      const d = 50, r = 7, q = randomOrthogonal(d, 3);
      const l1 = Array.from({ length: d }, (_, i) => (i < r ? 1 + i : 0)), l2 = Array.from({ length: d }, (_, i) => (i < r ? 0.5 * (r - i) : 0));
      const s1 = fromEigen(q, l1, d), s2 = fromEigen(q, l2, d);
      const want = l1.reduce((s, a, i) => s + Math.sqrt(a * l2[i]), 0);
      const t = traceSqrtProduct(s1, s2, d);
      expect(t.rank1).to.equal(r);
      expect(rel(t.value, want)).to.be.below(1e-9);
    });

    it('a tiny negative FID is clamped to 0 and reported; bad input is an error', () => {
      // Σ = diag(1, −1e-12), as rounding can leave a covariance: tr terms 2(1 − 1e-12), tr (Σ²)^½ = 1 → FID = −2e-12
      const d = 2, neg = new Float64Array([1, 0, 0, -1e-12]), mu = new Float64Array(d);
      const r = frechetDistance({ mu, sigma: neg }, { mu, sigma: neg });
      expect(r.fid).to.equal(0);
      expect(r.clampedFrom).to.be.closeTo(-2e-12, 1e-15);
      expect(r.warnings.join(' ')).to.match(/came out -2\.000e-12 .* clamped to 0 \(rounding\)/);
      const s = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 2]), mu3 = new Float64Array(3);
      expect(() => frechetDistance({ mu: mu3, sigma: s }, { mu: new Float64Array(2), sigma: new Float64Array(4) })).to.throw(/different dimensions/);
      expect(() => frechetDistance({ mu: new Float64Array([0, NaN, 0]), sigma: s }, { mu: mu3, sigma: s })).to.throw(/mu1\[1\] is NaN/);
      expect(() => traceSqrtProduct(s, new Float64Array(8), 3)).to.throw(/sigma2 has 8 values/);
    });

    it('reports and clamps negative eigenvalues of an indefinite input instead of taking √ of them', () => {
      const d = 2, s1 = new Float64Array([1, 0, 0, 1]), s2 = new Float64Array([1, 0, 0, -1e-12]);
      const t = traceSqrtProduct(s1, s2, d);
      expect(t.negativeCount).to.equal(1);
      expect(t.negativeMin).to.be.closeTo(-1e-12, 1e-20);
      expect(t.value).to.be.closeTo(1, 1e-15);
      const st: GaussianStats = { d, n: 5000, mu: new Float64Array(2), sigma: s1 };
      const r = frechetDistance(st, { ...st, sigma: s2 });
      expect(r.warnings.join(' ')).to.match(/1 eigenvalue\(s\).*negative.*clamped/);
    });
  });
}
