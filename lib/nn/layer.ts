// The Layer contract shared by every layer in lib/nn, and a small base class with the common bookkeeping.
//
// MEMORY OWNERSHIP (tensors are native memory; a handle must be disposed exactly once by its owner):
// - forward(x) BORROWS x and returns a NEW y that the caller owns. In both modes the layer caches what backward
//   (and the gradient-penalty passes) need: borrowed references to x and/or y, plus tensors the layer made
//   itself (dropout mask, batch statistics), which the layer OWNS. The caller must keep x and y alive until it
//   is done with backward/jvp/pairBackward of that forward. Sequential does this for its intermediates.
// - backward(dy) BORROWS dy, returns a NEW dx that the caller owns, and ACCUMULATES (+=) parameter grads.
//   backward does not free the forward cache: the penalty's jvp and pairBackward reuse it after backward.
// - The cache is freed by the next forward, by release(), or by dispose() (which also frees parameters and
//   buffers). One forward per backward: a second forward replaces the first one's cache.
// - A forward may return a view (same storage, new handle: Flatten, Reshape, Dropout in eval mode): disposing
//   a view never frees storage that another handle still uses, so the caller may dispose it like any output.
// - Cached tensors the layer owns, and its parameters, are keep()-ed, so a tidy() around a forward does not free them.
//
// GRADIENT PENALTY (docs/design.md §5): every layer also implements, at the cached primal of its last forward,
//   jvp(ẋ) → ẏ = J ẋ, caching ẋ (borrowed, like forward caches x);
//   backwardData(dy) → Jᵀ dy, the input gradient only (no parameter grads);
//   pairBackward(ȳ | null, ẏ̄, need?) → { x̄ | null, ẋ̄ | null }: adjoints of the primal and tangent inputs (ȳ = null
//   means zero; piecewise-linear layers then return x̄ = null and skip that work), accumulating the parameter grads
//   of Σȳ·y + Σẏ̄·ẏ. `need` skips x̄ or ẋ̄ when the caller does not want them.
// Each layer owns its rules; Sequential composes them (tangent.ts). A custom layer implements the same three methods
// (docs/custom-layer.md shows one); LayerBase's defaults throw, naming the layer.
import { Tensor, Shape, Device, keep, fill, biasGrad } from '../engine';

/** A trainable tensor and its gradient (same shape and device). `role` tells init what distribution to use. */
export interface Param {
  name: string;
  value: Tensor;
  grad: Tensor;
  role: 'weight' | 'bias' | 'gamma' | 'beta';
}

/** A non-trainable state tensor (BatchNorm running statistics). */
export interface StateBuffer {
  name: string;
  value: Tensor;
}

export interface Layer {
  /** Class name, e.g. 'Conv2d'. */
  readonly kind: string;
  /** Training mode (batch statistics in BatchNorm, masks in Dropout); eval otherwise. */
  readonly training: boolean;
  forward(x: Tensor): Tensor;
  backward(dy: Tensor): Tensor;
  params(): Param[];
  buffers(): StateBuffer[];
  train(mode?: boolean): this;
  eval(): this;
  /** Sets every parameter grad to 0. */
  zeroGrad(): void;
  /** Output shape for an input shape (including the batch dim), without running anything. */
  outputShape(inShape: Shape): number[];
  /** One-line description for summaries, e.g. 'Conv2d(1→32, k4 s2 p1)'. */
  describe(): string;
  /** Frees the forward cache (owned tensors; borrowed references are dropped). */
  release(): void;
  /** release() and frees parameters and buffers. The layer is unusable afterwards. */
  dispose(): void;
  /** Tangent forward ẏ = J ẋ at the cached primal; caches ẋ (borrowed) for pairBackward. */
  jvp(xdot: Tensor): Tensor;
  /** Input gradient only, Jᵀ dy at the cached primal; parameter grads untouched. */
  backwardData(dy: Tensor): Tensor;
  /**
   * Optional: parameter grads only (accumulating), at the cached primal, so that backward(dy) = backwardParams(dy)
   * then backwardData(dy). Layers whose parameter grads do not depend on their input gradient (conv, dense) have it:
   * Sequential.backward then hands their parameters to onReady before computing the input gradient, and a
   * data-parallel all-reduce of them overlaps that work.
   */
  backwardParams?(dy: Tensor): void;
  /** Adjoints of (x, ẋ) from those of (y, ẏ) at the cached primal and tangent; parameter grads accumulate. */
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult;
  /** Frees the tangent cache of the last jvp (release() does too). */
  releaseTangents(): void;
}

/** x̄ is null when zero (or not asked for); ẋ̄ is null when not asked for. */
export interface PairResult { xbar: Tensor | null; xdotbar: Tensor | null }
/** Which adjoints pairBackward should compute (both by default). */
export interface PairNeeds { xbar?: boolean; xdotbar?: boolean }
/** need.xbar / need.xdotbar, defaulting to true. */
export const wants = (need: PairNeeds | undefined, k: keyof PairNeeds): boolean => need?.[k] !== false;

/** Common bookkeeping: parameter list, train/eval, zeroGrad, owned-cache release. */
export abstract class LayerBase implements Layer {
  abstract readonly kind: string;
  training = true;
  /** Tangent cache (borrowed): ẋ of the last jvp. */
  xdot: Tensor | null = null;
  protected _params: Param[] = [];
  protected _buffers: StateBuffer[] = [];

  abstract forward(x: Tensor): Tensor;
  abstract backward(dy: Tensor): Tensor;
  abstract outputShape(inShape: Shape): number[];
  abstract describe(): string;
  /** Drops cached references and disposes cached tensors this layer owns. */
  abstract release(): void;

  jvp(xdot: Tensor): Tensor { throw new Error(`${this.kind}.jvp: this layer has no tangent rule (see docs/custom-layer.md)`); }
  backwardData(dy: Tensor): Tensor { throw new Error(`${this.kind}.backwardData: this layer has no input-gradient rule (see docs/custom-layer.md)`); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    throw new Error(`${this.kind}.pairBackward: this layer has no pair-backward rule (see docs/custom-layer.md)`);
  }
  releaseTangents(): void { this.xdot = null; }

  params(): Param[] { return this._params; }
  buffers(): StateBuffer[] { return this._buffers; }
  train(mode = true): this { this.training = mode; return this; }
  eval(): this { return this.train(false); }
  zeroGrad(): void { for (const p of this._params) fill(p.grad, 0); }

  dispose(): void {
    this.release();
    this.releaseTangents();
    for (const p of this._params) { p.value.dispose(); p.grad.dispose(); }
    for (const b of this._buffers) b.value.dispose();
  }

  /** Allocates a parameter (value filled with `init`, grad zeros), exempt from tidy(). */
  protected addParam(name: string, shape: Shape, role: Param['role'], init: number, device: Device): Param {
    const p: Param = { name, role, value: keep(Tensor.full(shape, init, device)), grad: keep(Tensor.zeros(shape, device)) };
    this._params.push(p);
    return p;
  }
  protected addBuffer(name: string, shape: Shape, init: number, device: Device): StateBuffer {
    const b: StateBuffer = { name, value: keep(Tensor.full(shape, init, device)) };
    this._buffers.push(b);
    return b;
  }
  /** Caches ẋ for pairBackward and returns it. */
  protected keepXdot(xdot: Tensor): Tensor { this.xdot = xdot; return xdot; }
  /** The ẋ of the last jvp; throws unless one is cached. */
  protected needXdot(): Tensor {
    if (!this.xdot || this.xdot.disposed) throw new Error(`${this.kind}.pairBackward: no tangent cache (call jvp first and keep its input alive)`);
    return this.xdot;
  }
  /** Throws unless a forward has filled the cache. */
  protected need<T>(v: T | null, what: string): T {
    if (v === null || (v instanceof Tensor && v.disposed))
      throw new Error(`${this.kind}.${what}: no forward cache (call forward first, and keep its input/output alive until backward)`);
    return v;
  }
}

/** Number of elements per sample (everything but dim 0). */
export const perSample = (s: Shape): number => s.slice(1).reduce((a, b) => a * b, 1);

export function expectRank(kind: string, s: Shape, rank: number, what = 'input'): void {
  if (s.length !== rank) throw new Error(`${kind}: ${what} must have ${rank} dims, got shape [${s}]`);
}

/**
 * Pair-backward of a layer linear in x (conv, conv-transpose, dense) with weight W and optional bias b:
 * W̄ += ẏ̄ẋᵀ + ȳxᵀ, b̄ += ȳ, x̄ = Jᵀȳ, ẋ̄ = Jᵀẏ̄, through the layer's own weight-gradient and backward-data ops.
 */
export function linearPairBackward(weight: Param, bias: Param | null, x: Tensor, xdot: Tensor, ybar: Tensor | null,
  ydotbar: Tensor, need: PairNeeds | undefined, ops: { wgrad(dy: Tensor, x: Tensor, dw: Tensor): void; dgrad(dy: Tensor): Tensor }): PairResult {
  ops.wgrad(ydotbar, xdot, weight.grad);
  if (ybar) {
    ops.wgrad(ybar, x, weight.grad);
    if (bias) biasGrad(ybar, bias.grad);
  }
  return {
    xbar: ybar && wants(need, 'xbar') ? ops.dgrad(ybar) : null,
    xdotbar: wants(need, 'xdotbar') ? ops.dgrad(ydotbar) : null,
  };
}

/** Disposes the adjoints `need` does not ask for (rules that compute both anyway). */
export function trimPair(r: PairResult, need: PairNeeds | undefined): PairResult {
  if (!wants(need, 'xbar') && r.xbar) { r.xbar.dispose(); r.xbar = null; }
  if (!wants(need, 'xdotbar') && r.xdotbar) { r.xdotbar.dispose(); r.xdotbar = null; }
  return r;
}

/** Disposes t if it is a tensor (helper for caches). */
export function drop(t: Tensor | null): null {
  if (t && !t.disposed) t.dispose();
  return null;
}
