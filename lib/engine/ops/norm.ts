// BatchNorm over channels of [n, c, h, w] or features of [n, c] (native/cpu/norm.cc), PyTorch semantics.
import { native } from '../native';
import { Tensor } from '../tensor';

/** Training mode: normalises with batch statistics and updates runMean/runVar in place. */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, runMean: Tensor, runVar: Tensor, momentum: number, eps: number):
  { y: Tensor; mean: Tensor; invstd: Tensor } {
  const [y, mean, invstd] = native().batchNormForwardTrain(x.h, gamma.h, beta.h, runMean.h, runVar.h, momentum, eps);
  return { y: new Tensor(y), mean: new Tensor(mean), invstd: new Tensor(invstd) };
}
export const batchNormEval = (x: Tensor, gamma: Tensor, beta: Tensor, runMean: Tensor, runVar: Tensor, eps: number): Tensor =>
  new Tensor(native().batchNormForwardEval(x.h, gamma.h, beta.h, runMean.h, runVar.h, eps));
/** Training-mode backward: returns dx; dgamma and dbeta accumulate. */
export const batchNormBackward = (dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, invstd: Tensor, dgamma: Tensor, dbeta: Tensor): Tensor =>
  new Tensor(native().batchNormBackward(dy.h, x.h, gamma.h, mean.h, invstd.h, dgamma.h, dbeta.h));

// The registry names (native/core/ops.def: batch_norm_forward_train → batchNormForwardTrain) of the wrappers above.
export const batchNormForwardTrain = batchNormTrain;
export const batchNormForwardEval = batchNormEval;
