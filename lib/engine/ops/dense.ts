// Dense (PyTorch Linear: x [n, in], w [out, in]) and a general row-major matmul (native/cpu/dense.cc).
import { native } from '../native';
import { Tensor } from '../tensor';

export const denseForward = (x: Tensor, w: Tensor, b: Tensor | null): Tensor =>
  new Tensor(native().denseForward(x.h, w.h, b ? b.h : null));
export const denseBackwardData = (dy: Tensor, w: Tensor): Tensor => new Tensor(native().denseBackwardData(dy.h, w.h));
/** dw += dyᵀ x. */
export const denseBackwardWeight = (dy: Tensor, x: Tensor, dw: Tensor): void => native().denseBackwardWeight(dy.h, x.h, dw.h);
/** op(a) · op(b) for 2-D tensors, op = transpose when asked. */
export const matmul = (a: Tensor, b: Tensor, transA = false, transB = false): Tensor =>
  new Tensor(native().matmul(a.h, b.h, transA, transB));
