// Elementwise activations. LeakyReLU/ReLU cache their input x; Tanh/Sigmoid cache their output y (their
// derivatives are functions of y: 1 − y², y(1 − y)). Both caches are borrowed (see layer.ts).
// Penalty rules: ẏ = σ′ẋ, and the Jacobian is diagonal, so Jᵀdy = σ′dy too; pair-backward x̄ = σ′ȳ + σ″ẋẏ̄,
// ẋ̄ = σ′ẏ̄. LeakyReLU has σ″ = 0 (x̄ vanishes with ȳ: the fast path); tanh and sigmoid have a kernel each.
import {
  Tensor, Shape, leakyRelu, leakyReluBackward, tanh, tanhBackward, sigmoid, sigmoidBackward, tanhPairBackward,
  sigmoidPairBackward,
} from '../engine';
import { LayerBase, PairNeeds, PairResult, trimPair, wants } from './layer';

abstract class Elementwise extends LayerBase {
  outputShape(s: Shape): number[] { return [...s]; }
}

export class LeakyReLU extends Elementwise {
  readonly kind: string = 'LeakyReLU';
  /** Cache (borrowed): the input of the last forward. */
  x: Tensor | null = null;
  constructor(readonly slope = 0.01) {
    super();
    if (!Number.isFinite(slope)) throw new Error(`LeakyReLU: slope must be finite, got ${slope}`);
  }
  forward(x: Tensor): Tensor {
    this.x = x;
    return leakyRelu(x, this.slope);
  }
  backward(dy: Tensor): Tensor { return leakyReluBackward(dy, this.need(this.x, 'backward'), this.slope); }
  jvp(xdot: Tensor): Tensor { return leakyReluBackward(this.keepXdot(xdot), this.need(this.x, 'jvp'), this.slope); }
  backwardData(dy: Tensor): Tensor { return leakyReluBackward(dy, this.need(this.x, 'backwardData'), this.slope); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    const x = this.need(this.x, 'pairBackward');
    this.needXdot();
    return {
      xbar: ybar && wants(need, 'xbar') ? leakyReluBackward(ybar, x, this.slope) : null,
      xdotbar: wants(need, 'xdotbar') ? leakyReluBackward(ydotbar, x, this.slope) : null,
    };
  }
  /**
   * Takes y = leakyRelu(x) computed by a fused conv epilogue (Sequential on the GPU) as the cache in place of x,
   * which was never materialised. Exact for slope >= 0: every reader of the cache (backward, jvp, backwardData and
   * pairBackward) is leakyReluBackward, which only tests `x > 0`, and y > 0 ⇔ x > 0.
   */
  adoptOutput(y: Tensor): void {
    if (!(this.slope >= 0)) throw new Error(`${this.kind}.adoptOutput: slope ${this.slope} < 0 changes signs; run forward instead`);
    this.x = y;
  }
  describe(): string { return `LeakyReLU(${this.slope})`; }
  release(): void { this.x = null; }
}

/** LeakyReLU with slope 0. */
export class ReLU extends LeakyReLU {
  readonly kind: string = 'ReLU';
  constructor() { super(0); }
  describe(): string { return 'ReLU'; }
}

/** An activation whose derivatives are functions of its output y (cached, borrowed): tanh and sigmoid. */
abstract class OutputCached extends Elementwise {
  /** Cache (borrowed): the output of the last forward. */
  y: Tensor | null = null;
  protected abstract readonly f: {
    forward(x: Tensor): Tensor;
    backward(dy: Tensor, y: Tensor): Tensor;
    pair(ybar: Tensor | null, ydotbar: Tensor, y: Tensor, xdot: Tensor): PairResult;
  };
  forward(x: Tensor): Tensor {
    this.y = this.f.forward(x);
    return this.y;
  }
  backward(dy: Tensor): Tensor { return this.f.backward(dy, this.need(this.y, 'backward')); }
  jvp(xdot: Tensor): Tensor { return this.f.backward(this.keepXdot(xdot), this.need(this.y, 'jvp')); }
  backwardData(dy: Tensor): Tensor { return this.f.backward(dy, this.need(this.y, 'backwardData')); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    return trimPair(this.f.pair(ybar, ydotbar, this.need(this.y, 'pairBackward'), this.needXdot()), need);
  }
  /** Takes y computed by a fused conv epilogue as the cache: exactly what forward caches. */
  adoptOutput(y: Tensor): void { this.y = y; }
  describe(): string { return this.kind; }
  release(): void { this.y = null; }
}

export class Tanh extends OutputCached {
  readonly kind = 'Tanh';
  protected readonly f = { forward: tanh, backward: tanhBackward, pair: tanhPairBackward };
}

export class Sigmoid extends OutputCached {
  readonly kind = 'Sigmoid';
  protected readonly f = { forward: sigmoid, backward: sigmoidBackward, pair: sigmoidPairBackward };
}
