// Float64 references for the CPU conv tests (conv.test.ts, conv_direct.test.ts, conv_direct_wgrad.test.ts): the
// conv sum as PyTorch's gather, walked term by term; forward, backward-data and backward-weight are the same terms
// summed into y, x or w. Each result carries Σ|terms| per element (helpers' Ref), the scale of float32 rounding.
// Also: running a check under given conv tuning (kernel, tiles, threads), restored afterwards.
import { Ref } from '../../helpers';
import { engineInfo, setThreads } from '../../../lib/engine';
import { native } from '../../../lib/engine/native';

export type P2 = [number, number];
export type P4 = [number, number, number, number];
/** x [n, c, H, W] * w [k, c, r, s] with stride [sh, sw] and padding [top, bottom, left, right]. */
export interface ConvCase { name: string; n: number; c: number; H: number; W: number; k: number; r: number; s: number; stride: P2; pad: P4; bias?: boolean }

/** The DCGAN conv: 4×4 taps, stride 2, padding 1 (halves H and W). */
export const K4S2P1 = { r: 4, s: 4, stride: [2, 2] as P2, pad: [1, 1, 1, 1] as P4 };
/** 3×3 taps, stride 1, padding 1 (keeps H and W). */
export const K3S1P1 = { r: 3, s: 3, stride: [1, 1] as P2, pad: [1, 1, 1, 1] as P4 };

export const outSize = (size: number, k: number, st: number, a: number, b: number): number => Math.floor((size + a + b - k) / st) + 1;

/** Output height p and width q. */
export const geom = (cs: ConvCase): { p: number; q: number } => ({
  p: outSize(cs.H, cs.r, cs.stride[0], cs.pad[0], cs.pad[1]), q: outSize(cs.W, cs.s, cs.stride[1], cs.pad[2], cs.pad[3]),
});

/** f(xIndex, wIndex, yIndex) for every term y[b, o, oh, ow] += w[o, ci, i, j] · x[b, ci, oh·sh − pt + i, ow·sw − pl + j] inside the image. */
export type Terms = (f: (xi: number, wi: number, yi: number) => void) => void;

/** A kernel placement rule: r×s taps at stride [sh, sw] and padding [top, bottom, left, right] over an H×W image. */
export interface Window { r: number; s: number; stride: P2; pad: P4; H: number; W: number }

/** f(i, j, ih, iw) for each tap (i, j) of the window at (oh, ow) whose pixel (oh·sh − pt + i, ow·sw − pl + j) is inside the image. */
export function forWindow(g: Window, oh: number, ow: number, f: (i: number, j: number, ih: number, iw: number) => void): void {
  for (let i = 0; i < g.r; i++) {
    const ih = oh * g.stride[0] - g.pad[0] + i;
    if (ih < 0 || ih >= g.H) continue;
    for (let j = 0; j < g.s; j++) {
      const iw = ow * g.stride[1] - g.pad[2] + j;
      if (iw < 0 || iw >= g.W) continue;
      f(i, j, ih, iw);
    }
  }
}

export const convTerms = (cs: ConvCase): Terms => (f) => {
  const { n, c, H, W, k, r, s } = cs;
  const { p, q } = geom(cs);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < k; o++)
      for (let oh = 0; oh < p; oh++)
        for (let ow = 0; ow < q; ow++) {
          const yi = ((b * k + o) * p + oh) * q + ow;
          for (let ci = 0; ci < c; ci++)
            forWindow(cs, oh, ow, (i, j, ih, iw) => f(((b * c + ci) * H + ih) * W + iw, ((o * c + ci) * r + i) * s + j, yi));
        }
};

/** A Ref of `len` zeros. */
export const zeroRef = (len: number): Ref => ({ v: new Float64Array(len), mag: new Float64Array(len) });

/** A Ref of `len` elements starting at bias[channel] (channel = ⌊i / plane⌋ mod channels), or at zero. */
export function biased(len: number, plane: number, channels: number, bias: ArrayLike<number> | null): Ref {
  const out = zeroRef(len);
  if (bias) for (let i = 0; i < len; i++) { const ch = Math.floor(i / plane) % channels; out.v[i] = bias[ch]; out.mag[i] = Math.abs(bias[ch]); }
  return out;
}

/**
 * Adds every term into `out` at its y, x or w index (`into`); the term is a·b with a, b the other two operands in
 * the order (x, w) for y, (dy, w) for x, (dy, x) for w.
 */
export function sumTerms(terms: Terms, out: Ref, into: 'y' | 'x' | 'w', a: ArrayLike<number>, b: ArrayLike<number>): Ref {
  const { v, mag } = out;
  const add = (i: number, t: number): void => { v[i] += t; mag[i] += Math.abs(t); };
  if (into === 'y') terms((xi, wi, yi) => add(yi, a[xi] * b[wi]));
  else if (into === 'x') terms((xi, wi, yi) => add(xi, a[yi] * b[wi]));
  else terms((xi, wi, yi) => add(wi, a[yi] * b[xi]));
  return out;
}

export function convRef(cs: ConvCase, x: Float32Array, w: Float32Array, bias: Float32Array | null): Ref {
  const { p, q } = geom(cs);
  return sumTerms(convTerms(cs), biased(cs.n * cs.k * p * q, p * q, cs.k, bias), 'y', x, w);
}
/** dx: the adjoint of the forward sum; with a per-channel bias it is conv-transpose forward. */
export function convBackwardDataRef(cs: ConvCase, dy: Float32Array, w: Float32Array, bias: Float32Array | null = null): Ref {
  return sumTerms(convTerms(cs), biased(cs.n * cs.c * cs.H * cs.W, cs.H * cs.W, cs.c, bias), 'x', dy, w);
}
export function convBackwardWeightRef(cs: ConvCase, dy: Float32Array, x: Float32Array): Ref {
  return sumTerms(convTerms(cs), zeroRef(cs.k * cs.c * cs.r * cs.s), 'w', dy, x);
}

/** Conv tuning for one check: thread count, forced kernel, columns per tile, the size below which a conv runs serially,
 * the Winograd tile. */
export interface Tuning { threads?: number; kernel?: string; tileCols?: number; serialMacs?: number; winoTile?: number }

/** Runs fn under tuning t (unset fields keep their values), then restores the engine's threads and tuning. */
export function withConvTuning<T>(t: Tuning, fn: () => T): T {
  const n = native();
  const threads = engineInfo().threads;
  const old = n.convTuning();
  try {
    if (t.threads) setThreads(t.threads);
    n.convTuning({ kernel: t.kernel, tileCols: t.tileCols, serialMacs: t.serialMacs, winoTile: t.winoTile });
    return fn();
  } finally {
    setThreads(threads);
    n.convTuning(old);
  }
}
