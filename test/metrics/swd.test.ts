// SWD on Laplacian-pyramid patches: each piece against a direct definition (float64 loops, brute force over
// permutations, closed forms) on small inputs.
import { expect } from 'chai';
import { mirror, blur, pyrDown, pyrUp, laplacianPyramid } from '../../lib/metrics/pyramid';
import { slicedWasserstein, randomDirections, normalizePerChannel, pyramidPatches, swd, swdResolutions } from '../../lib/metrics/swd';
import { HostRng } from '../../lib/metrics/random';
import { ImageBatch } from '../../lib/train/image';

const TAPS = [1, 4, 6, 4, 1].map((v) => v / 16);

// scipy.ndimage 'mirror' written out for small offsets: reflect about the edge pixel, no repeat.
function mirrorRef(i: number, n: number): number {
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/** Direct 2-D correlation with the 5×5 binomial window (outer product), float64. */
function blurRef(src: ArrayLike<number>, h: number, w: number): Float64Array {
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) s += TAPS[i] * TAPS[j] * src[mirrorRef(y + i - 2, h) * w + mirrorRef(x + j - 2, w)];
      out[y * w + x] = s;
    }
  return out;
}

function randPlane(n: number, rng: HostRng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() * 2 - 1;
  return a;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) for (let k = 0; k <= p.length; k++) out.push([...p.slice(0, k), n - 1, ...p.slice(k)]);
  return out;
}

describe('metrics/swd', () => {
  it('mirror reflects about the edge pixel (scipy mode "mirror")', () => {
    for (const n of [2, 3, 5, 8]) for (let i = -2 * n; i < 3 * n; i++) expect(mirror(i, n), `${i} in ${n}`).to.equal(mirrorRef(i, n));
    expect(mirror(-1, 5)).to.equal(1);
    expect(mirror(5, 5)).to.equal(3);
  });

  it('blur, pyrDown and pyrUp match direct 5×5 float64 windows', () => {
    const rng = new HostRng(1), h = 12, w = 10, a = randPlane(h * w, rng);
    expect(maxDiff(blur(a, h, w), blurRef(a, h, w))).to.be.below(1e-6);
    const d = pyrDown(a, h, w), ref = blurRef(a, h, w);
    expect([d.h, d.w]).to.deep.equal([6, 5]);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) expect(Math.abs(d.data[y * 5 + x] - ref[2 * y * w + 2 * x])).to.be.below(1e-6);
    const u = pyrUp(d.data, d.h, d.w), z = new Float64Array(h * w);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) z[2 * y * w + 2 * x] = d.data[y * 5 + x];
    expect(maxDiff(u.data, blurRef(z, h, w).map((v) => 4 * v))).to.be.below(1e-6);
    // a constant plane stays constant through down and up
    const c = new Float32Array(64).fill(0.3);
    expect(maxDiff(pyrUp(pyrDown(c, 8, 8).data, 4, 4).data, c)).to.be.below(1e-6);
  });

  it('the Laplacian pyramid sums back to the image', () => {
    const rng = new HostRng(2), a = randPlane(32 * 32, rng), pyr = laplacianPyramid(a, 32, 32, 3);
    expect(pyr.map((p) => p.h)).to.deep.equal([32, 16, 8]);
    let g = pyr[2];
    for (let k = 1; k >= 0; k--) {
      const u = pyrUp(g.data, g.h, g.w), s = new Float32Array(u.data.length);
      for (let i = 0; i < s.length; i++) s[i] = u.data[i] + pyr[k].data[i];
      g = { data: s, h: u.h, w: u.w };
    }
    expect(maxDiff(g.data, a)).to.be.below(1e-5);
    expect(() => laplacianPyramid(a, 30, 30, 3)).to.throw(/divisible/);
  });

  it('levels run from the image size down to 16', () => {
    expect(swdResolutions(256)).to.deep.equal([256, 128, 64, 32, 16]);
    expect(swdResolutions(64)).to.deep.equal([64, 32, 16]);
    expect(swdResolutions(8)).to.deep.equal([8]);
  });

  it('patches are 7×7 windows of the pyramid levels', () => {
    const rng = new HostRng(3), img = randPlane(32 * 32, rng), b: ImageBatch = { data: img, n: 1, c: 1, h: 32, w: 32 };
    const levels = 2, desc = pyramidPatches(b, levels, 7, 6, new HostRng(4)), pyr = laplacianPyramid(img, 32, 32, levels);
    for (let k = 0; k < levels; k++) {
      const { data, h, w } = pyr[k];
      for (let q = 0; q < 6; q++) {
        const p = desc[k].subarray(q * 49, (q + 1) * 49);
        let found = false;
        for (let y0 = 0; y0 + 7 <= h && !found; y0++)
          for (let x0 = 0; x0 + 7 <= w && !found; x0++) {
            let ok = true;
            for (let i = 0; i < 49 && ok; i++) ok = p[i] === data[(y0 + Math.floor(i / 7)) * w + x0 + (i % 7)];
            found = ok;
          }
        expect(found, `level ${k} patch ${q}`).to.equal(true);
      }
    }
  });

  it('per-channel normalisation gives mean 0 and std 1 per channel (float64 check)', () => {
    const rng = new HostRng(5), rows = 50, C = 2, per = 9, d = new Float32Array(rows * C * per);
    for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) for (let i = 0; i < per; i++) d[(r * C + c) * per + i] = (c + 1) * 3 * rng.next() + 5 * c;
    normalizePerChannel(d, rows, C);
    for (let c = 0; c < C; c++) {
      let s = 0, s2 = 0;
      for (let r = 0; r < rows; r++) for (let i = 0; i < per; i++) { const v = d[(r * C + c) * per + i]; s += v; s2 += v * v; }
      const m = s / (rows * per);
      expect(Math.abs(m)).to.be.below(1e-5);
      expect(Math.abs(Math.sqrt(s2 / (rows * per) - m * m) - 1)).to.be.below(1e-5);
    }
    const flat = new Float32Array(20).fill(-1);
    normalizePerChannel(flat, 4, 1);
    expect(Array.from(flat).every((v) => v === 0)).to.equal(true); // constant: centred, not NaN
  });

  it('sliced W1 equals the brute-force optimal matching along each direction', () => {
    const rng = new HostRng(6), rows = 5, dim = 3, k = 4;
    const A = randPlane(rows * dim, rng), B = randPlane(rows * dim, rng), dirs = randomDirections(dim, k, rng);
    let ref = 0;
    for (let j = 0; j < k; j++) {
      const pa: number[] = [], pb: number[] = [];
      for (let r = 0; r < rows; r++) {
        let a = 0, b = 0;
        for (let i = 0; i < dim; i++) { a += A[r * dim + i] * dirs[i * k + j]; b += B[r * dim + i] * dirs[i * k + j]; }
        pa.push(a); pb.push(b);
      }
      let best = Infinity;
      for (const p of permutations(rows)) best = Math.min(best, p.reduce((s, q, i) => s + Math.abs(pa[i] - pb[q]), 0) / rows);
      ref += best / k;
    }
    expect(Math.abs(slicedWasserstein(A, B, rows, dirs, k) - ref)).to.be.below(1e-6);
  });

  it('a shifted copy is at mean |u·μ|, ≈ |μ|·Γ(d/2)/(√π Γ((d+1)/2)) over many directions', () => {
    const rng = new HostRng(7), rows = 40, dim = 5, mu = [0.3, -0.2, 0.5, 0, 0.1];
    const A = randPlane(rows * dim, rng), B = A.map((v, i) => v + mu[i % dim]);
    const k = 4000, dirs = randomDirections(dim, k, rng);
    let exact = 0;
    for (let j = 0; j < k; j++) exact += Math.abs(mu.reduce((s, m, i) => s + m * dirs[i * k + j], 0)) / k;
    const got = slicedWasserstein(A, Float32Array.from(B), rows, dirs, k);
    expect(Math.abs(got - exact)).to.be.below(1e-5);
    const closed = Math.hypot(...mu) * 3 / 8; // d = 5: Γ(5/2)/(√π Γ(3)) = (3√π/4)/(2√π) = 3/8
    expect(Math.abs(got - closed) / closed).to.be.below(0.03);
  });

  it('swd(): near 0 for two draws of one distribution, large for a different one, blind to a·x + b', () => {
    const rng = new HostRng(8), n = 16, S = 32;
    const smooth = (seed: number): ImageBatch => { // blurred noise: a distribution of smooth images
      const r = new HostRng(seed), data = new Float32Array(n * S * S);
      for (let i = 0; i < n; i++) data.set(blur(blur(randPlane(S * S, r), S, S), S, S), i * S * S);
      return { data, n, c: 1, h: S, w: S };
    };
    const rects = (): ImageBatch => { // piecewise-constant images: a different distribution of patches
      const data = new Float32Array(n * S * S).fill(-1);
      for (let i = 0; i < n; i++)
        for (let k = 0; k < 4; k++) {
          const y0 = rng.int(0, S - 8), x0 = rng.int(0, S - 8), hh = rng.int(3, 12), ww = rng.int(3, 12), v = rng.next() * 2 - 1;
          for (let y = y0; y < Math.min(S, y0 + hh); y++) for (let x = x0; x < Math.min(S, x0 + ww); x++) data[i * S * S + y * S + x] = v;
        }
      return { data, n, c: 1, h: S, w: S };
    };
    const A = smooth(10), B = smooth(11), R = rects();
    const same = swd(A, B, { seed: 1 }), diff = swd(A, R, { seed: 1 });
    expect(same.resolutions).to.deep.equal([32, 16]);
    expect(same.perLevel.length).to.equal(2);
    expect(Math.abs(same.mean - (same.perLevel[0] + same.perLevel[1]) / 2)).to.be.below(1e-9);
    expect(diff.mean).to.be.above(2.5 * same.mean);
    const B2 = { ...B, data: B.data.map((v) => 2 * v + 0.3) };
    const scaled = swd(A, B2, { seed: 1 });
    for (let l = 0; l < 2; l++) expect(Math.abs(scaled.perLevel[l] - same.perLevel[l])).to.be.below(1e-3 * same.perLevel[l] + 1e-3);
    expect(() => swd(A, { ...B, n: 8, data: B.data.subarray(0, 8 * S * S) })).to.throw(/same count/);
  });
});
