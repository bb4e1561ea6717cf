// SSIM and multi-scale SSIM (Wang, Simoncelli, Bovik 2003) as the GAN literature uses them for sample diversity
// (Odena et al. 2017; the ms_ssim.py that progressive GAN ships): Gaussian window 11, σ 1.5, K1 0.01, K2 0.03,
// L = the dynamic range (2 for images in [-1, 1]), 'valid' windows; 5 scales with weights
// [0.0448 0.2856 0.3001 0.2363 0.1333], 2×2 averaging between scales; when a scale is smaller than the window
// the window shrinks to the scale's side with σ scaled alike (so 64×64 images get all 5 scales).
// One deviation, for robustness: negative cs/ssim values are clamped to 0 before the fractional powers (ms_ssim.py
// would return NaN; pytorch_msssim's 'relu' does the same clamp).
// Diversity = mean MS-SSIM over random pairs of distinct images of one set: lower is more diverse; a generator that
// has collapsed to one image scores near 1. The real set's own value is the yardstick.
import { ImageBatch } from '../train/image';
import { HostRng } from './random';

export const MSSSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
export const SSIM_K1 = 0.01, SSIM_K2 = 0.03;

/** The normalised Gaussian taps of ms_ssim.py's _FSpecialGauss in one dimension (even sizes sit at ±0.5, ±1.5 …). */
export function gaussianTaps(size: number, sigma: number): Float64Array {
  const t = new Float64Array(size), off = size % 2 === 0 ? 0.5 : 0, r = size >> 1;
  let s = 0;
  for (let i = 0; i < size; i++) { const x = i - r + off; t[i] = Math.exp(-(x * x) / (2 * sigma * sigma)); s += t[i]; }
  for (let i = 0; i < size; i++) t[i] /= s;
  return t;
}

/** Separable 'valid' filtering of an h×w plane with taps g (the 2-D window is the outer product g gᵀ). */
function filterValid(src: Float64Array, h: number, w: number, g: Float64Array): Float64Array {
  const k = g.length, oh = h - k + 1, ow = w - k + 1, tmp = new Float64Array(h * ow), out = new Float64Array(oh * ow);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += g[j] * src[y * w + x + j];
      tmp[y * ow + x] = s;
    }
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += g[j] * tmp[(y + j) * ow + x];
      out[y * ow + x] = s;
    }
  return out;
}

/**
 * Single-scale SSIM of two h×w planes and its contrast-structure part cs (both means over the valid windows).
 * window = min(11, h, w), σ = 1.5·window/11.
 */
export function ssimPlane(a: Float64Array, b: Float64Array, h: number, w: number, range = 2): { ssim: number; cs: number } {
  const size = Math.min(11, h, w), g = gaussianTaps(size, (size * 1.5) / 11);
  const n = h * w, aa = new Float64Array(n), bb = new Float64Array(n), ab = new Float64Array(n);
  for (let i = 0; i < n; i++) { aa[i] = a[i] * a[i]; bb[i] = b[i] * b[i]; ab[i] = a[i] * b[i]; }
  const m1 = filterValid(a, h, w, g), m2 = filterValid(b, h, w, g);
  const s11 = filterValid(aa, h, w, g), s22 = filterValid(bb, h, w, g), s12 = filterValid(ab, h, w, g);
  const c1 = (SSIM_K1 * range) ** 2, c2 = (SSIM_K2 * range) ** 2;
  let ssim = 0, cs = 0;
  for (let i = 0; i < m1.length; i++) {
    const mu11 = m1[i] * m1[i], mu22 = m2[i] * m2[i], mu12 = m1[i] * m2[i];
    const v1 = 2 * (s12[i] - mu12) + c2, v2 = s11[i] - mu11 + (s22[i] - mu22) + c2;
    ssim += ((2 * mu12 + c1) * v1) / ((mu11 + mu22 + c1) * v2);
    cs += v1 / v2;
  }
  return { ssim: ssim / m1.length, cs: cs / m1.length };
}

/** 2×2 averaging then every second pixel: out[y][x] = mean of in[2y..2y+1][2x..2x+1], the edge repeated when odd. */
export function halve(src: Float64Array, h: number, w: number): { data: Float64Array; h: number; w: number } {
  const H = Math.ceil(h / 2), W = Math.ceil(w / 2), out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    const y0 = 2 * y, y1 = Math.min(2 * y + 1, h - 1);
    for (let x = 0; x < W; x++) {
      const x0 = 2 * x, x1 = Math.min(2 * x + 1, w - 1);
      out[y * W + x] = (src[y0 * w + x0] + src[y0 * w + x1] + src[y1 * w + x0] + src[y1 * w + x1]) / 4;
    }
  }
  return { data: out, h: H, w: W };
}

/** MS-SSIM of two h×w planes: Π_{s<4} cs_s^{w_s} · ssim_4^{w_4}, negatives clamped to 0. */
export function msssimPlane(a: Float64Array, b: Float64Array, h: number, w: number, range = 2): number {
  let x = { data: a, h, w }, y = { data: b, h, w }, r = 1;
  for (let s = 0; s < MSSSIM_WEIGHTS.length; s++) {
    const q = ssimPlane(x.data, y.data, x.h, x.w, range), last = s === MSSSIM_WEIGHTS.length - 1;
    r *= Math.max(0, last ? q.ssim : q.cs) ** MSSSIM_WEIGHTS[s];
    if (!last) { x = halve(x.data, x.h, x.w); y = halve(y.data, y.h, y.w); }
  }
  return r;
}

/** MS-SSIM of images i and j of a batch (mean over channels). */
export function msssimPair(b: ImageBatch, i: number, j: number, range = 2): number {
  const plane = b.h * b.w;
  let s = 0;
  for (let ch = 0; ch < b.c; ch++) {
    const a = Float64Array.from(b.data.subarray((i * b.c + ch) * plane, (i * b.c + ch + 1) * plane));
    const c = Float64Array.from(b.data.subarray((j * b.c + ch) * plane, (j * b.c + ch + 1) * plane));
    s += msssimPlane(a, c, b.h, b.w, range);
  }
  return s / b.c;
}

/** Diversity: mean MS-SSIM over `pairs` random pairs of distinct images (seeded). Needs n ≥ 2. */
export function msssimDiversity(b: ImageBatch, o: { pairs?: number; seed?: number; range?: number } = {}): number {
  if (b.n < 2) throw new RangeError(`MS-SSIM diversity needs at least 2 images, got ${b.n}`);
  const pairs = o.pairs ?? 200, rng = new HostRng(o.seed ?? 0);
  if (!(Number.isInteger(pairs) && pairs >= 1)) throw new RangeError(`MS-SSIM: pairs must be a positive integer, got ${pairs}`);
  let s = 0;
  for (let p = 0; p < pairs; p++) {
    const i = rng.int(0, b.n);
    let j = rng.int(0, b.n - 1);
    if (j >= i) j++;
    s += msssimPair(b, i, j, o.range ?? 2);
  }
  return s / pairs;
}
