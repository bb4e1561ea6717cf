// A float64 twin of a lib/nn Sequential for checking the gradient-penalty passes: plain loops, forward and
// input-gradient (backward-data) per layer, parameters copied out of the float32 model so they can be nudged for
// central differences. Independent of the engine's kernels (no shared code).
import {
  Layer, Sequential, Conv2d, ConvTranspose2d, Dense, BatchNorm, LeakyReLU, Tanh, Sigmoid, Dropout, Flatten, Reshape,
} from '../../lib/nn';

export interface T64 { d: Float64Array; s: number[] }
const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
export const t64 = (d: ArrayLike<number>, s: number[]): T64 => ({ d: Float64Array.from(d), s: [...s] });

interface ConvGeo { stride: [number, number]; pad: [number, number, number, number] }

/** y[n,k,p,q] = Σ x[n,c,h,w]·W[k,c,r,s] (+ b[k]). */
export function conv64(x: T64, W: Float64Array, ws: number[], b: Float64Array | null, g: ConvGeo): T64 {
  const [n, c, h, w] = x.s, [k, , r, s] = ws, [sh, sw] = g.stride, [pt, pb, pl, pr] = g.pad;
  const p = Math.floor((h + pt + pb - r) / sh) + 1, q = Math.floor((w + pl + pr - s) / sw) + 1;
  const y = new Float64Array(n * k * p * q);
  for (let i = 0; i < n; i++) for (let o = 0; o < k; o++) for (let a = 0; a < p; a++) for (let e = 0; e < q; e++) {
    let acc = b ? b[o] : 0;
    for (let ci = 0; ci < c; ci++) for (let u = 0; u < r; u++) for (let v = 0; v < s; v++) {
      const hh = a * sh - pt + u, ww = e * sw - pl + v;
      if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
      acc += x.d[((i * c + ci) * h + hh) * w + ww] * W[((o * c + ci) * r + u) * s + v];
    }
    y[((i * k + o) * p + a) * q + e] = acc;
  }
  return { d: y, s: [n, k, p, q] };
}

/** The transpose of conv64 w.r.t. x: dx [n, c, h, w] from dy [n, k, p, q]. */
export function convT64(dy: T64, W: Float64Array, ws: number[], xs: number[], g: ConvGeo): T64 {
  const [n, c, h, w] = xs, [k, , r, s] = ws, [, , p, q] = dy.s, [sh, sw] = g.stride, [pt, , pl] = g.pad;
  const dx = new Float64Array(numel(xs));
  for (let i = 0; i < n; i++) for (let o = 0; o < k; o++) for (let a = 0; a < p; a++) for (let e = 0; e < q; e++) {
    const gy = dy.d[((i * k + o) * p + a) * q + e];
    for (let ci = 0; ci < c; ci++) for (let u = 0; u < r; u++) for (let v = 0; v < s; v++) {
      const hh = a * sh - pt + u, ww = e * sw - pl + v;
      if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
      dx[((i * c + ci) * h + hh) * w + ww] += gy * W[((o * c + ci) * r + u) * s + v];
    }
  }
  return { d: dx, s: [...xs] };
}

/** A float64 layer: parameters (mutable, for differences) and forward / backward-data at a cached input. */
export interface L64 {
  kind: string;
  params: { name: string; d: Float64Array }[];
  forward(x: T64): T64;
  /** Input gradient at the last forward's input. */
  backward(dy: T64): T64;
}

const f64of = (t: { toFloat32Array(): Float32Array }): Float64Array => Float64Array.from(t.toFloat32Array());

function elementwise(kind: string, f: (v: number) => number, df: (v: number) => number): L64 {
  let x: T64 | null = null;
  return {
    kind, params: [],
    forward(v) { x = v; return { d: v.d.map(f), s: v.s }; },
    backward(dy) { return { d: dy.d.map((g, i) => g * df(x!.d[i])), s: dy.s }; },
  };
}

/** The float64 twin of one lib/nn layer (current parameters, mode and dropout mask). */
export function twin(l: Layer): L64 {
  if (l instanceof Sequential) return seq64(l.layers.map(twin));
  if (l instanceof Conv2d || l instanceof ConvTranspose2d) {
    const W = f64of(l.weight.value), ws = l.weight.value.shape, b = l.bias ? f64of(l.bias.value) : null;
    const geo: ConvGeo = { stride: l.stride, pad: l instanceof Conv2d ? [0, 0, 0, 0] : l.pad };
    const params = [{ name: 'weight', d: W }, ...(b ? [{ name: 'bias', d: b }] : [])];
    let x: T64 | null = null;
    if (l instanceof Conv2d) {
      return {
        kind: 'Conv2d', params,
        forward(v) { x = v; return conv64(v, W, ws, b, { ...geo, pad: l.padsFor(v.s[2], v.s[3]) }); },
        backward(dy) { return convT64(dy, W, ws, x!.s, { ...geo, pad: l.padsFor(x!.s[2], x!.s[3]) }); },
      };
    }
    // ConvTranspose2d = backward-data of the conv with weight IOHW read as OIHW (k = in, c = out); output cropped by pad
    return {
      kind: 'ConvTranspose2d', params,
      forward(v) {
        x = v;
        const os = l.outputShape(v.s);
        const y = convT64(v, W, ws, os, geo);
        if (b) for (let k = 0; k < y.d.length; k++) y.d[k] += b[Math.floor(k / (os[2] * os[3])) % os[1]];
        return y;
      },
      backward(dy) { return conv64(dy, W, ws, null, geo); },
    };
  }
  if (l instanceof Dense) {
    const W = f64of(l.weight.value), b = l.bias ? f64of(l.bias.value) : null, I = l.inFeatures, O = l.outFeatures;
    return {
      kind: 'Dense', params: [{ name: 'weight', d: W }, ...(b ? [{ name: 'bias', d: b }] : [])],
      forward(v) {
        const n = v.s[0], y = new Float64Array(n * O);
        for (let i = 0; i < n; i++) for (let o = 0; o < O; o++) {
          let a = b ? b[o] : 0;
          for (let j = 0; j < I; j++) a += v.d[i * I + j] * W[o * I + j];
          y[i * O + o] = a;
        }
        return { d: y, s: [n, O] };
      },
      backward(dy) {
        const n = dy.s[0], dx = new Float64Array(n * I);
        for (let i = 0; i < n; i++) for (let o = 0; o < O; o++) for (let j = 0; j < I; j++) dx[i * I + j] += dy.d[i * O + o] * W[o * I + j];
        return { d: dx, s: [n, I] };
      },
    };
  }
  if (l instanceof LeakyReLU) { const a = l.slope; return elementwise(l.kind, (v) => (v > 0 ? v : a * v), (v) => (v > 0 ? 1 : a)); }
  if (l instanceof Tanh) return elementwise('Tanh', Math.tanh, (v) => 1 - Math.tanh(v) ** 2);
  if (l instanceof Sigmoid) {
    const sg = (v: number): number => 1 / (1 + Math.exp(-v));
    return elementwise('Sigmoid', sg, (v) => sg(v) * (1 - sg(v)));
  }
  if (l instanceof Dropout) {
    const m = l.mask ? f64of(l.mask) : null;
    return {
      kind: 'Dropout', params: [],
      forward(v) { return { d: m ? v.d.map((u, i) => u * m[i]) : v.d.slice(), s: v.s }; },
      backward(dy) { return { d: m ? dy.d.map((u, i) => u * m[i]) : dy.d.slice(), s: dy.s }; },
    };
  }
  if (l instanceof Flatten || l instanceof Reshape) {
    let s0: number[] = [];
    return {
      kind: l.kind, params: [],
      forward(v) { s0 = v.s; return { d: v.d.slice(), s: l.outputShape(v.s) }; },
      backward(dy) { return { d: dy.d.slice(), s: s0 }; },
    };
  }
  if (l instanceof BatchNorm) return bn64(l);
  throw new Error(`ref64: no twin for ${l.kind}`);
}

function bn64(l: BatchNorm): L64 {
  const gamma = f64of(l.weight.value), beta = f64of(l.bias.value), eps = l.eps, training = l.training;
  const rm = f64of(l.runningMean.value), rv = f64of(l.runningVar.value);
  let x: T64 | null = null;
  const geo = (s: number[]) => ({ n: s[0], c: s[1], hw: numel(s.slice(2)) });
  // per channel: mean, r = 1/sqrt(var + eps) from the batch (training) or the running stats (eval)
  const stats = (v: T64) => {
    const { n, c, hw } = geo(v.s), mu = new Float64Array(c), r = new Float64Array(c), m = n * hw;
    for (let ch = 0; ch < c; ch++) {
      if (!training) { mu[ch] = rm[ch]; r[ch] = 1 / Math.sqrt(rv[ch] + eps); continue; }
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) s += v.d[(i * c + ch) * hw + j];
      mu[ch] = s / m;
      for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) s2 += (v.d[(i * c + ch) * hw + j] - mu[ch]) ** 2;
      r[ch] = 1 / Math.sqrt(s2 / m + eps);
    }
    return { mu, r };
  };
  return {
    kind: l.kind, params: [{ name: 'weight', d: gamma }, { name: 'bias', d: beta }],
    forward(v) {
      x = v;
      const { c, hw } = geo(v.s), { mu, r } = stats(v);
      return { d: v.d.map((u, k) => { const ch = Math.floor(k / hw) % c; return gamma[ch] * (u - mu[ch]) * r[ch] + beta[ch]; }), s: v.s };
    },
    backward(dy) {
      const { n, c, hw } = geo(x!.s), { mu, r } = stats(x!), m = n * hw;
      if (!training) return { d: dy.d.map((u, k) => { const ch = Math.floor(k / hw) % c; return gamma[ch] * r[ch] * u; }), s: dy.s };
      const a = new Float64Array(c), b = new Float64Array(c);
      for (let k = 0; k < dy.d.length; k++) {
        const ch = Math.floor(k / hw) % c;
        a[ch] += dy.d[k] / m;
        b[ch] += (x!.d[k] - mu[ch]) * r[ch] * dy.d[k] / m;
      }
      return { d: dy.d.map((u, k) => { const ch = Math.floor(k / hw) % c; return gamma[ch] * r[ch] * (u - a[ch] - (x!.d[k] - mu[ch]) * r[ch] * b[ch]); }), s: dy.s };
    },
  };
}

export function seq64(layers: L64[]): L64 {
  return {
    kind: 'Sequential',
    params: layers.flatMap((l, i) => l.params.map((p) => ({ name: `${i}.${p.name}`, d: p.d }))),
    forward(v) { return layers.reduce((h, l) => l.forward(h), v); },
    backward(dy) { return layers.reduceRight((g, l) => l.backward(g), dy); },
  };
}

/** GP = λ mean_i (‖∇x Σ_j D(x̂)_j‖_i − 1)² in float64. */
export function gp64(D: L64, xhat: T64, lambda: number): { gp: number; norms: number[] } {
  const y = D.forward(xhat);
  const g = D.backward({ d: new Float64Array(y.d.length).fill(1), s: y.s });
  const n = xhat.s[0], per = g.d.length / n, norms: number[] = [];
  let gp = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < per; j++) s += g.d[i * per + j] ** 2;
    norms.push(Math.sqrt(s));
    gp += (Math.sqrt(s) - 1) ** 2;
  }
  return { gp: (lambda * gp) / n, norms };
}

export const dot64 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Central difference of f w.r.t. a[i] (a is changed and restored). */
export function diff(f: () => number, a: Float64Array, i: number, h: number): number {
  const v = a[i];
  a[i] = v + h;
  const p = f();
  a[i] = v - h;
  const m = f();
  a[i] = v;
  return (p - m) / (2 * h);
}
