// Adam over all parameters in one native call (native/cpu/adam.cc); PyTorch torch.optim.Adam semantics.
import { native } from '../native';
import { Tensor } from '../tensor';

export interface AdamHyper { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }

export const adamStep = (params: Tensor[], grads: Tensor[], m: Tensor[], v: Tensor[], h: AdamHyper): void =>
  native().adamStep(params.map((t) => t.h), grads.map((t) => t.h), m.map((t) => t.h), v.map((t) => t.h),
    h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.step);
