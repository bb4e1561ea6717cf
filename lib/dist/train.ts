// Data-parallel training wired together: the trainer's update seam (lib/train/step.ts) reduces gradients through
// GradBuckets, SyncBatchNorm and the records sum small arrays with allReduceScalars, and rank 0's initial (or
// resumed) parameters, buffers and Adam moments are broadcast and checksummed before the first step.
import { Tensor, Device } from '../engine';
import { Param, Sequential } from '../nn';
import { GradSync } from '../train/step';
import type { Parallel, Trainer } from '../train/run';
import { GradBuckets, BucketOptions, BucketStats } from './buckets';
import { allReduceMean, allReduceScalars } from './collectives';
import { broadcastParams } from './params';
import { World } from './world';

/** The update seam's hook: each model's grads in ~25 MB buckets started as layers finish, the loss averaged. */
export class BucketSync implements GradSync {
  private readonly models: Record<'G' | 'D', { buckets: GradBuckets<Param>; byGrad: Map<Tensor, Param> }>;
  /** Per model, the last update's bucket count and how many started before finish (overlapped with backward). */
  readonly stats: Partial<Record<'G' | 'D', BucketStats>> = {};

  constructor(G: Sequential, D: Sequential, o: BucketOptions = {}) {
    const entry = (m: Sequential) => {
      const ps = m.params();
      return { buckets: new GradBuckets(ps, o), byGrad: new Map(ps.map((p) => [p.grad, p])) };
    };
    this.models = { G: entry(G), D: entry(D) };
  }

  ready(which: 'G' | 'D', params: Param[]): void {
    const e = this.models[which];
    for (const p of params) {
      const q = e.byGrad.get(p.grad);
      if (!q) throw new Error(`BucketSync: ${which} has no parameter ${p.name} (was the model rebuilt?)`);
      e.buckets.markReady(q);
    }
  }

  finish(which: 'G' | 'D', _params: Param[], loss: Tensor): void {
    const enter = now();
    this.stats[which] = this.models[which].buckets.finish();
    allReduceMean([loss]);
    if (syncLog) syncLog.push({ which, enterMs: enter, exitMs: now(), ...this.stats[which]! });
  }
}

/** One finish() of BucketSync, for bench/scaling.ts: when it was entered and left (ms, this process's monotonic clock). */
export interface SyncTiming extends BucketStats { which: 'G' | 'D'; enterMs: number; exitMs: number }
// Off unless asked: time inside finish() is the communication backward did not hide, plus waiting for the slower
// rank (on a CPU the reduction is synchronous there; on a GPU it would also include queued kernels).
let syncLog: SyncTiming[] | null = null;
const now = () => Number(process.hrtime.bigint()) / 1e6;
/** Starts recording every BucketSync.finish() of this process (clearing what was recorded); returns the live log. */
export function recordSyncTimings(): SyncTiming[] { return (syncLog = []); }

/**
 * The Trainer's `parallel` option for this process, or undefined in a world of 1 (except a 1-rank NCCL world,
 * MRIGAN_NCCL_SELF=1, which runs the whole reduction path on one GPU).
 */
export function parallelOptions(w: World, models: () => { G: Sequential; D: Sequential }, o: BucketOptions = {}): Parallel | undefined {
  if (w.size === 1 && w.transport !== 'nccl') return undefined;
  let sync: BucketSync | undefined;
  const buckets = (): BucketSync => (sync ??= new BucketSync(models().G, models().D, o));
  return {
    rank: w.rank,
    size: w.size,
    // the models exist only once the Trainer is built: make the buckets on first use
    sync: {
      ready: (which, ps) => buckets().ready(which, ps),
      finish: (which, ps, loss) => buckets().finish(which, ps, loss),
    },
    sumScalars: (v) => { allReduceScalars(v, 'sum'); },
  };
}

/** Rank 0's parameters, buffers and Adam moments to every rank, checksummed; returns the checksums. */
export function broadcastTrainer(t: Trainer): { G: number; D: number } {
  const all = (m: Sequential, o: Trainer['optG']): Tensor[] =>
    [...m.params().map((p) => p.value), ...m.buffers().map((b) => b.value), ...o.m, ...o.v];
  return { G: broadcastParams(all(t.G, t.optG)), D: broadcastParams(all(t.D, t.optD)) };
}

/** The device a rank trains on: the launcher's choice (cuda:localRank when GPUs are used) in a world of N. */
export function rankDevice(w: World, asked: Device): Device {
  return w.size > 1 ? w.device : asked;
}
