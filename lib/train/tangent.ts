// Forward-mode tangents and pair-backwards for every layer, so the exact gradient penalty (DESIGN §5) runs through
// any Sequential built from lib/nn. Installed as the optional Layer methods `jvp` / `pairBackward` (layer.ts), plus
// `backwardData` (input gradient only, no parameter grads) for the penalty's ∇x pass.
//
// Per layer, at the cached primal of its last forward:
//   jvp(ẋ) → ẏ = J ẋ; caches ẋ (borrowed, like forward caches x).
//   pairBackward(ȳ, ẏ̄) → (x̄, ẋ̄) and parameter grads += ∂(Σȳ·y + Σẏ̄·ẏ)/∂θ. ȳ = null means zero: piecewise-linear
//   layers then return x̄ = null and skip that work (the fast path of the textbook critic: one extra forward and one
//   extra backward); σ with σ″ ≠ 0 (tanh, sigmoid) and BatchNorm in training mode turn it non-zero.
//   Sequential composes them and owns the intermediate tangents until its pairBackward or release.
// Ownership as in layer.ts: arguments borrowed, results owned by the caller.
import {
  Tensor, mul, biasGrad, leakyReluBackward, tanhBackward, sigmoidBackward, tanhPairBackward, sigmoidPairBackward,
  batchNormJvp, batchNormPairBackward, batchNormEval, conv2dForward, conv2dBackwardData, conv2dBackwardWeight,
  convTranspose2dForward, convTranspose2dBackwardData, convTranspose2dBackwardWeight, denseForward, denseBackwardData,
  denseBackwardWeight,
} from '../engine';
import {
  Layer, Sequential, Conv2d, ConvTranspose2d, Dense, BatchNorm, LeakyReLU, Tanh, Sigmoid, Dropout, Flatten, Reshape,
} from '../nn';

/** x̄ is null when zero (or not asked for); ẋ̄ is null when not asked for. */
export interface PairResult { xbar: Tensor | null; xdotbar: Tensor | null }

/** The input tangent cached by each layer's last jvp (borrowed). */
const xdots = new WeakMap<Layer, Tensor>();
/** Sequential: input tangents of layers 1..n−1 of the last jvp (owned). */
const seqTangents = new WeakMap<Sequential, Tensor[]>();

function cachedXdot(l: Layer): Tensor {
  const t = xdots.get(l);
  if (!t || t.disposed) throw new Error(`${l.kind}.pairBackward: no tangent cache (call jvp first and keep its input alive)`);
  return t;
}
function need<T>(l: Layer, v: T | null | undefined, what: string): T {
  if (v === null || v === undefined || (v instanceof Tensor && v.disposed))
    throw new Error(`${l.kind}.${what}: no forward cache (call forward first, and keep its input/output alive)`);
  return v;
}
const view = (t: Tensor, shape: readonly number[]): Tensor => t.reshape(shape);

/** The tangent ẏ = J ẋ of one layer at its cached forward. */
export function layerJvp(l: Layer, xdot: Tensor): Tensor {
  if (l instanceof Sequential) return seqJvp(l, xdot);
  xdots.set(l, xdot);
  if (l instanceof Conv2d) return conv2dForward(xdot, l.weight.value, null, l.opts());
  if (l instanceof ConvTranspose2d) return convTranspose2dForward(xdot, l.weight.value, null, l.opts());
  if (l instanceof Dense) return denseForward(xdot, l.weight.value, null);
  if (l instanceof LeakyReLU) return leakyReluBackward(xdot, need(l, l.x, 'jvp'), l.slope); // σ′(x)ẋ (ReLU too)
  if (l instanceof Tanh) return tanhBackward(xdot, need(l, l.y, 'jvp'));
  if (l instanceof Sigmoid) return sigmoidBackward(xdot, need(l, l.y, 'jvp'));
  if (l instanceof Dropout) return l.mask ? mul(xdot, l.mask) : view(xdot, xdot.shape);
  if (l instanceof Flatten || l instanceof Reshape) return view(xdot, l.outputShape(xdot.shape));
  if (l instanceof BatchNorm) {
    const x = need(l, l.x, 'jvp');
    if (l.cachedTraining) return batchNormJvp(xdot, x, l.weight.value, need(l, l.mean, 'jvp'), need(l, l.invstd, 'jvp'));
    return bnEvalScale(l, xdot);
  }
  if (l.jvp) return l.jvp(xdot);
  throw new Error(`jvp: no tangent rule for layer ${l.kind}`);
}

/** Input gradient only (no parameter grads): Jᵀ dy. */
export function layerBackwardData(l: Layer, dy: Tensor): Tensor {
  if (l instanceof Sequential) return seqBackwardData(l, dy);
  if (l instanceof Conv2d) return conv2dBackwardData(dy, l.weight.value, need(l, l.x, 'backwardData').shape, l.opts());
  if (l instanceof ConvTranspose2d) return convTranspose2dBackwardData(dy, l.weight.value, l.opts());
  if (l instanceof Dense) return denseBackwardData(dy, l.weight.value);
  // Elementwise layers, Dropout and BatchNorm have symmetric Jacobians: Jᵀ dy = J dy.
  if (l instanceof LeakyReLU || l instanceof Tanh || l instanceof Sigmoid || l instanceof Dropout || l instanceof BatchNorm) {
    const saved = xdots.get(l);
    const r = layerJvp(l, dy);
    if (saved) xdots.set(l, saved); else xdots.delete(l);
    return r;
  }
  if (l instanceof Flatten || l instanceof Reshape) return view(dy, need(l, l.inShape, 'backwardData'));
  throw new Error(`backwardData: no rule for layer ${l.kind} (it would need parameter-free input gradients)`);
}

/**
 * Adjoints of (x, ẋ) from those of (y, ẏ); parameter grads accumulate. needXbar = false skips x̄ (first layer);
 * needXdotbar = false skips ẋ̄ (when the caller already has it, see backwardDataSignals).
 * For a Sequential, `signals` from backwardDataSignals(s, ydotbar) supply every layer's ẏ̄: ẏ̄ propagates by the
 * same transposed Jacobians as the input gradient, so the penalty's step (2) already computed them and the pair
 * pass only carries x̄ — one backward-data convolution less per conv, none at all for a piecewise-linear critic.
 */
export function layerPairBackward(l: Layer, ybar: Tensor | null, ydotbar: Tensor, needXbar = true, needXdotbar = true,
  signals?: Tensor[]): PairResult {
  if (l instanceof Sequential) return seqPairBackward(l, ybar, ydotbar, needXbar, needXdotbar, signals);
  const xdot = cachedXdot(l);
  const r = pairRule(l, xdot, ybar, ydotbar, needXbar, needXdotbar);
  if (!needXdotbar && r.xdotbar) { r.xdotbar.dispose(); r.xdotbar = null; }
  return r;
}

function pairRule(l: Layer, xdot: Tensor, ybar: Tensor | null, ydotbar: Tensor, needXbar: boolean, needXdotbar: boolean): PairResult {
  if (l instanceof Conv2d) {
    const x = need(l, l.x, 'pairBackward'), o = l.opts();
    conv2dBackwardWeight(ydotbar, xdot, l.weight.grad, o);
    if (ybar) {
      conv2dBackwardWeight(ybar, x, l.weight.grad, o);
      if (l.bias) biasGrad(ybar, l.bias.grad);
    }
    return {
      xbar: ybar && needXbar ? conv2dBackwardData(ybar, l.weight.value, x.shape, o) : null,
      xdotbar: needXdotbar ? conv2dBackwardData(ydotbar, l.weight.value, x.shape, o) : null,
    };
  }
  if (l instanceof ConvTranspose2d) {
    const x = need(l, l.x, 'pairBackward'), o = l.opts();
    convTranspose2dBackwardWeight(ydotbar, xdot, l.weight.grad, o);
    if (ybar) {
      convTranspose2dBackwardWeight(ybar, x, l.weight.grad, o);
      if (l.bias) biasGrad(ybar, l.bias.grad);
    }
    return {
      xbar: ybar && needXbar ? convTranspose2dBackwardData(ybar, l.weight.value, o) : null,
      xdotbar: needXdotbar ? convTranspose2dBackwardData(ydotbar, l.weight.value, o) : null,
    };
  }
  if (l instanceof Dense) {
    const x = need(l, l.x, 'pairBackward');
    denseBackwardWeight(ydotbar, xdot, l.weight.grad);
    if (ybar) {
      denseBackwardWeight(ybar, x, l.weight.grad);
      if (l.bias) biasGrad(ybar, l.bias.grad);
    }
    return { xbar: ybar && needXbar ? denseBackwardData(ybar, l.weight.value) : null, xdotbar: needXdotbar ? denseBackwardData(ydotbar, l.weight.value) : null };
  }
  if (l instanceof LeakyReLU) {
    const x = need(l, l.x, 'pairBackward');
    return { xbar: ybar && needXbar ? leakyReluBackward(ybar, x, l.slope) : null, xdotbar: needXdotbar ? leakyReluBackward(ydotbar, x, l.slope) : null };
  }
  if (l instanceof Tanh) return tanhPairBackward(ybar, ydotbar, need(l, l.y, 'pairBackward'), xdot);
  if (l instanceof Sigmoid) return sigmoidPairBackward(ybar, ydotbar, need(l, l.y, 'pairBackward'), xdot);
  if (l instanceof Dropout) {
    const m = l.mask;
    const f = (t: Tensor): Tensor => (m ? mul(t, m) : view(t, t.shape));
    return { xbar: ybar && needXbar ? f(ybar) : null, xdotbar: needXdotbar ? f(ydotbar) : null };
  }
  if (l instanceof Flatten || l instanceof Reshape) {
    const s = need(l, l.inShape, 'pairBackward');
    return { xbar: ybar && needXbar ? view(ybar, s) : null, xdotbar: needXdotbar ? view(ydotbar, s) : null };
  }
  if (l instanceof BatchNorm) {
    const x = need(l, l.x, 'pairBackward');
    if (l.cachedTraining)
      return batchNormPairBackward(ybar, ydotbar, x, xdot, l.weight.value, need(l, l.mean, 'pairBackward'),
        need(l, l.invstd, 'pairBackward'), l.weight.grad, l.bias.grad);
    return bnEvalPairBackward(l, ybar, ydotbar, x, xdot);
  }
  if (l.pairBackward) return l.pairBackward(ybar, ydotbar);
  throw new Error(`pairBackward: no rule for layer ${l.kind}`);
}

// ---- BatchNorm in eval mode: y = γ (x − μ_run) s + β with s = 1/√(σ²_run + ε), affine per channel ----
function bnEvalScale(l: BatchNorm, t: Tensor): Tensor {
  const z = Tensor.zeros([l.numFeatures], t.device);
  try { return batchNormEval(t, l.weight.value, z, z, l.runningVar.value, l.eps); } finally { z.dispose(); }
}
function bnEvalPairBackward(l: BatchNorm, ybar: Tensor | null, ydotbar: Tensor, x: Tensor, xdot: Tensor): PairResult {
  const c = [l.numFeatures], dev = x.device;
  const z = Tensor.zeros(c, dev), one = Tensor.full(c, 1, dev);
  const tmp: Tensor[] = [z, one];
  try {
    // γ̄ += Σ ȳ x̂ + Σ ẏ̄ s ẋ;  β̄ += Σ ȳ
    const sxd = batchNormEval(xdot, one, z, z, l.runningVar.value, l.eps);
    const p = mul(ydotbar, sxd);
    tmp.push(sxd, p);
    biasGrad(p, l.weight.grad);
    if (ybar) {
      const xh = batchNormEval(x, one, z, l.runningMean.value, l.runningVar.value, l.eps);
      const q = mul(ybar, xh);
      tmp.push(xh, q);
      biasGrad(q, l.weight.grad);
      biasGrad(ybar, l.bias.grad);
    }
    return { xbar: ybar ? bnEvalScale(l, ybar) : null, xdotbar: bnEvalScale(l, ydotbar) };
  } finally {
    for (const t of tmp) t.dispose();
  }
}

// ---- Sequential ----
function dropTangents(s: Sequential): void {
  for (const t of seqTangents.get(s) ?? []) t.dispose();
  seqTangents.delete(s);
}

function seqJvp(s: Sequential, xdot: Tensor): Tensor {
  dropTangents(s);
  const kept: Tensor[] = [];
  let t = xdot;
  s.layers.forEach((l, i) => {
    t = layerJvp(l, t);
    if (i < s.layers.length - 1) kept.push(t);
  });
  seqTangents.set(s, kept);
  return t;
}

function seqBackwardData(s: Sequential, dy: Tensor, keep?: Tensor[]): Tensor {
  let g = dy;
  for (let i = s.layers.length - 1; i >= 0; i--) {
    const gi = layerBackwardData(s.layers[i], g);
    if (g !== dy) {
      if (keep) keep[i] = g; else g.dispose();
    }
    g = gi;
  }
  return g === dy ? view(dy, dy.shape) : g;
}

/**
 * The input gradient of a Sequential for upstream dy, keeping the gradient at every layer's output:
 * signals[i] = ∂/∂(output of layer i) for i < n − 1 (owned by the caller). Pass them to layerPairBackward with
 * ydotbar = dy.
 */
export function backwardDataSignals(s: Sequential, dy: Tensor): { dx: Tensor; signals: Tensor[] } {
  const signals: Tensor[] = new Array(Math.max(0, s.layers.length - 1));
  const dx = seqBackwardData(s, dy, signals);
  return { dx, signals };
}

function seqPairBackward(s: Sequential, ybar: Tensor | null, ydotbar: Tensor, needXbar: boolean, needXdotbar: boolean,
  signals?: Tensor[]): PairResult {
  if (!seqTangents.has(s)) throw new Error('Sequential.pairBackward: no tangent cache (call jvp first)');
  if (signals && signals.length !== s.layers.length - 1)
    throw new Error(`Sequential.pairBackward: ${signals.length} signals for ${s.layers.length} layers (use backwardDataSignals)`);
  let yb = ybar, ydb: Tensor | null = ydotbar;
  for (let i = s.layers.length - 1; i >= 0; i--) {
    const d = signals ? (i === s.layers.length - 1 ? ydotbar : signals[i]) : ydb!;
    const r = layerPairBackward(s.layers[i], yb, d, i > 0 || needXbar, !signals && (i > 0 || needXdotbar));
    if (yb && yb !== ybar) yb.dispose();
    if (!signals && ydb !== ydotbar) ydb!.dispose();
    yb = r.xbar;
    ydb = r.xdotbar;
  }
  dropTangents(s);
  return {
    xbar: yb === ybar && yb ? view(yb, yb.shape) : yb,
    xdotbar: signals || !ydb ? null : ydb === ydotbar ? view(ydb, ydb.shape) : ydb,
  };
}

/** Frees a Sequential's tangent cache (the penalty calls it when done; also safe to call any time). */
export const releaseTangents = (s: Sequential): void => dropTangents(s);
