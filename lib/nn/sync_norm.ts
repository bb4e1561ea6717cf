// Synchronized BatchNorm (the paper's `synchronized=True`): in training mode the batch statistics are those of the
// global batch across data-parallel ranks, and so are the two reduction terms of backward and the moments of the
// penalty's tangent and pair-backward (docs/design.md §5, §7). Each pass computes per-channel float64 sums over the
// local batch, hands them to `reduce` (a sum over ranks, in place: lib/dist's allReduceScalars), and applies the
// same formulas as the single-process kernels (native/cpu/norm.cc, rop.cc) with the global sums and count M.
// Parameter gradients take local sums: the gradient all-reduce averages them, and since each rank's upstream
// gradients are N times the 1-process ones (local means), the average is the 1-process gradient.
//
// The per-element work runs on the host in float64 over float32 data (one copy each way on a GPU): this is the
// reference implementation; with one rank (reduce = identity) it is BatchNorm on the same batch. Eval mode is
// BatchNorm's (running statistics, nothing to synchronise).
import { Tensor, Shape } from '../engine';
import { BatchNorm, BatchNormOptions } from './norm';
import { PairNeeds, PairResult, wants } from './layer';

/** Sums float64 arrays over ranks in place. */
export type Reduce = (v: Float64Array) => void;

export interface SyncBatchNormOptions extends BatchNormOptions {
  /** The reduction over ranks; identity (one process) when omitted. */
  reduce?: Reduce;
}

export abstract class SyncBatchNorm extends BatchNorm {
  reduce: Reduce;
  /** Training-mode cache: global mean and 1/√(var + eps) per channel, and the global count. */
  private mu: Float64Array | null = null;
  private rs: Float64Array | null = null;
  /** Host copies of x and γ taken by forward, read by every later pass (one copy per forward, not per pass). */
  private hostX: Float32Array | null = null;
  private hostG: Float32Array | null = null;
  private M = 0;

  constructor(numFeatures: number, o: SyncBatchNormOptions = {}) {
    super(numFeatures, o);
    this.reduce = o.reduce ?? (() => {});
  }

  forward(x: Tensor): Tensor {
    if (!this.training) {
      this.mu = this.rs = null;
      return super.forward(x);
    }
    this.outputShape(x.shape);
    this.release();
    this.x = x;
    this.cachedTraining = true;
    const { n, c, hw } = dims(x.shape), X = x.toFloat32Array();
    const cnt = Float64Array.of(n * hw);
    this.reduce(cnt);
    const M = cnt[0];
    if (M < 2) throw new Error(`${this.kind}: training mode needs more than 1 value per channel over all ranks, got ${M}`);
    // two passes (mean, then squared deviations) for accuracy
    const s1 = sums(n, c, hw, (o, ch, j) => X[o + j]);
    this.reduce(s1);
    const mu = s1.map((v) => v / M);
    const s2 = sums(n, c, hw, (o, ch, j) => (X[o + j] - mu[ch]) ** 2);
    this.reduce(s2);
    const rs = s2.map((v) => 1 / Math.sqrt(v / M + this.eps));
    const g = this.weight.value.toFloat32Array(), b = this.bias.value.toFloat32Array();
    const y = map(n, c, hw, (o, ch, j) => g[ch] * (X[o + j] - mu[ch]) * rs[ch] + b[ch]);
    // running statistics as PyTorch: the unbiased global variance
    const m = this.momentum, rm = this.runningMean.value.toFloat32Array(), rv = this.runningVar.value.toFloat32Array();
    for (let ch = 0; ch < c; ch++) {
      rm[ch] = (1 - m) * rm[ch] + m * mu[ch];
      rv[ch] = (1 - m) * rv[ch] + m * (s2[ch] / (M - 1));
    }
    this.runningMean.value.copyFrom(Tensor.fromArray(rm, [c]));
    this.runningVar.value.copyFrom(Tensor.fromArray(rv, [c]));
    this.numBatchesTracked++;
    this.mu = mu;
    this.rs = rs;
    this.M = M;
    this.hostX = X;
    this.hostG = g;
    return Tensor.fromArray(y, x.shape, x.device);
  }

  backward(dy: Tensor): Tensor {
    if (!this.cachedTraining) return super.backward(dy);
    const { X, mu, rs, g, n, c, hw, M } = this.cache('backward'), D = dy.toFloat32Array();
    const sdy = sums(n, c, hw, (o, ch, j) => D[o + j]);
    const sdyx = sums(n, c, hw, (o, ch, j) => D[o + j] * (X[o + j] - mu[ch]) * rs[ch]);
    this.addParamGrads(sdyx, sdy);
    const both = concat(sdy, sdyx);
    this.reduce(both);
    const [Sd, Sdx] = split(both, c);
    return Tensor.fromArray(map(n, c, hw, (o, ch, j) =>
      g[ch] * rs[ch] * (D[o + j] - Sd[ch] / M - (X[o + j] - mu[ch]) * rs[ch] * (Sdx[ch] / M))), dy.shape, dy.device);
  }

  // J is symmetric: ẏ = J ẋ and Jᵀdy share one formula, γr(t − mean t − x̂ mean x̂t) with global means.
  jvp(xdot: Tensor): Tensor {
    if (!this.cachedTraining) return super.jvp(xdot);
    return this.syncJ(this.keepXdot(xdot), 'jvp');
  }
  backwardData(dy: Tensor): Tensor {
    if (!this.cachedTraining) return super.backwardData(dy);
    return this.syncJ(dy, 'backwardData');
  }

  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    if (!this.cachedTraining) return super.pairBackward(ybar, ydotbar, need);
    const { X, mu, rs, g, n, c, hw, M } = this.cache('pairBackward');
    const Xd = this.needXdot().toFloat32Array(), Yd = ydotbar.toFloat32Array(), Yb = ybar ? ybar.toFloat32Array() : null;
    const xh = (o: number, ch: number, j: number): number => (X[o + j] - mu[ch]) * rs[ch];
    // tangent moments a = mean ẋ, b = mean x̂ẋ (global)
    const ab = concat(sums(n, c, hw, (o, ch, j) => Xd[o + j]), sums(n, c, hw, (o, ch, j) => xh(o, ch, j) * Xd[o + j]));
    this.reduce(ab);
    const [a, b] = split(ab.map((v) => v / M), c);
    const t = (o: number, ch: number, j: number): number => rs[ch] * (Xd[o + j] - a[ch] - xh(o, ch, j) * b[ch]);
    // Sy = Σȳ, Syx = Σȳx̂, Sd = Σẏ̄, Sdx = Σẏ̄x̂, Sdt = Σẏ̄t
    const local = [
      Yb ? sums(n, c, hw, (o, ch, j) => Yb[o + j]) : new Float64Array(c),
      Yb ? sums(n, c, hw, (o, ch, j) => Yb[o + j] * xh(o, ch, j)) : new Float64Array(c),
      sums(n, c, hw, (o, ch, j) => Yd[o + j]),
      sums(n, c, hw, (o, ch, j) => Yd[o + j] * xh(o, ch, j)),
      sums(n, c, hw, (o, ch, j) => Yd[o + j] * t(o, ch, j)),
    ];
    this.addParamGrads(local[1].map((v, ch) => v + local[4][ch]), local[0]);
    const all = concat(...local);
    this.reduce(all);
    const [Sy, Syx, Sd, Sdx, Sdt] = split(all, c);
    const xdotbar = wants(need, 'xdotbar')
      ? Tensor.fromArray(map(n, c, hw, (o, ch, j) => g[ch] * rs[ch] * (Yd[o + j] - Sd[ch] / M - xh(o, ch, j) * Sdx[ch] / M)), ydotbar.shape, ydotbar.device)
      : null;
    // x̄ = r (q − mean q − x̂ mean x̂q) − (r g / M)(x̂ Sdt + t Sdx), q = g (ȳ − r b ẏ̄)
    const xbar = wants(need, 'xbar')
      ? Tensor.fromArray(map(n, c, hw, (o, ch, j) => {
        const r = rs[ch], gc = g[ch], mq = gc * (Sy[ch] - r * b[ch] * Sd[ch]) / M, mxq = gc * (Syx[ch] - r * b[ch] * Sdx[ch]) / M;
        const q = gc * ((Yb ? Yb[o + j] : 0) - r * b[ch] * Yd[o + j]), x = xh(o, ch, j);
        return r * (q - mq - x * mxq) - (r * gc / M) * (x * Sdt[ch] + t(o, ch, j) * Sdx[ch]);
      }), ydotbar.shape, ydotbar.device)
      : null;
    return { xbar, xdotbar };
  }

  release(): void {
    super.release();
    this.mu = this.rs = null;
    this.hostX = this.hostG = null;
  }

  private syncJ(v: Tensor, what: string): Tensor {
    const { X, mu, rs, g, n, c, hw, M } = this.cache(what), V = v.toFloat32Array();
    const m = concat(sums(n, c, hw, (o, ch, j) => V[o + j]), sums(n, c, hw, (o, ch, j) => (X[o + j] - mu[ch]) * rs[ch] * V[o + j]));
    this.reduce(m);
    const [a, b] = split(m.map((u) => u / M), c);
    return Tensor.fromArray(map(n, c, hw, (o, ch, j) =>
      g[ch] * rs[ch] * (V[o + j] - a[ch] - (X[o + j] - mu[ch]) * rs[ch] * b[ch])), v.shape, v.device);
  }

  private cache(what: string) {
    const x = this.need(this.x, what);
    if (!this.mu || !this.rs || !this.hostX || !this.hostG) throw new Error(`${this.kind}.${what}: no training-mode forward cache`);
    return { X: this.hostX, mu: this.mu, rs: this.rs, g: this.hostG, M: this.M, ...dims(x.shape) };
  }

  /** γ̄ += dg, β̄ += db (local sums). */
  private addParamGrads(dg: Float64Array, db: Float64Array): void {
    const c = this.numFeatures, gg = this.weight.grad.toFloat32Array(), gb = this.bias.grad.toFloat32Array();
    for (let ch = 0; ch < c; ch++) { gg[ch] += dg[ch]; gb[ch] += db[ch]; }
    this.weight.grad.copyFrom(Tensor.fromArray(gg, [c]));
    this.bias.grad.copyFrom(Tensor.fromArray(gb, [c]));
  }
}

export class SyncBatchNorm1d extends SyncBatchNorm {
  readonly kind = 'SyncBatchNorm1d';
  readonly rank = 2;
}

export class SyncBatchNorm2d extends SyncBatchNorm {
  readonly kind = 'SyncBatchNorm2d';
  readonly rank = 4;
}

// ---- per-channel loops over x viewed as [n, c, hw] ----
const dims = (s: Shape): { n: number; c: number; hw: number } => ({ n: s[0], c: s[1], hw: s.slice(2).reduce((a, b) => a * b, 1) });

function sums(n: number, c: number, hw: number, f: (o: number, ch: number, j: number) => number): Float64Array {
  const s = new Float64Array(c);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * hw;
      let acc = 0;
      for (let j = 0; j < hw; j++) acc += f(o, ch, j);
      s[ch] += acc;
    }
  return s;
}

function map(n: number, c: number, hw: number, f: (o: number, ch: number, j: number) => number): Float32Array {
  const y = new Float32Array(n * c * hw);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * hw;
      for (let j = 0; j < hw; j++) y[o + j] = f(o, ch, j);
    }
  return y;
}

const concat = (...a: Float64Array[]): Float64Array => {
  const r = new Float64Array(a.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const x of a) { r.set(x, at); at += x.length; }
  return r;
};
const split = (v: Float64Array, c: number): Float64Array[] => Array.from({ length: v.length / c }, (_, i) => v.subarray(i * c, (i + 1) * c));
