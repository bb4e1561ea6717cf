// Activations and dropout (native/cpu/act.cc). Backward of tanh and sigmoid takes the forward output y.
import { native } from '../native';
import { Tensor } from '../tensor';
import { RngState } from './rng';

export const leakyRelu = (x: Tensor, slope: number): Tensor => new Tensor(native().leakyReluForward(x.h, slope));
export const leakyReluBackward = (dy: Tensor, x: Tensor, slope: number): Tensor =>
  new Tensor(native().leakyReluBackward(dy.h, x.h, slope));
export const relu = (x: Tensor): Tensor => leakyRelu(x, 0);
export const reluBackward = (dy: Tensor, x: Tensor): Tensor => leakyReluBackward(dy, x, 0);
export const tanh = (x: Tensor): Tensor => new Tensor(native().tanhForward(x.h));
export const tanhBackward = (dy: Tensor, y: Tensor): Tensor => new Tensor(native().tanhBackward(dy.h, y.h));
export const sigmoid = (x: Tensor): Tensor => new Tensor(native().sigmoidForward(x.h));
export const sigmoidBackward = (dy: Tensor, y: Tensor): Tensor => new Tensor(native().sigmoidBackward(dy.h, y.h));

/** Inverted dropout: keep element i iff uniform_i >= p; mask = keep / (1 - p); y = x * mask. Backward: dy * mask. */
export function dropout(x: Tensor, p: number, rng: RngState): { y: Tensor; mask: Tensor } {
  const [y, mask] = native().dropoutForward(x.h, p, rng.seed, rng.stream, rng.offset);
  return { y: new Tensor(y), mask: new Tensor(mask) };
}

// The registry names (native/core/ops.def: leaky_relu_forward → leakyReluForward …) of the wrappers above.
export const leakyReluForward = leakyRelu;
export const tanhForward = tanh;
export const sigmoidForward = sigmoid;
export const dropoutForward = dropout;
