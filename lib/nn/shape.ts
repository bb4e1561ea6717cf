// Flatten ([n, ...] → [n, prod]) and Reshape ([n, ...] → [n, ...shape]): views, no copy. They cache the input shape.
import { Tensor, Shape } from '../engine';
import { LayerBase, perSample } from './layer';

export class Flatten extends LayerBase {
  readonly kind = 'Flatten';
  /** Cache: the input shape of the last forward. */
  inShape: number[] | null = null;
  forward(x: Tensor): Tensor {
    this.inShape = x.shape;
    return x.reshape(this.outputShape(x.shape));
  }
  backward(dy: Tensor): Tensor { return dy.reshape(this.need(this.inShape, 'backward')); }
  outputShape(s: Shape): number[] {
    if (s.length < 1) throw new Error('Flatten: input must have a batch dimension');
    return [s[0], perSample(s)];
  }
  describe(): string { return 'Flatten'; }
  release(): void { this.inShape = null; }
}

export class Reshape extends LayerBase {
  readonly kind = 'Reshape';
  readonly shape: number[];
  inShape: number[] | null = null;
  /** shape: the per-sample output shape (without the batch dim), e.g. [1024, 4, 4]. */
  constructor(shape: Shape) {
    super();
    this.shape = [...shape];
  }
  forward(x: Tensor): Tensor {
    this.inShape = x.shape;
    return x.reshape(this.outputShape(x.shape));
  }
  backward(dy: Tensor): Tensor { return dy.reshape(this.need(this.inShape, 'backward')); }
  outputShape(s: Shape): number[] {
    const want = this.shape.reduce((a, b) => a * b, 1);
    if (s.length < 1 || perSample(s) !== want)
      throw new Error(`Reshape: input [${s}] has ${perSample(s)} values per sample, target [${this.shape}] needs ${want}`);
    return [s[0], ...this.shape];
  }
  describe(): string { return `Reshape(${this.shape.join('×')})`; }
  release(): void { this.inShape = null; }
}
