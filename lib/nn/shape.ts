// Flatten ([n, ...] → [n, prod]) and Reshape ([n, ...] → [n, ...shape]): views, no copy. They cache the input shape.
import { Tensor, Shape } from '../engine';
import { LayerBase, PairNeeds, PairResult, perSample, wants } from './layer';

/** Views: ẏ is ẋ reshaped, every adjoint is reshaped back to the input shape. */
abstract class View extends LayerBase {
  /** Cache: the input shape of the last forward. */
  inShape: number[] | null = null;
  forward(x: Tensor): Tensor {
    this.inShape = x.shape;
    return x.reshape(this.outputShape(x.shape));
  }
  backward(dy: Tensor): Tensor { return dy.reshape(this.need(this.inShape, 'backward')); }
  jvp(xdot: Tensor): Tensor { return this.keepXdot(xdot).reshape(this.outputShape(xdot.shape)); }
  backwardData(dy: Tensor): Tensor { return dy.reshape(this.need(this.inShape, 'backwardData')); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    const s = this.need(this.inShape, 'pairBackward');
    this.needXdot();
    return { xbar: ybar && wants(need, 'xbar') ? ybar.reshape(s) : null, xdotbar: wants(need, 'xdotbar') ? ydotbar.reshape(s) : null };
  }
  release(): void { this.inShape = null; }
}

export class Flatten extends View {
  readonly kind = 'Flatten';
  outputShape(s: Shape): number[] {
    if (s.length < 1) throw new Error('Flatten: input must have a batch dimension');
    return [s[0], perSample(s)];
  }
  describe(): string { return 'Flatten'; }
}

export class Reshape extends View {
  readonly kind = 'Reshape';
  readonly shape: number[];
  /** shape: the per-sample output shape (without the batch dim), e.g. [1024, 4, 4]. */
  constructor(shape: Shape) {
    super();
    this.shape = [...shape];
  }
  outputShape(s: Shape): number[] {
    const want = this.shape.reduce((a, b) => a * b, 1);
    if (s.length < 1 || perSample(s) !== want)
      throw new Error(`Reshape: input [${s}] has ${perSample(s)} values per sample, target [${this.shape}] needs ${want}`);
    return [s[0], ...this.shape];
  }
  describe(): string { return `Reshape(${this.shape.join('×')})`; }
}
