// Dense (PyTorch Linear: x [n, in], w [out, in]) and a general row-major GEMM (native/cpu/dense.cc, gemm.cc).
import { native } from '../native';
import { Tensor } from '../tensor';

export const denseForward = (x: Tensor, w: Tensor, b: Tensor | null): Tensor =>
  new Tensor(native().denseForward(x.h, w.h, b ? b.h : null));
export const denseBackwardData = (dy: Tensor, w: Tensor): Tensor => new Tensor(native().denseBackwardData(dy.h, w.h));
/** dw += dyᵀ x. */
export const denseBackwardWeight = (dy: Tensor, x: Tensor, dw: Tensor): void => native().denseBackwardWeight(dy.h, x.h, dw.h);

export interface GemmOpts {
  transA?: boolean;
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** Default 0; used only with c. */
  beta?: number;
  /** Accumulate into this [m, n] tensor (updated in place and returned); default a new tensor. */
  c?: Tensor;
}
/** alpha · op(a) · op(b) + beta · c for 2-D row-major tensors, op = transpose when asked. */
export function gemm(a: Tensor, b: Tensor, o: GemmOpts = {}): Tensor {
  const r = native().gemm(a.h, b.h, o.transA ?? false, o.transB ?? false, o.alpha ?? 1, o.beta ?? 0, o.c ? o.c.h : null);
  return o.c ?? new Tensor(r);
}
/** op(a) · op(b) for 2-D tensors, op = transpose when asked. */
export const matmul = (a: Tensor, b: Tensor, transA = false, transB = false): Tensor => gemm(a, b, { transA, transB });
