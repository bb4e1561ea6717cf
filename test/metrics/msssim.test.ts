// SSIM / MS-SSIM against a float64 reference of the standard formula (Wang et al.: 11×11 Gaussian window σ 1.5,
// K1 0.01, K2 0.03, valid windows, weights [0.0448 0.2856 0.3001 0.2363 0.1333]) written here with a direct 2-D
// window, and the diversity score on sets whose answer is known.
import { expect } from 'chai';
import { ssimPlane, msssimPlane, msssimPair, msssimDiversity, halve } from '../../lib/metrics/msssim';
import { HostRng } from '../../lib/metrics/random';
import { ImageBatch } from '../../lib/train/image';

const W = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/** _FSpecialGauss: size×size window, centres at integers (odd) or half-integers (even), normalised to sum 1. */
function window2d(size: number, sigma: number): number[][] {
  const r = Math.floor(size / 2), off = size % 2 === 0 ? 0.5 : 0, g: number[][] = [];
  let s = 0;
  for (let i = 0; i < size; i++) {
    g.push([]);
    for (let j = 0; j < size; j++) {
      const x = i - r + off, y = j - r + off, v = Math.exp(-(x * x + y * y) / (2 * sigma * sigma));
      g[i].push(v);
      s += v;
    }
  }
  return g.map((row) => row.map((v) => v / s));
}

/** SSIM and cs over valid windows, each window's weighted means, variances and covariance computed directly. */
function ssimRef(a: ArrayLike<number>, b: ArrayLike<number>, h: number, w: number, L = 2): { ssim: number; cs: number } {
  const size = Math.min(11, h, w), g = window2d(size, (1.5 * size) / 11), C1 = (0.01 * L) ** 2, C2 = (0.03 * L) ** 2;
  let ssim = 0, cs = 0, n = 0;
  for (let y = 0; y + size <= h; y++)
    for (let x = 0; x + size <= w; x++) {
      let ma = 0, mb = 0;
      for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) { const k = (y + i) * w + x + j; ma += g[i][j] * a[k]; mb += g[i][j] * b[k]; }
      let va = 0, vb = 0, cab = 0;
      for (let i = 0; i < size; i++)
        for (let j = 0; j < size; j++) {
          const k = (y + i) * w + x + j, da = a[k] - ma, db = b[k] - mb;
          va += g[i][j] * da * da; vb += g[i][j] * db * db; cab += g[i][j] * da * db;
        }
      const c = (2 * cab + C2) / (va + vb + C2);
      ssim += ((2 * ma * mb + C1) / (ma * ma + mb * mb + C1)) * c;
      cs += c;
      n++;
    }
  return { ssim: ssim / n, cs: cs / n };
}

/** 2×2 box average, then every second pixel (scipy convolve 'reflect' with ones(2,2)/4, then [::2, ::2]). */
function halveRef(a: ArrayLike<number>, h: number, w: number): { d: number[]; h: number; w: number } {
  const at = (y: number, x: number) => a[Math.min(y, h - 1) * w + Math.min(x, w - 1)];
  const d: number[] = [];
  for (let y = 0; y < h; y += 2) for (let x = 0; x < w; x += 2) d.push((at(y, x) + at(y, x + 1) + at(y + 1, x) + at(y + 1, x + 1)) / 4);
  return { d, h: Math.ceil(h / 2), w: Math.ceil(w / 2) };
}

function msssimRef(a: ArrayLike<number>, b: ArrayLike<number>, h: number, w: number): number {
  let x = { d: Array.from(a), h, w }, y = { d: Array.from(b), h, w }, r = 1;
  for (let s = 0; s < 5; s++) {
    const q = ssimRef(x.d, y.d, x.h, x.w);
    r *= Math.max(0, s === 4 ? q.ssim : q.cs) ** W[s];
    x = halveRef(x.d, x.h, x.w);
    y = halveRef(y.d, y.h, y.w);
  }
  return r;
}

/** A smooth random image plus a little noise (so that pairs are correlated but not equal). */
function image(rng: HostRng, h: number, w: number, noise: number): Float64Array {
  const a = new Float64Array(h * w), fx = rng.next() * 0.5, fy = rng.next() * 0.5, ph = rng.next() * 6;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[y * w + x] = 0.6 * Math.sin(fx * x + fy * y + ph) + noise * (rng.next() * 2 - 1);
  return a;
}

describe('metrics/msssim', () => {
  it('SSIM and cs match the float64 reference (11×11 window, shrunk windows, odd sizes)', () => {
    const rng = new HostRng(1);
    for (const [h, w] of [[16, 16], [13, 20], [8, 8], [4, 6], [3, 3]]) {
      const a = image(rng, h, w, 0.3), b = image(rng, h, w, 0.3), got = ssimPlane(a, b, h, w), ref = ssimRef(a, b, h, w);
      expect(Math.abs(got.ssim - ref.ssim), `ssim ${h}×${w}`).to.be.below(1e-10);
      expect(Math.abs(got.cs - ref.cs), `cs ${h}×${w}`).to.be.below(1e-10);
    }
  });

  it('SSIM is 1 for equal images, symmetric, and below 1 otherwise', () => {
    const rng = new HostRng(2), a = image(rng, 16, 16, 0.2), b = image(rng, 16, 16, 0.2);
    expect(ssimPlane(a, a, 16, 16).ssim).to.be.closeTo(1, 1e-12);
    expect(ssimPlane(a, b, 16, 16).ssim).to.be.closeTo(ssimPlane(b, a, 16, 16).ssim, 1e-12);
    expect(ssimPlane(a, b, 16, 16).ssim).to.be.below(0.99);
  });

  it('halving averages 2×2 blocks, the edge repeated for odd sides', () => {
    const rng = new HostRng(3), a = image(rng, 5, 7, 0.5), got = halve(a, 5, 7), ref = halveRef(a, 5, 7);
    expect([got.h, got.w]).to.deep.equal([3, 4]);
    for (let i = 0; i < ref.d.length; i++) expect(got.data[i]).to.be.closeTo(ref.d[i], 1e-12);
  });

  it('MS-SSIM matches the 5-scale float64 reference at 64×64 and 48×40', () => {
    const rng = new HostRng(4);
    for (const [h, w] of [[64, 64], [48, 40]]) {
      const a = image(rng, h, w, 0.2), b = Float64Array.from(a, (v) => 0.8 * v + 0.2 * (rng.next() * 2 - 1));
      const got = msssimPlane(a, b, h, w), ref = msssimRef(a, b, h, w);
      expect(ref).to.be.within(0.05, 0.999);
      expect(Math.abs(got - ref), `${h}×${w}`).to.be.below(1e-10);
    }
  });

  it('diversity: 1 for a collapsed set, low for independent noise, the mean of the pairs it draws', () => {
    const rng = new HostRng(5), n = 6, S = 32, one = image(rng, S, S, 0.2);
    const same: ImageBatch = { data: new Float32Array(n * S * S), n, c: 1, h: S, w: S };
    for (let i = 0; i < n; i++) same.data.set(Float32Array.from(one), i * S * S);
    expect(msssimDiversity(same, { pairs: 20 })).to.be.closeTo(1, 1e-6);
    const noise: ImageBatch = { data: new Float32Array(n * S * S).map(() => rng.next() * 2 - 1), n, c: 1, h: S, w: S };
    expect(msssimDiversity(noise, { pairs: 20 })).to.be.below(0.1);
    // the same pairs by hand (the documented draw: i uniform, j uniform over the others)
    const mixed: ImageBatch = { data: new Float32Array(n * S * S), n, c: 1, h: S, w: S };
    for (let i = 0; i < n; i++) mixed.data.set(Float32Array.from(image(rng, S, S, 0.2)), i * S * S);
    const r = new HostRng(9);
    let s = 0;
    for (let p = 0; p < 7; p++) {
      const i = r.int(0, n);
      let j = r.int(0, n - 1);
      if (j >= i) j++;
      s += msssimRef(mixed.data.subarray(i * S * S, (i + 1) * S * S), mixed.data.subarray(j * S * S, (j + 1) * S * S), S, S);
    }
    expect(msssimDiversity(mixed, { pairs: 7, seed: 9 })).to.be.closeTo(s / 7, 1e-6);
    expect(msssimPair(mixed, 2, 2)).to.be.closeTo(1, 1e-9);
    expect(() => msssimDiversity({ ...mixed, n: 1, data: mixed.data.subarray(0, S * S) })).to.throw(/at least 2/);
  });
});
