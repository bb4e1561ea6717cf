// Conv2d and ConvTranspose2d with PyTorch semantics (native/cpu/conv.cc, conv_transpose.cc), and the fused
// conv + bias + activation forwards (native/cpu/conv_act.cc; one output write on the GPU).
// Conv weight OIHW [out, in, kh, kw]; conv-transpose weight IOHW [in, out, kh, kw].
import { native } from '../native';
import { Shape, Tensor } from '../tensor';

export type Pair = number | readonly [number, number];
/** Symmetric [ph, pw] (or one number), or explicit [top, bottom, left, right] (TF 'same' may be asymmetric). */
export type Padding = number | readonly [number, number] | readonly [number, number, number, number];

export interface ConvOpts { stride?: Pair; padding?: Padding }
export interface ConvTransposeOpts extends ConvOpts { outputPadding?: Pair }

export const pair = (p: Pair | undefined, d: number): [number, number] =>
  p === undefined ? [d, d] : typeof p === 'number' ? [p, p] : [p[0], p[1]];

/** [top, bottom, left, right]. */
export function pads(p: Padding | undefined): [number, number, number, number] {
  if (p === undefined) return [0, 0, 0, 0];
  if (typeof p === 'number') return [p, p, p, p];
  if (p.length === 2) return [p[0], p[0], p[1], p[1]];
  return [p[0], p[1], p[2], p[3]];
}

/** TensorFlow/Keras 'same' padding along one axis: [before, after] so that out = ceil(in / stride). */
export function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Output size of a conv along one axis. */
export const convOutSize = (size: number, k: number, stride: number, before: number, after: number): number =>
  Math.floor((size + before + after - k) / stride) + 1;

export const conv2dForward = (x: Tensor, w: Tensor, b: Tensor | null, o: ConvOpts = {}): Tensor =>
  new Tensor(native().conv2dForward(x.h, w.h, b ? b.h : null, pair(o.stride, 1), pads(o.padding)));
export const conv2dBackwardData = (dy: Tensor, w: Tensor, xShape: Shape, o: ConvOpts = {}): Tensor =>
  new Tensor(native().conv2dBackwardData(dy.h, w.h, [...xShape], pair(o.stride, 1), pads(o.padding)));
/** dw += ∂L/∂w. */
export const conv2dBackwardWeight = (dy: Tensor, x: Tensor, dw: Tensor, o: ConvOpts = {}): void =>
  native().conv2dBackwardWeight(dy.h, x.h, dw.h, pair(o.stride, 1), pads(o.padding));

export const convTranspose2dForward = (x: Tensor, w: Tensor, b: Tensor | null, o: ConvTransposeOpts = {}): Tensor =>
  new Tensor(native().convTranspose2dForward(x.h, w.h, b ? b.h : null, pair(o.stride, 1), pads(o.padding), pair(o.outputPadding, 0)));
export const convTranspose2dBackwardData = (dy: Tensor, w: Tensor, o: ConvOpts = {}): Tensor =>
  new Tensor(native().convTranspose2dBackwardData(dy.h, w.h, pair(o.stride, 1), pads(o.padding)));
/** dw += ∂L/∂w. */
export const convTranspose2dBackwardWeight = (dy: Tensor, x: Tensor, dw: Tensor, o: ConvOpts = {}): void =>
  native().convTranspose2dBackwardWeight(dy.h, x.h, dw.h, pair(o.stride, 1), pads(o.padding));

/** The fused epilogue's activation (ReLU = LeakyReLU with slope 0). */
export type Activation = 'none' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';

/** act(conv2d(x, w) + b). slope is LeakyReLU's negative slope. */
export const conv2dForwardAct = (x: Tensor, w: Tensor, b: Tensor | null, act: Activation, o: ConvOpts = {}, slope = 0.2): Tensor =>
  new Tensor(native().conv2dForwardAct(x.h, w.h, b ? b.h : null, pair(o.stride, 1), pads(o.padding), act, slope));

/** act(convTranspose2d(x, w) + b). */
export const convTranspose2dForwardAct = (x: Tensor, w: Tensor, b: Tensor | null, act: Activation, o: ConvTransposeOpts = {},
  slope = 0.2): Tensor =>
  new Tensor(native().convTranspose2dForwardAct(x.h, w.h, b ? b.h : null, pair(o.stride, 1), pads(o.padding),
    pair(o.outputPadding, 0), act, slope));
