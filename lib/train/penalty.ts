// The exact WGAN-GP gradient penalty and its parameter gradient (docs/design.md §5), by Pearlmutter's R-op:
//   x̂ = fake + ε (real − fake), ε per sample;  F = Σ_j D(x̂)_j
//   (1) forward at x̂   (2) g = ∇x F (input gradient only)   (3) GP = λ mean(‖g_i‖ − 1)², v = ∂GP/∂g  (gp_norm_v)
//   (4) tangent forward ẋ = v → ẏ   (5) pair-backward from (ȳ = 0, ẏ̄ = 1): ∂GP/∂θ = ∂(Σẏ)/∂θ, accumulated into the
//   critic's parameter grads. No finite differences and no dropped term: exact up to float32 rounding.
// The tangent adjoints ẏ̄ of step (5) obey the same recursion as the input gradient of step (2) (ẋ̄ = Jᵀẏ̄ from
// ẏ̄ = 1), so step (2) keeps its per-layer gradients and step (5) only propagates the primal adjoint x̄: for the
// textbook critic x̄ stays zero and step (5) is just the weight-gradient convolutions W̄ += ẏ̄ ẋᵀ.
import { Tensor, gpNormV, gpNormVTo, lerpRows } from '../engine';
import { Sequential } from '../nn';

export interface PenaltyResult {
  /** λ·mean_i (‖g_i‖ − 1)². */
  gp: number;
  /** ‖g_i‖ per sample. */
  norms: number[];
}

/** x̂ = fake + ε_i (real − fake) with ε [n] (one factor per sample). */
export function interpolate(real: Tensor, fake: Tensor, eps: Tensor): Tensor {
  const n = real.shape[0];
  if (fake.shape.join() !== real.shape.join()) throw new Error(`interpolate: real [${real.shape}] and fake [${fake.shape}] differ`);
  if (eps.numel !== n) throw new Error(`interpolate: eps must have one value per sample (${n}), got ${eps.numel}`);
  if (eps.device === real.device) return lerpRows(real, fake, eps);
  const e = eps.to(real.device);
  try { return lerpRows(real, fake, e); } finally { e.dispose(); }
}

/** The penalty as device tensors: GP as a 1-element tensor and ‖g_i‖ per sample [n] (owned by the caller). */
export interface PenaltyScalars { gp: Tensor; norms: Tensor }

/**
 * Gradient penalty of `critic` at the interpolates of real and fake; adds ∂GP/∂θ to the critic's parameter grads
 * (which the caller zeroes before the critic step). The critic runs in its current mode (training: BN batch
 * statistics over the interpolates, fresh dropout masks), as the penalty term of the paper's critic loss does.
 */
export function gradientPenaltyScalars(critic: Sequential, real: Tensor, fake: Tensor, eps: Tensor, lambda: number): PenaltyScalars {
  return penalty(critic, real, fake, eps, lambda, gpNormVTo); // GP stays on the device (read once per iteration)
}

/** gradientPenaltyScalars read to the host (GP in float64). */
export function gradientPenalty(critic: Sequential, real: Tensor, fake: Tensor, eps: Tensor, lambda: number): PenaltyResult {
  const p = penalty(critic, real, fake, eps, lambda, gpNormV);
  try {
    return { gp: p.gp, norms: p.norms.toArray() };
  } finally {
    p.norms.dispose();
  }
}

/** Steps (1)–(5); `norm` computes GP (as a host number or a device scalar), v and the norms from g. */
function penalty<G>(critic: Sequential, real: Tensor, fake: Tensor, eps: Tensor, lambda: number,
  norm: (g: Tensor, lambda: number) => { gp: G; v: Tensor; norms: Tensor }): { gp: G; norms: Tensor } {
  const xhat = interpolate(real, fake, eps);
  const tmp: Tensor[] = [xhat];
  try {
    const y = critic.forward(xhat);
    const ones = Tensor.full(y.shape, 1, y.device);
    tmp.push(y, ones);
    const { dx: g, signals } = critic.backwardDataSignals(ones); // step (2), keeping ẏ̄ of every layer for step (5)
    tmp.push(g, ...signals);
    const n = xhat.shape[0];
    const g2 = g.reshape([n, g.numel / n]);
    const r = norm(g2, lambda);
    tmp.push(g2, r.v);
    const v = r.v.reshape(xhat.shape);
    tmp.push(v);
    const ydot = critic.jvp(v);
    tmp.push(ydot);
    const p = critic.pairBackward(null, ones, { xbar: false, xdotbar: false }, signals);
    if (p.xbar) tmp.push(p.xbar);
    if (p.xdotbar) tmp.push(p.xdotbar);
    return { gp: r.gp, norms: r.norms };
  } finally {
    critic.releaseTangents();
    critic.release();
    for (const t of tmp) t.dispose();
  }
}
