// A custom layer that the exact gradient penalty can run through: y = x² (elementwise).
// Besides forward/backward, a layer gives three rules at the primal cached by its last forward (docs/custom-layer.md):
//   jvp(ẋ)            ẏ = σ′(x)ẋ                              = 2x·ẋ
//   backwardData(dy)  Jᵀdy, no parameter grads                = 2x·dy   (J is diagonal)
//   pairBackward      x̄ = σ′ȳ + σ″ẋẏ̄, ẋ̄ = σ′ẏ̄               = 2x·ȳ + 2ẋ·ẏ̄, 2x·ẏ̄
// Arguments are borrowed, results owned by the caller; jvp caches ẋ (keepXdot) for pairBackward.
import { Tensor, Shape, mul, scale, add } from '../lib/engine';
import { LayerBase, PairNeeds, PairResult, wants } from '../lib/nn';

export class Square extends LayerBase {
  readonly kind = 'Square';
  /** Cache (borrowed): the input of the last forward. */
  x: Tensor | null = null;

  forward(x: Tensor): Tensor {
    this.x = x;
    return mul(x, x);
  }
  backward(dy: Tensor): Tensor { return this.times2x(dy, 'backward'); }

  jvp(xdot: Tensor): Tensor { return this.times2x(this.keepXdot(xdot), 'jvp'); }
  backwardData(dy: Tensor): Tensor { return this.times2x(dy, 'backwardData'); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    const xdot = this.needXdot();
    let xbar: Tensor | null = null;
    if (wants(need, 'xbar')) {
      const curv = mul(xdot, ydotbar), c2 = scale(curv, 2); // σ″ẋẏ̄ with σ″ = 2: non-zero even when ȳ = 0
      curv.dispose();
      if (ybar) {
        const lin = this.times2x(ybar, 'pairBackward');
        xbar = add(lin, c2);
        lin.dispose();
        c2.dispose();
      } else xbar = c2;
    }
    return { xbar, xdotbar: wants(need, 'xdotbar') ? this.times2x(ydotbar, 'pairBackward') : null };
  }

  outputShape(s: Shape): number[] { return [...s]; }
  describe(): string { return 'Square'; }
  release(): void { this.x = null; }

  /** 2x ⊙ t at the cached x. */
  private times2x(t: Tensor, what: string): Tensor {
    const p = mul(t, this.need(this.x, what)), r = scale(p, 2);
    p.dispose();
    return r;
  }
}
