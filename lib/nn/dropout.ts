// Inverted dropout with Philox masks: in training mode each forward draws a fresh mask from the Rng the model
// owner passes in (the Rng advances by ceil(numel/4) blocks per draw), so the same seed and stream give the same
// masks on every run and on CPU and GPU. Eval mode and p = 0 are the identity (a view of x).
import { Tensor, Shape, Rng, keep, dropout, mul } from '../engine';
import { LayerBase, PairNeeds, PairResult, drop, wants } from './layer';

export class Dropout extends LayerBase {
  readonly kind = 'Dropout';
  /** Cache (owned): mask = keep/(1 − p) of the last training forward; null when the forward was the identity. */
  mask: Tensor | null = null;

  constructor(readonly p: number, readonly rng: Rng) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    this.release();
    if (!this.training || this.p === 0) return x.reshape(x.shape);
    const r = dropout(x, this.p, this.rng.take(x.numel));
    this.mask = keep(r.mask);
    return r.y;
  }

  backward(dy: Tensor): Tensor { return this.apply(dy); }
  // Linear and diagonal (the cached mask): ẏ = m ẋ, Jᵀdy = m dy, x̄ = m ȳ, ẋ̄ = m ẏ̄.
  jvp(xdot: Tensor): Tensor { return this.apply(this.keepXdot(xdot)); }
  backwardData(dy: Tensor): Tensor { return this.apply(dy); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    this.needXdot();
    return { xbar: ybar && wants(need, 'xbar') ? this.apply(ybar) : null, xdotbar: wants(need, 'xdotbar') ? this.apply(ydotbar) : null };
  }
  /** m ⊙ t, or a view of t when the last forward was the identity. */
  private apply(t: Tensor): Tensor { return this.mask ? mul(t, this.mask) : t.reshape(t.shape); }

  outputShape(s: Shape): number[] { return [...s]; }
  describe(): string { return `Dropout(${this.p})`; }
  release(): void { this.mask = drop(this.mask); }
}
