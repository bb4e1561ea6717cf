// Inference pooling and channel concat (native/cpu/pool.cc). Padded cells are not part of a window: max over the
// in-bounds cells; the average divides by their count (TensorFlow 'same' avg_pool). Pads must be smaller than
// the window.
import { native } from '../native';
import { Tensor } from '../tensor';
import { Padding, Pair, pads, pair } from './conv';

export interface PoolOpts { stride?: Pair; padding?: Padding }

/** Max over k×k (or [kh, kw]) windows; stride defaults to the window (Keras). */
export const maxPool2dForward = (x: Tensor, kernel: Pair, o: PoolOpts = {}): Tensor => {
  const k = pair(kernel, 1);
  return new Tensor(native().maxPool2dForward(x.h, k, o.stride === undefined ? k : pair(o.stride, 1), pads(o.padding)));
};
/** Average over the in-bounds cells of each window; stride defaults to the window. */
export const avgPool2dForward = (x: Tensor, kernel: Pair, o: PoolOpts = {}): Tensor => {
  const k = pair(kernel, 1);
  return new Tensor(native().avgPool2dForward(x.h, k, o.stride === undefined ? k : pair(o.stride, 1), pads(o.padding)));
};
/** [n, c, h, w] → [n, c]: the mean of each plane (float64 sum). */
export const globalAvgPool = (x: Tensor): Tensor => new Tensor(native().globalAvgPool(x.h));
/** [n, ci, h, w]… → [n, Σci, h, w], in the order given. */
export const concatChannels = (xs: readonly Tensor[]): Tensor => new Tensor(native().concatChannels(xs.map((t) => t.h)));
