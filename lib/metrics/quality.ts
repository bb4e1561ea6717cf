// Weight-free sample quality (issue 13): SWD between real and generated sets (fidelity + variety of local
// structure, per pyramid level) and MS-SSIM diversity of the generated set beside the real set's own. Cheap enough
// to run every few epochs on a few hundred images; no network weights to download.
import { PNG } from 'pngjs';
import { ImageBatch } from '../train/image';
import { lossCurvePng, Series } from '../train/plot';
import { writeFileAtomic } from '../train/fsutil';
import { swd, SwdOptions, SwdResult } from './swd';
import { msssimDiversity } from './msssim';
import { HostRng } from './random';

export interface QualityOptions {
  /** At most this many images of each set enter SWD (a random subset; both sets get the same count). Default 256. */
  maxImages?: number;
  /** Random pairs for MS-SSIM diversity. Default 200. */
  pairs?: number;
  seed?: number;
  swd?: SwdOptions;
  /** Skip the real set's MS-SSIM (it does not change during a run: compute it once and pass it here). */
  msssimReal?: number;
}

export interface QualityResult {
  /** SWD × 10³ per pyramid level (finest first) and their mean: lower is better. */
  swd: SwdResult;
  /** Mean MS-SSIM of random pairs of generated images: lower is more diverse; compare with msssimReal. */
  msssim: number;
  /** The same for the real set. */
  msssimReal: number;
  /** Images used from each set for SWD. */
  n: number;
}

/** k images of b chosen by idx (copies). */
export function pick(b: ImageBatch, idx: ArrayLike<number>): ImageBatch {
  const per = b.c * b.h * b.w, data = new Float32Array(idx.length * per);
  for (let k = 0; k < idx.length; k++) data.set(b.data.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
  return { data, n: idx.length, c: b.c, h: b.h, w: b.w };
}

/** A fixed, seeded random subset of up to n images of a dataset (lib/data's Dataset, the trainer's ImageSource):
 *  the real side of every evaluation of a run, loaded once. */
export function realSubset(src: { count: number; shape: readonly [number, number, number, number]; batch(idx: ArrayLike<number>): Float32Array },
  n: number, seed: number): ImageBatch {
  const idx = Int32Array.from(new HostRng(seed).sample(src.count, n)).sort();
  return { data: src.batch(idx), n: idx.length, c: src.shape[1], h: src.shape[2], w: src.shape[3] };
}

/** SWD (real vs fake) and MS-SSIM diversity of both; images NCHW in [-1, 1] of the same geometry. */
export function evalQuality(real: ImageBatch, fake: ImageBatch, o: QualityOptions = {}): QualityResult {
  if (real.c !== fake.c || real.h !== fake.h || real.w !== fake.w)
    throw new RangeError(`evalQuality: real images are ${real.c}×${real.h}×${real.w} but generated ones ${fake.c}×${fake.h}×${fake.w}`);
  if (real.n < 2 || fake.n < 2) throw new RangeError(`evalQuality: need at least 2 images per set (real ${real.n}, generated ${fake.n})`);
  const seed = o.seed ?? 0, rng = new HostRng(seed ^ 0x51ed);
  const n = Math.min(real.n, fake.n, o.maxImages ?? 256);
  const r = pick(real, rng.sample(real.n, n)), f = pick(fake, rng.sample(fake.n, n));
  const pairs = o.pairs ?? 200;
  return {
    swd: swd(r, f, { seed, ...o.swd }),
    msssim: msssimDiversity(fake, { pairs, seed: seed + 1 }),
    msssimReal: o.msssimReal ?? msssimDiversity(real, { pairs, seed: seed + 2 }),
    n,
  };
}

/** One metrics.jsonl record of an evaluation (what the trainer writes every --eval-every epochs). */
export function qualityRecord(q: QualityResult, epoch: number, step: number, seconds: number): Record<string, unknown> {
  return { type: 'eval', epoch, step, swd: q.swd.mean, swd_levels: q.swd.perLevel, swd_res: q.swd.resolutions,
    msssim: q.msssim, msssim_real: q.msssimReal, n: q.n, seconds, time: Date.now() / 1000 };
}

/**
 * The quality curve as a PNG: SWD × 10³ (mean, red; levels, lighter) above, MS-SSIM of generated (blue) and real
 * (grey) pairs below, one point per evaluation. recs = the 'eval' records of metrics.jsonl (qualityRecord()).
 */
export function qualityCurvePng(recs: { swd: number; swd_levels?: number[]; msssim: number; msssim_real: number }[], w = 640, h = 300): Buffer {
  const levels = recs[0]?.swd_levels?.length ?? 0;
  const shades: [number, number, number][] = [[240, 150, 60], [200, 170, 40], [120, 180, 80], [80, 170, 170], [160, 120, 200]];
  const top: Series[] = [{ name: 'SWD', values: recs.map((r) => r.swd), color: [200, 30, 30] }];
  for (let l = 0; l < levels; l++)
    top.push({ name: `L${l}`, values: recs.map((r) => r.swd_levels?.[l] ?? NaN), color: shades[l % shades.length] });
  const bottom: Series[] = [{ name: 'MS-SSIM', values: recs.map((r) => r.msssim), color: [30, 60, 200] },
    { name: 'REAL', values: recs.map((r) => r.msssim_real), color: [130, 130, 130] },
    // MS-SSIM on a fixed 0..1 axis (two white end points), so the real set's line is not hidden on the axis
    { name: '', values: recs.length > 1 ? recs.map((_, i) => (i === 0 ? 0 : i === recs.length - 1 ? 1 : NaN)) : [0, 1], color: [255, 255, 255] }];
  const a = PNG.sync.read(lossCurvePng(top, w, h)), b = PNG.sync.read(lossCurvePng(bottom, w, h));
  const out = new PNG({ width: w, height: 2 * h });
  a.data.copy(out.data, 0);
  b.data.copy(out.data, w * h * 4);
  return PNG.sync.write(out, { colorType: 2 });
}

export const writeQualityCurve = (file: string, recs: Parameters<typeof qualityCurvePng>[0]): void =>
  writeFileAtomic(file, qualityCurvePng(recs));
