// Elementwise activations. LeakyReLU/ReLU cache their input x; Tanh/Sigmoid cache their output y (their
// derivatives are functions of y: 1 − y², y(1 − y)). Both caches are borrowed (see layer.ts).
import { Tensor, Shape, leakyRelu, leakyReluBackward, tanh, tanhBackward, sigmoid, sigmoidBackward } from '../engine';
import { LayerBase } from './layer';

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
  /**
   * Takes y = leakyRelu(x) computed by a fused conv epilogue (Sequential on the GPU) as the cache in place of x,
   * which was never materialised. Exact for slope >= 0: every reader of the cache (backward here, jvp, backwardData
   * and pairBackward in lib/train/tangent.ts) is leakyReluBackward, which only tests `x > 0`, and y > 0 ⇔ x > 0.
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

export class Tanh extends Elementwise {
  readonly kind = 'Tanh';
  /** Cache (borrowed): the output of the last forward. */
  y: Tensor | null = null;
  forward(x: Tensor): Tensor {
    this.y = tanh(x);
    return this.y;
  }
  backward(dy: Tensor): Tensor { return tanhBackward(dy, this.need(this.y, 'backward')); }
  /** Takes y = tanh(x) computed by a fused conv epilogue as the cache: exactly what forward caches. */
  adoptOutput(y: Tensor): void { this.y = y; }
  describe(): string { return 'Tanh'; }
  release(): void { this.y = null; }
}

export class Sigmoid extends Elementwise {
  readonly kind = 'Sigmoid';
  /** Cache (borrowed): the output of the last forward. */
  y: Tensor | null = null;
  forward(x: Tensor): Tensor {
    this.y = sigmoid(x);
    return this.y;
  }
  backward(dy: Tensor): Tensor { return sigmoidBackward(dy, this.need(this.y, 'backward')); }
  /** Takes y = sigmoid(x) computed by a fused conv epilogue as the cache: exactly what forward caches. */
  adoptOutput(y: Tensor): void { this.y = y; }
  describe(): string { return 'Sigmoid'; }
  release(): void { this.y = null; }
}
