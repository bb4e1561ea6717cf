// Dense = PyTorch Linear: y = x wᵀ + b, x [n, in], w [out, in], b [out].
import { Tensor, Shape, Device, denseForward, denseBackwardData, denseBackwardWeight, biasGrad } from '../engine';
import { LayerBase, Param, PairNeeds, PairResult, expectRank, linearPairBackward } from './layer';

export interface DenseOptions { bias?: boolean; device?: Device }

export class Dense extends LayerBase {
  readonly kind = 'Dense';
  readonly weight: Param;
  readonly bias: Param | null;
  /** Cache (borrowed): the input of the last forward. */
  x: Tensor | null = null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, o: DenseOptions = {}) {
    super();
    const dev = o.device ?? 'cpu';
    this.weight = this.addParam('weight', [outFeatures, inFeatures], 'weight', 0, dev);
    this.bias = o.bias === false ? null : this.addParam('bias', [outFeatures], 'bias', 0, dev);
  }

  forward(x: Tensor): Tensor {
    this.outputShape(x.shape);
    this.x = x;
    return denseForward(x, this.weight.value, this.bias ? this.bias.value : null);
  }

  backward(dy: Tensor): Tensor {
    this.paramGrads(dy, this.need(this.x, 'backward'));
    return denseBackwardData(dy, this.weight.value);
  }
  backwardParams(dy: Tensor): void { this.paramGrads(dy, this.need(this.x, 'backwardParams')); }
  private paramGrads(dy: Tensor, x: Tensor): void {
    denseBackwardWeight(dy, x, this.weight.grad);
    if (this.bias) biasGrad(dy, this.bias.grad);
  }

  // Linear in x: ẏ = ẋ Wᵀ; W̄ += ȳᵀx + ẏ̄ᵀẋ; b̄ += ȳ.
  jvp(xdot: Tensor): Tensor {
    this.need(this.x, 'jvp');
    return denseForward(this.keepXdot(xdot), this.weight.value, null);
  }
  backwardData(dy: Tensor): Tensor {
    this.need(this.x, 'backwardData');
    return denseBackwardData(dy, this.weight.value);
  }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    return linearPairBackward(this.weight, this.bias, this.need(this.x, 'pairBackward'), this.needXdot(), ybar, ydotbar, need,
      { wgrad: denseBackwardWeight, dgrad: (dy) => denseBackwardData(dy, this.weight.value) });
  }

  outputShape(s: Shape): number[] {
    expectRank(this.kind, s, 2);
    if (s[1] !== this.inFeatures) throw new Error(`Dense: input has ${s[1]} features, layer expects ${this.inFeatures}`);
    return [s[0], this.outFeatures];
  }
  describe(): string { return `Dense(${this.inFeatures}→${this.outFeatures}${this.bias ? '' : ', no bias'})`; }
  release(): void { this.x = null; }
}
