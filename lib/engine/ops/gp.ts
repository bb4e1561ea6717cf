// Gradient-penalty helpers (native/cpu/gp.cc, docs/design.md §5).
import { native } from '../native';
import { Tensor } from '../tensor';

/** g [n, ...] = ∇x D per sample → GP = λ mean (‖g_i‖ − 1)², v_i = 2λ(‖g_i‖ − 1) g_i / (n‖g_i‖), norms [n]. */
export function gpNormV(g: Tensor, lambda: number): { gp: number; v: Tensor; norms: Tensor } {
  const [gp, v, norms] = native().gpNormV(g.h, lambda);
  return { gp, v: new Tensor(v), norms: new Tensor(norms) };
}

/** gpNormV with GP as a [1] tensor on g's device (no host sync; see gatherScalars). */
export function gpNormVTo(g: Tensor, lambda: number): { gp: Tensor; v: Tensor; norms: Tensor } {
  const [gp, v, norms] = native().gpNormVTo(g.h, lambda);
  return { gp: new Tensor(gp), v: new Tensor(v), norms: new Tensor(norms) };
}
