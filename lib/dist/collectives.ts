// Typed collectives over lists of tensors. All are in place and must be called in the same order on every rank.
// In a world of 1 (transport 'none') they do nothing (the mean or sum of one value is itself).
import { native } from '../engine/native';
import { Tensor } from '../engine';
import { world } from './world';

const handles = (ts: readonly Tensor[]) => { world(); return ts.map((t) => t.h); };

/** Every tensor becomes the element-wise mean over ranks. */
export function allReduceMean(ts: readonly Tensor[]): void { native().distAllReduceMean(handles(ts)); }
/** Every tensor becomes the element-wise sum over ranks. */
export function allReduceSum(ts: readonly Tensor[]): void { native().distAllReduceSum(handles(ts)); }
/** Every tensor takes root's values. */
export function broadcast(ts: readonly Tensor[], root = 0): void { native().distBroadcast(handles(ts), root); }
export function barrier(): void { world(); native().distBarrier(); }

/** Reduces small float64 arrays (BatchNorm statistics, checksums) in place and returns the same array. */
export function allReduceScalars(x: Float64Array, op: 'sum' | 'max' | 'min' = 'sum'): Float64Array {
  world();
  return native().distAllReduceScalars(x, op);
}

/** A started all-reduce; wait() completes it. The tensors must stay alive and untouched until then. */
export interface Pending { readonly handle: number; wait(): void }

/** Starts an all-reduce of the list (MPI on the communication thread, or NCCL on the side stream) and returns. */
export function startAllReduce(ts: readonly Tensor[], op: 'mean' | 'sum' = 'mean'): Pending {
  const handle: number = native().distStartAllReduce(handles(ts), op);
  let done = false;
  return {
    handle,
    wait() {
      if (done) return;
      done = true;
      native().distWait(handle);
    },
  };
}

/** Collectives started and not yet waited (tests: should be 0 after a step). */
export function pendingCollectives(): number { return native().distPending(); }
