// Float64 reference layers for the nn tests (plain loops, written from the PyTorch definitions, independent of
// the engine), and a gradient check: analytic backward of a float32 layer vs central differences of its float64
// reference at h = 1e-6 (error ~1e-9, far below the float32 kernels' ~1e-6), on the loss L = Σ r·y.
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { Layer } from '../../lib/nn';
import { randArray, expectClose, maxAbs } from '../helpers';

export type F64 = Float64Array;
const f64 = (a: ArrayLike<number>): F64 => Float64Array.from(a);

/** PyTorch Conv2d: x [n, c, h, w], w [k, c, r, s], pads [top, bottom, left, right]. */
export function conv2d(x: F64, xs: number[], w: F64, ws: number[], b: F64 | null, stride: [number, number], p: number[]): { y: F64; ys: number[] } {
  const [n, c, h, wd] = xs, [k, , r, s] = ws;
  const ho = Math.floor((h + p[0] + p[1] - r) / stride[0]) + 1, wo = Math.floor((wd + p[2] + p[3] - s) / stride[1]) + 1;
  const y = new Float64Array(n * k * ho * wo);
  for (let ni = 0; ni < n; ni++) for (let ki = 0; ki < k; ki++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let acc = b ? b[ki] : 0;
    for (let ci = 0; ci < c; ci++) for (let ri = 0; ri < r; ri++) for (let si = 0; si < s; si++) {
      const hi = i * stride[0] - p[0] + ri, wi = j * stride[1] - p[2] + si;
      if (hi < 0 || hi >= h || wi < 0 || wi >= wd) continue;
      acc += x[((ni * c + ci) * h + hi) * wd + wi] * w[((ki * c + ci) * r + ri) * s + si];
    }
    y[((ni * k + ki) * ho + i) * wo + j] = acc;
  }
  return { y, ys: [n, k, ho, wo] };
}

/** PyTorch ConvTranspose2d as a scatter: y[o, i·s − pt + ri, j·s − pl + si] += x[c, i, j]·w[c, o, ri, si]. */
export function convTranspose2d(x: F64, xs: number[], w: F64, ws: number[], b: F64 | null, stride: [number, number], p: number[], op: [number, number]): { y: F64; ys: number[] } {
  const [n, c, h, wd] = xs, [, k, r, s] = ws;
  const ho = (h - 1) * stride[0] - p[0] - p[1] + r + op[0], wo = (wd - 1) * stride[1] - p[2] - p[3] + s + op[1];
  const y = new Float64Array(n * k * ho * wo);
  for (let ni = 0; ni < n; ni++) for (let ki = 0; ki < k; ki++) for (let q = 0; q < ho * wo; q++) y[(ni * k + ki) * ho * wo + q] = b ? b[ki] : 0;
  for (let ni = 0; ni < n; ni++) for (let ci = 0; ci < c; ci++) for (let i = 0; i < h; i++) for (let j = 0; j < wd; j++) {
    const xv = x[((ni * c + ci) * h + i) * wd + j];
    for (let ki = 0; ki < k; ki++) for (let ri = 0; ri < r; ri++) for (let si = 0; si < s; si++) {
      const oi = i * stride[0] - p[0] + ri, oj = j * stride[1] - p[2] + si;
      if (oi < 0 || oi >= ho || oj < 0 || oj >= wo) continue;
      y[((ni * k + ki) * ho + oi) * wo + oj] += xv * w[((ci * k + ki) * r + ri) * s + si];
    }
  }
  return { y, ys: [n, k, ho, wo] };
}

/** PyTorch Linear: x [n, in], w [out, in]. */
export function dense(x: F64, n: number, inF: number, w: F64, outF: number, b: F64 | null): F64 {
  const y = new Float64Array(n * outF);
  for (let i = 0; i < n; i++) for (let o = 0; o < outF; o++) {
    let acc = b ? b[o] : 0;
    for (let j = 0; j < inF; j++) acc += x[i * inF + j] * w[o * inF + j];
    y[i * outF + o] = acc;
  }
  return y;
}

/** BatchNorm over channel dim 1 of [n, c, hw…]; train: batch stats (biased var); eval: given running stats. */
export function batchNorm(x: F64, xs: number[], g: F64, b: F64, eps: number, run?: { mean: F64; var: F64 }): { y: F64; mean: F64; varB: F64; varU: F64 } {
  const n = xs[0], c = xs[1], hw = xs.slice(2).reduce((a, v) => a * v, 1), m = n * hw;
  const mean = new Float64Array(c), varB = new Float64Array(c), varU = new Float64Array(c), y = new Float64Array(x.length);
  for (let ci = 0; ci < c; ci++) {
    let s = 0;
    for (let ni = 0; ni < n; ni++) for (let q = 0; q < hw; q++) s += x[(ni * c + ci) * hw + q];
    mean[ci] = s / m;
    let v = 0;
    for (let ni = 0; ni < n; ni++) for (let q = 0; q < hw; q++) v += (x[(ni * c + ci) * hw + q] - mean[ci]) ** 2;
    varB[ci] = v / m;
    varU[ci] = v / (m - 1);
    const mu = run ? run.mean[ci] : mean[ci], va = run ? run.var[ci] : varB[ci];
    for (let ni = 0; ni < n; ni++) for (let q = 0; q < hw; q++) {
      const i = (ni * c + ci) * hw + q;
      y[i] = (g[ci] * (x[i] - mu)) / Math.sqrt(va + eps) + b[ci];
    }
  }
  return { y, mean, varB, varU };
}

export const leaky = (x: F64, slope: number): F64 => x.map((v) => (v > 0 ? v : slope * v));
export const tanh64 = (x: F64): F64 => x.map(Math.tanh);
export const sigmoid64 = (x: F64): F64 => x.map((v) => 1 / (1 + Math.exp(-v)));

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** d/dv Σ r·f(v) by central differences in float64. */
export function fdGrad(f: (v: F64) => F64, v: F64, r: F64, h = 1e-6): F64 {
  const g = new Float64Array(v.length);
  const w = Float64Array.from(v);
  for (let i = 0; i < v.length; i++) {
    w[i] = v[i] + h;
    const up = dot(r, f(w));
    w[i] = v[i] - h;
    const dn = dot(r, f(w));
    w[i] = v[i];
    g[i] = (up - dn) / (2 * h);
  }
  return g;
}

export interface CheckOptions {
  layer: Layer;
  xShape: number[];
  /** Float64 forward given x and the layer's params (in params() order). */
  ref: (x: F64, ps: F64[]) => F64;
  seed?: number;
  /** Set params to random values first (default true); BN γ is drawn in [0.5, 1.5]. */
  randomParams?: boolean;
  /** Input values: default uniform [-1, 1]; for kinks (LeakyReLU) the test passes values away from 0. */
  x?: Float32Array;
  /** Relative tolerance of float32 backward vs exact (default 1e-4 of the largest gradient). */
  rtol?: number;
}

/**
 * Forward vs the float64 reference (rtol 1e-5 of max |y|), then backward(r) vs finite differences of the reference
 * for the input and every parameter, then checks that a second backward accumulates (grads double).
 * Returns the float32 output (host) for further checks.
 */
export function gradCheck(o: CheckOptions): Float32Array {
  const seed = o.seed ?? 1;
  const L = o.layer;
  L.zeroGrad();
  if (o.randomParams !== false) {
    L.params().forEach((p, i) => {
      const lo = p.role === 'gamma' ? 0.5 : -0.5, hi = p.role === 'gamma' ? 1.5 : 0.5;
      const t = Tensor.fromArray(randArray(p.value.numel, seed * 100 + i, lo, hi), p.value.shape);
      p.value.copyFrom(t);
      t.dispose();
    });
  }
  const xa = o.x ?? randArray(o.xShape.reduce((a, b) => a * b, 1), seed);
  const x = Tensor.fromArray(xa, o.xShape);
  const ps = L.params().map((p) => f64(p.value.toFloat32Array()));
  const x64 = f64(xa);
  const y = L.forward(x);
  const yv = y.toFloat32Array();
  const y64 = o.ref(x64, ps);
  expect(y.shape, 'output shape').to.deep.equal(L.outputShape(o.xShape));
  expectClose(yv, y64, 1e-5, 1e-5 * maxAbs(y64) + 1e-7, `${L.kind} forward`);
  const r = f64(randArray(yv.length, seed + 7));
  const rt = Tensor.fromArray(Float32Array.from(r), y.shape);
  const dx = L.backward(rt);
  const rtol = o.rtol ?? 1e-4;
  const want = fdGrad((v) => o.ref(v, ps), x64, r);
  expect(dx.shape, 'dx shape').to.deep.equal(o.xShape);
  expectClose(dx.toFloat32Array(), want, rtol, rtol * maxAbs(want) + 1e-7, `${L.kind} dx`);
  const grads = L.params().map((p) => p.grad.toFloat32Array());
  L.params().forEach((p, i) => {
    const g = fdGrad((v) => o.ref(x64, ps.map((q, j) => (j === i ? v : q))), ps[i], r);
    expectClose(grads[i], g, rtol, rtol * maxAbs(g) + 1e-7, `${L.kind} d${p.name}`);
  });
  // Accumulation: a second backward adds the same gradient again.
  const dx2 = L.backward(rt);
  L.params().forEach((p, i) => expectClose(p.grad.toFloat32Array(), grads[i].map((v) => 2 * v), 1e-6, 1e-7, `${L.kind} accumulated d${p.name}`));
  L.zeroGrad();
  for (const p of L.params()) expect(maxAbs(p.grad.toFloat32Array()), `zeroGrad ${p.name}`).to.equal(0);
  for (const t of [x, y, rt, dx, dx2]) t.dispose();
  L.release();
  return yv;
}
