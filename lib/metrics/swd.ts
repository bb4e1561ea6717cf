// Sliced Wasserstein distance between two image sets on Laplacian-pyramid patches — the recipe of Karras et al.
// (progressive GAN, sliced_wasserstein.py): a Laplacian pyramid down to 16×16, at each level 7×7×C patches at
// random positions (128 per image), each set's patches normalised per channel by that set's own mean and std, then
// SWD = mean over random unit directions of W1 between the two sets' projections (sorted, equal counts).
// Reported per level (finest first) and averaged, × 10³ as in the paper's tables. Needs no network weights.
import { Tensor, matmul } from '../engine';
import { ImageBatch } from '../train/image';
import { laplacianPyramid } from './pyramid';
import { HostRng } from './random';

export interface SwdOptions {
  /** Patch side (odd). Default 7. */
  patch?: number;
  /** Patches per image per level. Default 128. */
  patchesPerImage?: number;
  /** Coarsest level's side: levels are size, size/2, … ≥ minRes. Default 16. */
  minRes?: number;
  /** Repeats × directions per repeat of random projections. Defaults 4 × 128. */
  repeats?: number;
  dirsPerRepeat?: number;
  seed?: number;
}

export interface SwdResult {
  /** Side of each level, finest first (e.g. [64, 32, 16]). */
  resolutions: number[];
  /** SWD × 10³ per level, finest first. */
  perLevel: number[];
  /** Mean of perLevel. */
  mean: number;
}

/** Pyramid sides from `size` down to minRes (at least one level). */
export function swdResolutions(size: number, minRes = 16): number[] {
  const r: number[] = [];
  for (let s = size; s >= minRes && s % 1 === 0; s /= 2) r.push(s);
  return r.length ? r : [size];
}

/**
 * Patch descriptors of a set at every level: for level k an [n·patchesPerImage, C·p·p] row-major matrix (rows
 * grouped by image; patch centres uniform over positions where the patch fits).
 */
export function pyramidPatches(b: ImageBatch, levels: number, patch: number, perImage: number, rng: HostRng): Float32Array[] {
  const { n, c, h, w } = b, half = patch >> 1, dim = c * patch * patch;
  const out = Array.from({ length: levels }, () => new Float32Array(n * perImage * dim));
  for (let i = 0; i < n; i++) {
    const pyr = Array.from({ length: c }, (_, ch) => laplacianPyramid(b.data.subarray((i * c + ch) * h * w, (i * c + ch + 1) * h * w), h, w, levels));
    for (let k = 0; k < levels; k++) {
      const { h: lh, w: lw } = pyr[0][k];
      if (lh < patch || lw < patch) throw new RangeError(`SWD: level ${k} is ${lh}×${lw}, smaller than the ${patch}×${patch} patch`);
      const D = out[k];
      for (let q = 0; q < perImage; q++) {
        const y0 = rng.int(half, lh - half) - half, x0 = rng.int(half, lw - half) - half;
        let o = (i * perImage + q) * dim;
        for (let ch = 0; ch < c; ch++) {
          const plane = pyr[ch][k].data;
          for (let y = 0; y < patch; y++) for (let x = 0; x < patch; x++) D[o++] = plane[(y0 + y) * lw + x0 + x];
        }
      }
    }
  }
  return out;
}

/** In place: subtract each channel's mean and divide by its std (population) over all rows and patch pixels. */
export function normalizePerChannel(desc: Float32Array, rows: number, channels: number): void {
  const dim = desc.length / rows, per = dim / channels;
  for (let ch = 0; ch < channels; ch++) {
    let s = 0, s2 = 0;
    for (let r = 0; r < rows; r++) for (let j = r * dim + ch * per, e = j + per; j < e; j++) { s += desc[j]; s2 += desc[j] * desc[j]; }
    const m = rows * per, mu = s / m, sd = Math.sqrt(Math.max(0, s2 / m - mu * mu));
    const inv = sd > 1e-12 ? 1 / sd : 1; // a constant channel (a collapsed generator) stays centred, not NaN
    for (let r = 0; r < rows; r++) for (let j = r * dim + ch * per, e = j + per; j < e; j++) desc[j] = (desc[j] - mu) * inv;
  }
}

/** dirsPerRepeat random unit vectors of length dim, as a [dim, k] row-major matrix. */
export function randomDirections(dim: number, k: number, rng: HostRng): Float32Array {
  const d = new Float32Array(dim * k);
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += d[i * k + j] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < dim; i++) d[i * k + j] *= inv;
  }
  return d;
}

/** Projections of the rows of A [rows, dim] on the k directions, one contiguous column per direction: [k, rows]
 *  (the engine's CPU matmul: dirsᵀ Aᵀ). */
function project(A: Float32Array, rows: number, dim: number, dirs: Float32Array, k: number): Float32Array {
  const a = Tensor.fromArray(A, [rows, dim], 'cpu'), d = Tensor.fromArray(dirs, [dim, k], 'cpu');
  try {
    const p = matmul(d, a, true, true);
    try { return p.toFloat32Array(); } finally { p.dispose(); }
  } finally {
    a.dispose();
    d.dispose();
  }
}

/**
 * Mean over the directions (columns of dirs, [dim, k]) of the 1-D Wasserstein-1 distance between the projections
 * of A and B (both [rows, dim], equal rows): W1 of two equal-size empirical sets = mean |sorted a − sorted b|.
 */
export function slicedWasserstein(A: Float32Array, B: Float32Array, rows: number, dirs: Float32Array, k: number): number {
  const dim = A.length / rows;
  if (B.length !== A.length) throw new RangeError(`slicedWasserstein: sets of ${A.length} and ${B.length} values (need equal counts)`);
  const pa = project(A, rows, dim, dirs, k), pb = project(B, rows, dim, dirs, k);
  let total = 0;
  const a = new Float32Array(rows), b = new Float32Array(rows);
  for (let j = 0; j < k; j++) {
    a.set(pa.subarray(j * rows, (j + 1) * rows));
    b.set(pb.subarray(j * rows, (j + 1) * rows));
    a.sort();
    b.sort();
    let s = 0;
    for (let r = 0; r < rows; r++) s += Math.abs(a[r] - b[r]);
    total += s / rows;
  }
  return total / k;
}

/** SWD between two sets of equal count and geometry (values in [-1, 1]); see the file comment. */
export function swd(A: ImageBatch, B: ImageBatch, o: SwdOptions = {}): SwdResult {
  if (A.n !== B.n || A.c !== B.c || A.h !== B.h || A.w !== B.w)
    throw new RangeError(`SWD: sets differ: [${A.n}, ${A.c}, ${A.h}, ${A.w}] vs [${B.n}, ${B.c}, ${B.h}, ${B.w}] (need the same count and geometry)`);
  if (A.n < 1) throw new RangeError('SWD: empty image sets');
  const patch = o.patch ?? 7, per = o.patchesPerImage ?? 128, repeats = o.repeats ?? 4, k = o.dirsPerRepeat ?? 128;
  if (!(Number.isInteger(patch) && patch % 2 === 1 && patch >= 1)) throw new RangeError(`SWD: patch must be an odd positive integer, got ${patch}`);
  const resolutions = swdResolutions(Math.min(A.h, A.w), o.minRes ?? 16);
  const rng = new HostRng(o.seed ?? 0), dim = A.c * patch * patch, rows = A.n * per;
  const dA = pyramidPatches(A, resolutions.length, patch, per, rng), dB = pyramidPatches(B, resolutions.length, patch, per, rng);
  const perLevel = resolutions.map((_, lv) => {
    normalizePerChannel(dA[lv], rows, A.c);
    normalizePerChannel(dB[lv], rows, A.c);
    let s = 0;
    for (let r = 0; r < repeats; r++) s += slicedWasserstein(dA[lv], dB[lv], rows, randomDirections(dim, k, rng), k);
    return (s / repeats) * 1e3;
  });
  return { resolutions, perLevel, mean: perLevel.reduce((a, b) => a + b, 0) / perLevel.length };
}
