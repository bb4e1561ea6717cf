// KID and PRDC against brute-force definitions written here with plain loops (no shared code with the library):
// KID's unbiased MMD² per subset with the same seeded subsets, both the Gram-once and per-subset paths; PRDC's four
// numbers from all pairwise distances with sort-based k-th neighbours, including ties at the radius (strict <).
import { expect } from 'chai';
import { kernelInceptionDistance } from '../../lib/metrics/kid';
import { prdc } from '../../lib/metrics/prdc';
import { SubsetRng } from '../../lib/metrics/rng';
import { gaussian } from './util';

function bruteMmd(x: Float64Array, y: Float64Array, d: number, ix: Int32Array, iy: Int32Array): number {
  const k = (a: Float64Array, i: number, b: Float64Array, j: number): number => {
    let s = 0;
    for (let t = 0; t < d; t++) s += a[i * d + t] * b[j * d + t];
    return (s / d + 1) ** 3;
  };
  const m = ix.length;
  let xx = 0, yy = 0, xy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    if (i !== j) { xx += k(x, ix[i], x, ix[j]); yy += k(y, iy[i], y, iy[j]); }
    xy += k(x, ix[i], y, iy[j]);
  }
  return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m);
}

describe('metrics kid', () => {
  it('equals the brute-force unbiased MMD² over the same seeded subsets (Gram-once and per-subset paths)', () => {
    const d = 7, x = gaussian(40 * d, 1), y = gaussian(33 * d, 2).map((v) => v * 1.3 + 0.2);
    for (const subsetSize of [10, 1000]) {
      const r = kernelInceptionDistance(x, y, d, { subsets: 6, subsetSize, seed: 42 });
      const rng = new SubsetRng(42), s = Math.min(subsetSize, 33);
      expect(r.subsetSize).to.equal(s);
      const vals: number[] = [];
      for (let t = 0; t < 6; t++) vals.push(bruteMmd(x, y, d, rng.sample(40, s), rng.sample(33, s)));
      for (let t = 0; t < 6; t++) expect(Math.abs(r.values[t] - vals[t])).to.be.below(1e-12 * Math.max(1, Math.abs(vals[t])));
      const mean = vals.reduce((a, b) => a + b, 0) / 6;
      const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / 6);
      expect(Math.abs(r.kid - mean)).to.be.below(1e-12);
      expect(Math.abs(r.std - std)).to.be.below(1e-12);
    }
  });

  it('the per-subset path (large sets) gives the Gram-once numbers', () => {
    const d = 3, x = gaussian(2600 * d, 5), y = gaussian(2500 * d, 6).map((v) => v + 0.1);
    const big = kernelInceptionDistance(x, y, d, { subsets: 2, subsetSize: 50, seed: 3 }); // m + n > 5000: per subset
    const rng = new SubsetRng(3);
    for (let t = 0; t < 2; t++) {
      const want = bruteMmd(x, y, d, rng.sample(2600, 50), rng.sample(2500, 50));
      expect(Math.abs(big.values[t] - want)).to.be.below(1e-12);
    }
  });

  it('is near 0 for two samples of one distribution and clearly positive for different ones; seeds reproduce', () => {
    const d = 16, x = gaussian(300 * d, 7), y = gaussian(300 * d, 8), z = gaussian(300 * d, 9).map((v) => v * 1.5 + 0.5);
    const same = kernelInceptionDistance(x, y, d, { subsets: 20, subsetSize: 100 });
    const diff = kernelInceptionDistance(x, z, d, { subsets: 20, subsetSize: 100 });
    expect(Math.abs(same.kid)).to.be.below(3 * same.std + 1e-3);
    expect(diff.kid).to.be.above(10 * Math.abs(same.kid));
    expect(kernelInceptionDistance(x, z, d, { subsets: 20, subsetSize: 100 }).kid).to.equal(diff.kid);
    expect(() => kernelInceptionDistance(x, new Float64Array(d), d)).to.throw(/at least 2 samples/);
    expect(() => kernelInceptionDistance(x, new Float64Array(d + 1), d)).to.throw(/not a multiple/);
  });
});

/** Brute-force PRDC with sorting and plain Euclidean distances. */
function brutePrdc(r: Float64Array, f: Float64Array, d: number, k: number): number[] {
  const nr = r.length / d, nf = f.length / d;
  const dist = (a: Float64Array, i: number, b: Float64Array, j: number): number => {
    let s = 0;
    for (let t = 0; t < d; t++) s += (a[i * d + t] - b[j * d + t]) ** 2;
    return Math.sqrt(s);
  };
  const kth = (a: Float64Array, n: number): number[] => Array.from({ length: n }, (_, i) => {
    const ds: number[] = [];
    for (let j = 0; j < n; j++) if (j !== i) ds.push(dist(a, i, a, j));
    ds.sort((p, q) => p - q);
    return ds[k - 1];
  });
  const rr = kth(r, nr), rf = kth(f, nf);
  let precision = 0, recall = 0, density = 0, coverage = 0;
  for (let j = 0; j < nf; j++) {
    let c = 0;
    for (let i = 0; i < nr; i++) if (dist(r, i, f, j) < rr[i]) c++;
    if (c > 0) precision++;
    density += c;
  }
  for (let i = 0; i < nr; i++) {
    let inF = false, mn = Infinity;
    for (let j = 0; j < nf; j++) { const v = dist(r, i, f, j); if (v < rf[j]) inF = true; mn = Math.min(mn, v); }
    if (inF) recall++;
    if (mn < rr[i]) coverage++;
  }
  return [precision / nf, recall / nr, density / (k * nf), coverage / nr];
}

describe('metrics prdc', () => {
  it('matches the brute-force definitions (Gaussian sets, different sizes, several k)', () => {
    const d = 5;
    const real = gaussian(300 * d, 11), fake = gaussian(270 * d, 12).map((v, i) => v * 1.2 + (i % d === 0 ? 0.7 : 0));
    for (const k of [1, 5, 9]) {
      const got = prdc(real, fake, d, k), want = brutePrdc(real, fake, d, k);
      expect([got.precision, got.recall, got.density, got.coverage], `k=${k}`).to.deep.equal(want);
    }
    const self = prdc(real, real, d, 5);
    expect(self.precision).to.equal(1);
    expect(self.recall).to.equal(1);
    expect(self.coverage).to.equal(1);
  });

  it('uses strict < at the radius: integer grid points with exact distance ties', () => {
    // reals on a 1-D grid 0..9, radius (k=2) of interior points is 1; a fake exactly at distance 1 of every real it
    // is near but not at a grid point lies inside only where the distance is < the radius
    const real = Float64Array.from({ length: 10 }, (_, i) => i), fake = new Float64Array([0.5, 20, 21, 22]);
    const got = prdc(real, fake, 1, 2), want = brutePrdc(real, fake, 1, 2);
    expect([got.precision, got.recall, got.density, got.coverage]).to.deep.equal(want);
    const onGrid = prdc(real, new Float64Array([3, 30, 31, 32]), 1, 2), w2 = brutePrdc(real, new Float64Array([3, 30, 31, 32]), 1, 2);
    expect([onGrid.precision, onGrid.recall, onGrid.density, onGrid.coverage]).to.deep.equal(w2);
    expect(() => prdc(real, fake, 1, 5)).to.throw(/more than k = 5/);
    expect(() => prdc(new Float64Array([0, NaN, 1, 2, 3, 4, 5]), fake, 1, 2)).to.throw(/real set row 1 feature 0 is NaN/);
  });
});
