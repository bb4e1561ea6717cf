// Conv2d (weight OIHW) and ConvTranspose2d (weight IOHW) with PyTorch semantics. Conv-transpose is the
// backward-data of conv in the engine (docs/design.md §3), so both layers are thin wrappers over the engine ops.
import {
  Tensor, Shape, Device, Pair, Padding, pair, pads, samePadding, convOutSize, biasGrad,
  conv2dForward, conv2dBackwardData, conv2dBackwardWeight,
  convTranspose2dForward, convTranspose2dBackwardData, convTranspose2dBackwardWeight,
} from '../engine';
import { Activation, conv2dForwardAct, convTranspose2dForwardAct } from '../engine/cuda';
import { LayerBase, Param, PairNeeds, PairResult, expectRank, linearPairBackward } from './layer';

export interface Conv2dOptions {
  stride?: Pair;
  /** Symmetric number / [ph, pw], explicit [top, bottom, left, right], or TF/Keras 'same' (resolved per input size). */
  padding?: Padding | 'same';
  bias?: boolean;
  device?: Device;
}

const padStr = (p: [number, number, number, number]): string =>
  p[0] === p[1] && p[1] === p[2] && p[2] === p[3] ? `p${p[0]}` : `p[${p.join(',')}]`;

export class Conv2d extends LayerBase {
  readonly kind = 'Conv2d';
  readonly weight: Param;
  readonly bias: Param | null;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: Padding | 'same';
  /** Cache (borrowed): the input of the last forward, and the padding resolved for it. */
  x: Tensor | null = null;
  pad: [number, number, number, number] = [0, 0, 0, 0];

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, o: Conv2dOptions = {}) {
    super();
    const dev = o.device ?? 'cpu';
    this.kernel = pair(kernel, 1);
    this.stride = pair(o.stride, 1);
    this.padding = o.padding ?? 0;
    this.weight = this.addParam('weight', [outChannels, inChannels, ...this.kernel], 'weight', 0, dev);
    this.bias = o.bias === false ? null : this.addParam('bias', [outChannels], 'bias', 0, dev);
  }

  /** [top, bottom, left, right] for an input of h×w. */
  padsFor(h: number, w: number): [number, number, number, number] {
    if (this.padding !== 'same') return pads(this.padding);
    const [t, b] = samePadding(h, this.kernel[0], this.stride[0]);
    const [l, r] = samePadding(w, this.kernel[1], this.stride[1]);
    return [t, b, l, r];
  }
  /** The engine options for the cached forward. */
  opts(): { stride: [number, number]; padding: [number, number, number, number] } {
    return { stride: this.stride, padding: this.pad };
  }

  forward(x: Tensor): Tensor {
    this.cache(x);
    return conv2dForward(x, this.weight.value, this.bias ? this.bias.value : null, this.opts());
  }
  /** act(forward(x)) in one kernel (the GPU's fused epilogue; Sequential uses it, see sequential.ts). Same cache as
   *  forward: backward needs only x and the padding, never the pre-activation output. */
  forwardAct(x: Tensor, act: Activation, slope = 0): Tensor {
    this.cache(x);
    return conv2dForwardAct(x, this.weight.value, this.bias ? this.bias.value : null, act, this.opts(), slope);
  }
  private cache(x: Tensor): void {
    this.outputShape(x.shape);
    this.x = x;
    this.pad = this.padsFor(x.shape[2], x.shape[3]);
  }

  backward(dy: Tensor): Tensor {
    const x = this.need(this.x, 'backward');
    this.paramGrads(dy, x);
    return conv2dBackwardData(dy, this.weight.value, x.shape, this.opts());
  }
  backwardParams(dy: Tensor): void { this.paramGrads(dy, this.need(this.x, 'backwardParams')); }
  private paramGrads(dy: Tensor, x: Tensor): void {
    conv2dBackwardWeight(dy, x, this.weight.grad, this.opts());
    if (this.bias) biasGrad(dy, this.bias.grad);
  }

  // Linear in x: ẏ = W ẋ; W̄ += ȳ xᵀ + ẏ̄ ẋᵀ; b̄ += ȳ (docs/design.md §5).
  jvp(xdot: Tensor): Tensor {
    this.need(this.x, 'jvp');
    return conv2dForward(this.keepXdot(xdot), this.weight.value, null, this.opts());
  }
  backwardData(dy: Tensor): Tensor {
    return conv2dBackwardData(dy, this.weight.value, this.need(this.x, 'backwardData').shape, this.opts());
  }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    const x = this.need(this.x, 'pairBackward'), o = this.opts();
    return linearPairBackward(this.weight, this.bias, x, this.needXdot(), ybar, ydotbar, need, {
      wgrad: (dy, xx, dw) => conv2dBackwardWeight(dy, xx, dw, o),
      dgrad: (dy) => conv2dBackwardData(dy, this.weight.value, x.shape, o),
    });
  }

  outputShape(s: Shape): number[] {
    expectRank(this.kind, s, 4);
    if (s[1] !== this.inChannels) throw new Error(`Conv2d: input has ${s[1]} channels, layer expects ${this.inChannels}`);
    const p = this.padsFor(s[2], s[3]);
    const h = convOutSize(s[2], this.kernel[0], this.stride[0], p[0], p[1]);
    const w = convOutSize(s[3], this.kernel[1], this.stride[1], p[2], p[3]);
    if (h < 1 || w < 1) throw new Error(`Conv2d: input ${s[2]}×${s[3]} is too small for kernel ${this.kernel.join('×')}`);
    return [s[0], this.outChannels, h, w];
  }
  describe(): string {
    const k = this.kernel[0] === this.kernel[1] ? `${this.kernel[0]}` : this.kernel.join('×');
    const p = this.padding === 'same' ? 'same' : padStr(pads(this.padding));
    return `Conv2d(${this.inChannels}→${this.outChannels}, k${k} s${this.stride.join('×').replace(/^(\d+)×\1$/, '$1')} ${p}${this.bias ? '' : ', no bias'})`;
  }
  release(): void { this.x = null; }
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  /** Symmetric number / [ph, pw] or explicit [top, bottom, left, right] cropped from the full output. */
  padding?: Padding;
  outputPadding?: Pair;
  bias?: boolean;
  device?: Device;
}

export class ConvTranspose2d extends LayerBase {
  readonly kind = 'ConvTranspose2d';
  readonly weight: Param;
  readonly bias: Param | null;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly pad: [number, number, number, number];
  readonly outputPadding: [number, number];
  /** Cache (borrowed): the input of the last forward. */
  x: Tensor | null = null;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, o: ConvTranspose2dOptions = {}) {
    super();
    const dev = o.device ?? 'cpu';
    this.kernel = pair(kernel, 1);
    this.stride = pair(o.stride, 1);
    this.pad = pads(o.padding);
    this.outputPadding = pair(o.outputPadding, 0);
    if (this.outputPadding[0] >= this.stride[0] || this.outputPadding[1] >= this.stride[1])
      throw new Error(`ConvTranspose2d: outputPadding [${this.outputPadding}] must be smaller than stride [${this.stride}]`);
    this.weight = this.addParam('weight', [inChannels, outChannels, ...this.kernel], 'weight', 0, dev);
    this.bias = o.bias === false ? null : this.addParam('bias', [outChannels], 'bias', 0, dev);
  }

  opts(): { stride: [number, number]; padding: [number, number, number, number]; outputPadding: [number, number] } {
    return { stride: this.stride, padding: this.pad, outputPadding: this.outputPadding };
  }

  forward(x: Tensor): Tensor {
    this.outputShape(x.shape);
    this.x = x;
    return convTranspose2dForward(x, this.weight.value, this.bias ? this.bias.value : null, this.opts());
  }
  /** act(forward(x)) in one kernel, like Conv2d.forwardAct. */
  forwardAct(x: Tensor, act: Activation, slope = 0): Tensor {
    this.outputShape(x.shape);
    this.x = x;
    return convTranspose2dForwardAct(x, this.weight.value, this.bias ? this.bias.value : null, act, this.opts(), slope);
  }

  backward(dy: Tensor): Tensor {
    this.paramGrads(dy, this.need(this.x, 'backward'));
    return convTranspose2dBackwardData(dy, this.weight.value, this.opts());
  }
  backwardParams(dy: Tensor): void { this.paramGrads(dy, this.need(this.x, 'backwardParams')); }
  private paramGrads(dy: Tensor, x: Tensor): void {
    convTranspose2dBackwardWeight(dy, x, this.weight.grad, this.opts());
    if (this.bias) biasGrad(dy, this.bias.grad);
  }

  // Linear in x, as Conv2d.
  jvp(xdot: Tensor): Tensor {
    this.need(this.x, 'jvp');
    return convTranspose2dForward(this.keepXdot(xdot), this.weight.value, null, this.opts());
  }
  backwardData(dy: Tensor): Tensor {
    this.need(this.x, 'backwardData');
    return convTranspose2dBackwardData(dy, this.weight.value, this.opts());
  }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    const x = this.need(this.x, 'pairBackward'), o = this.opts();
    return linearPairBackward(this.weight, this.bias, x, this.needXdot(), ybar, ydotbar, need, {
      wgrad: (dy, xx, dw) => convTranspose2dBackwardWeight(dy, xx, dw, o),
      dgrad: (dy) => convTranspose2dBackwardData(dy, this.weight.value, o),
    });
  }

  outputShape(s: Shape): number[] {
    expectRank(this.kind, s, 4);
    if (s[1] !== this.inChannels) throw new Error(`ConvTranspose2d: input has ${s[1]} channels, layer expects ${this.inChannels}`);
    const [t, b, l, r] = this.pad;
    const h = (s[2] - 1) * this.stride[0] - t - b + this.kernel[0] + this.outputPadding[0];
    const w = (s[3] - 1) * this.stride[1] - l - r + this.kernel[1] + this.outputPadding[1];
    if (h < 1 || w < 1) throw new Error(`ConvTranspose2d: padding [${this.pad}] crops the whole output of a ${s[2]}×${s[3]} input`);
    return [s[0], this.outChannels, h, w];
  }
  describe(): string {
    const k = this.kernel[0] === this.kernel[1] ? `${this.kernel[0]}` : this.kernel.join('×');
    const op = this.outputPadding[0] || this.outputPadding[1] ? ` op${this.outputPadding.join('×')}` : '';
    return `ConvTranspose2d(${this.inChannels}→${this.outChannels}, k${k} s${this.stride.join('×').replace(/^(\d+)×\1$/, '$1')} ${padStr(this.pad)}${op}${this.bias ? '' : ', no bias'})`;
  }
  release(): void { this.x = null; }
}
