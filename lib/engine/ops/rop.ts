// Second-order passes for the exact gradient penalty (native/cpu/rop.cc, docs/design.md §5).
// Tangent forwards of LeakyReLU/tanh/sigmoid are their backward ops applied to ẋ (ẏ = σ′(x)ẋ); Dropout, Conv and
// Dense are linear. The kernels here cover what is left: σ″ terms and BatchNorm through the batch statistics.
import { native } from '../native';
import { Tensor } from '../tensor';

export interface PairAdjoints { xbar: Tensor; xdotbar: Tensor }

/** y = tanh(x), ẏ = (1 − y²)ẋ: xbar = σ′ȳ + σ″ẋẏ̄, xdotbar = σ′ẏ̄ (from the output y). ybar null = 0. */
export function tanhPairBackward(ybar: Tensor | null, ydotbar: Tensor, y: Tensor, xdot: Tensor): PairAdjoints {
  const [xb, xdb] = native().tanhPairBackward(ybar ? ybar.h : null, ydotbar.h, y.h, xdot.h);
  return { xbar: new Tensor(xb), xdotbar: new Tensor(xdb) };
}

/** y = sigmoid(x), ẏ = y(1 − y)ẋ: as tanhPairBackward with σ′ = y(1 − y), σ″ = σ′(1 − 2y). ybar null = 0. */
export function sigmoidPairBackward(ybar: Tensor | null, ydotbar: Tensor, y: Tensor, xdot: Tensor): PairAdjoints {
  const [xb, xdb] = native().sigmoidPairBackward(ybar ? ybar.h : null, ydotbar.h, y.h, xdot.h);
  return { xbar: new Tensor(xb), xdotbar: new Tensor(xdb) };
}

/** BatchNorm (training mode) tangent: ẏ = γ·r·(ẋ − mean ẋ − x̂·mean(x̂ẋ)) per channel; mean/invstd from batchNormTrain. */
export const batchNormJvp = (xdot: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, invstd: Tensor): Tensor =>
  new Tensor(native().batchNormJvp(xdot.h, x.h, gamma.h, mean.h, invstd.h));

/** BatchNorm (training mode) pair-backward: adjoints of x and ẋ; dgamma and dbeta accumulate. ybar null = 0. */
export function batchNormPairBackward(ybar: Tensor | null, ydotbar: Tensor, x: Tensor, xdot: Tensor, gamma: Tensor,
  mean: Tensor, invstd: Tensor, dgamma: Tensor, dbeta: Tensor): PairAdjoints {
  const [xb, xdb] = native().batchNormPairBackward(ybar ? ybar.h : null, ydotbar.h, x.h, xdot.h, gamma.h, mean.h,
    invstd.h, dgamma.h, dbeta.h);
  return { xbar: new Tensor(xb), xdotbar: new Tensor(xdb) };
}
