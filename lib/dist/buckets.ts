// Gradient buckets (torch DDP style): parameters grouped in reverse order into buckets of about `bytes`, each
// bucket's all-reduce started as soon as all its gradients are final, so communication overlaps the rest of backward.
//
// Order: every rank must start the same collectives in the same order, so buckets are started strictly in bucket
// order — a complete bucket waits until every earlier bucket has started. Backward produces gradients from the last
// layer to the first, the order the buckets are made in, so in practice each bucket starts the moment it completes.
// A parameter larger than `bytes` gets a bucket of its own; a bucket closes at the first parameter that takes it
// to `bytes` or beyond.
import { Tensor } from '../engine';
import { Pending, startAllReduce } from './collectives';
import { world } from './world';

/** What a bucket reduces: anything with a gradient tensor (lib/nn's Param fits). */
export interface HasGrad { grad: Tensor }

export interface BucketOptions {
  /** Target bucket size in bytes (default 25 MiB, as torch DDP). */
  bytes?: number;
  /** 'mean' (default: data-parallel gradient average) or 'sum'. */
  op?: 'mean' | 'sum';
}

export interface BucketStats {
  buckets: number;
  /** Buckets started by markReady (before finish()), i.e. overlapped with backward. */
  startedEarly: number;
}

export class GradBuckets<P extends HasGrad = HasGrad> {
  /** Parameter indices (into the constructor's list) of each bucket, in start order. */
  readonly plan: number[][];
  private readonly where = new Map<P, { bucket: number; index: number }>();
  private readonly missing: number[];
  private ready: boolean[];
  private next = 0;  // first bucket not started
  private started: Pending[] = [];
  private early = 0;
  private readonly op: 'mean' | 'sum';

  constructor(private readonly params: readonly P[], opts: BucketOptions = {}) {
    const bytes = opts.bytes ?? 25 * 1024 * 1024;
    if (!(bytes > 0)) throw new Error(`GradBuckets: bytes must be > 0, got ${bytes}`);
    this.op = opts.op ?? 'mean';
    const plan: number[][] = [];
    let cur: number[] = [];
    let curBytes = 0;
    for (let i = params.length - 1; i >= 0; i--) {
      if (this.where.has(params[i])) throw new Error(`GradBuckets: parameter ${i} is listed twice`);
      this.where.set(params[i], { bucket: plan.length, index: i });
      cur.push(i);
      curBytes += params[i].grad.numel * 4;
      if (curBytes >= bytes) { plan.push(cur); cur = []; curBytes = 0; }
    }
    if (cur.length) plan.push(cur);
    this.plan = plan;
    this.missing = plan.map((b) => b.length);
    this.ready = params.map(() => false);
  }

  /** Call when p's gradient is final for this step (after the last backward that accumulates into it). */
  markReady(p: P): void {
    const at = this.where.get(p);
    if (at === undefined) throw new Error('GradBuckets.markReady: parameter is not one of this GradBuckets\' parameters');
    const { bucket: b, index: i } = at;
    if (this.ready[i]) throw new Error(`GradBuckets.markReady: parameter ${i} marked twice in one step`);
    this.ready[i] = true;
    this.missing[b]--;
    while (this.next < this.plan.length && this.missing[this.next] === 0) {
      this.launch(this.next++);
      this.early++;
    }
  }

  /** Starts what is left (parameters never marked included), waits for every bucket, and resets for the next step. */
  finish(): BucketStats {
    while (this.next < this.plan.length) this.launch(this.next++);
    for (const s of this.started) s.wait();
    const stats = { buckets: this.plan.length, startedEarly: this.early };
    this.started = [];
    this.next = 0;
    this.early = 0;
    this.ready = this.params.map(() => false);
    this.plan.forEach((b, k) => { this.missing[k] = b.length; });
    return stats;
  }

  private launch(b: number): void {
    world();
    this.started.push(startAllReduce(this.plan[b].map((i) => this.params[i].grad), this.op));
  }
}
