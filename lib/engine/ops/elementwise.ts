// Elementwise ops, reductions and bias add/grad (native/cpu/elementwise.cc).
import { native } from '../native';
import { Tensor } from '../tensor';

export const add = (a: Tensor, b: Tensor): Tensor => new Tensor(native().add(a.h, b.h));
export const mul = (a: Tensor, b: Tensor): Tensor => new Tensor(native().mul(a.h, b.h));
export const scale = (x: Tensor, alpha: number): Tensor => new Tensor(native().scale(x.h, alpha));
/** y += alpha * x, in place. */
export const axpy = (alpha: number, x: Tensor, y: Tensor): void => native().axpy(alpha, x.h, y.h);
/** Every element of t set to v, in place. */
export const fill = (t: Tensor, v: number): void => native().fill(t.h, v);
/** b + t[i]·(a − b) row by row (rows = first axis; t holds one factor per row), e.g. WGAN-GP's interpolates. */
export const lerpRows = (a: Tensor, b: Tensor, t: Tensor): Tensor => new Tensor(native().lerpRows(a.h, b.h, t.h));
/** Sum of all elements, accumulated in float64. */
export const sum = (x: Tensor): number => native().sum(x.h);
export const mean = (x: Tensor): number => native().sum(x.h) / x.numel;
/** Index of the first tensor holding a NaN or ±Inf, or −1: one pass over all of them (one GPU sync). */
export const firstNonFinite = (ts: readonly Tensor[]): number => native().firstNonFinite(ts.map((t) => t.h));
/** y[n, c, ...] += b[c], in place (y is [n, c] or [n, c, h, w]). */
export const biasAdd = (y: Tensor, b: Tensor): void => native().biasAdd(y.h, b.h);
/** db[c] += Σ over n and space of dy[n, c, ...]. */
export const biasGrad = (dy: Tensor, db: Tensor): void => native().biasGrad(dy.h, db.h);

// ---- device scalars: results stay on the tensor's device (no host sync); read many at once with gatherScalars ----
/** Σx as a [1] tensor on x's device (float64 accumulation, rounded once). */
export const sumTo = (x: Tensor): Tensor => new Tensor(native().sumTo(x.h));
/** mean(x) as a [1] tensor on x's device (float64 accumulation, rounded once); x must not be empty. */
export const meanTo = (x: Tensor): Tensor => new Tensor(native().meanTo(x.h));
/**
 * The values of 1-element tensors (all on one device) gathered into one [count] tensor on that device, so the host
 * reads an iteration's scalars with a single copy: gatherScalars([lossD, lossG, gp]).toArray().
 */
export const gatherScalars = (scalars: readonly Tensor[]): Tensor =>
  new Tensor(native().gatherScalars(scalars.map((t) => t.h)));
