// The exact gradient penalty's passes (docs/design.md §5) composed through a chain of layers — what Sequential's jvp,
// backwardData and pairBackward do. The per-layer rules live in the layers themselves (layer.ts); this file only
// chains them and owns the intermediate tensors.
//
// The tangent adjoints ẏ̄ of the pair pass obey the same recursion as the input gradient (ẋ̄ = Jᵀẏ̄), so a caller
// that already ran backwardData from ẏ̄ can keep every layer's gradient ("signals") and hand them to pairBackward,
// which then carries only the primal adjoint x̄: one backward-data convolution less per conv, and none at all for a
// piecewise-linear critic (x̄ stays zero).
// Ownership as in layer.ts: arguments borrowed, results owned by the caller.
import { Tensor } from '../engine';
import { Layer, PairNeeds, PairResult, wants } from './layer';

/** ẏ of the last layer, and the tangents between layers (inputs of layers 1..n−1, owned by the caller). */
export function chainJvp(layers: readonly Layer[], xdot: Tensor): { ydot: Tensor; between: Tensor[] } {
  const between: Tensor[] = [];
  let t = xdot;
  layers.forEach((l, i) => {
    t = l.jvp(t);
    if (i < layers.length - 1) between.push(t);
  });
  return { ydot: t, between };
}

/**
 * Jᵀ dy through the chain (no parameter grads). With `keep`, keep[i] receives the gradient at layer i's output for
 * i < n − 1 (owned by the caller); otherwise intermediates are freed as soon as they are consumed.
 */
export function chainBackwardData(layers: readonly Layer[], dy: Tensor, keep?: Tensor[]): Tensor {
  let g = dy;
  for (let i = layers.length - 1; i >= 0; i--) {
    const gi = layers[i].backwardData(g);
    if (g !== dy) {
      if (keep) keep[i] = g; else g.dispose();
    }
    g = gi;
  }
  return g === dy ? dy.reshape(dy.shape) : g;
}

/**
 * Adjoints of (x, ẋ) from those of (y, ẏ) through the chain, parameter grads accumulating. With `signals` (from
 * chainBackwardData's keep, for upstream ẏ̄ = ydotbar) every layer's ẏ̄ is read from them and ẋ̄ is not propagated.
 */
export function chainPairBackward(layers: readonly Layer[], ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds,
  signals?: Tensor[]): PairResult {
  const n = layers.length;
  if (signals && signals.length !== n - 1)
    throw new Error(`Sequential.pairBackward: ${signals.length} signals for ${n} layers (use backwardDataSignals)`);
  let yb = ybar, ydb: Tensor | null = ydotbar;
  for (let i = n - 1; i >= 0; i--) {
    const d = signals ? (i === n - 1 ? ydotbar : signals[i]) : ydb!;
    const r = layers[i].pairBackward(yb, d, { xbar: i > 0 || wants(need, 'xbar'), xdotbar: !signals && (i > 0 || wants(need, 'xdotbar')) });
    if (yb && yb !== ybar) yb.dispose();
    if (!signals && ydb !== ydotbar) ydb!.dispose();
    yb = r.xbar;
    ydb = r.xdotbar;
  }
  return {
    xbar: yb === ybar && yb ? yb.reshape(yb.shape) : yb,
    xdotbar: signals || !ydb ? null : ydb === ydotbar ? ydb.reshape(ydb.shape) : ydb,
  };
}
