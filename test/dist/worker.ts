// One rank of the distributed tests: `mpirun -np N node dist/test/dist/worker.js SCENARIO [ARGS]` (see dist.test.ts).
// Writes one JSON result per rank (see out()); the mocha side checks it against closed forms. Inputs come from
// test/helpers' seeded generator so the test can recompute every rank's values independently.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, engineInfo } from '../../lib/engine';
import {
  world, mpiInitialized, launchedByMpi, allReduceMean, allReduceSum, broadcast, barrier, allReduceScalars,
  startAllReduce, pendingCollectives, GradBuckets, broadcastParams, checksum, runRanked,
} from '../../lib/dist';
import { randArray } from '../helpers';

/** The shapes used by the collective and bucket scenarios: scalars, small vectors, one larger tensor. */
export const SHAPES: number[][] = [[3], [1000], [7, 1], [50000], [4, 5], [1]];
/** Rank r's input for tensor k (the test recomputes these). */
export const input = (r: number, k: number, n: number, salt = 0) => randArray(n, 7919 * r + 31 * k + salt + 1);

// MRIGAN_TEST_OUT: a folder where each rank writes rank-R.json (mpirun may split long stdout lines between ranks).
function out(o: unknown): void {
  const dir = process.env.MRIGAN_TEST_OUT;
  if (!dir) { process.stdout.write(`RESULT ${JSON.stringify(o)}\n`); return; }
  const f = path.join(dir, `rank-${world().rank}.json`);
  fs.writeFileSync(f + '.tmp', JSON.stringify(o));
  fs.renameSync(f + '.tmp', f);
}
const make = (r: number, salt = 0) => SHAPES.map((s, k) => Tensor.fromArray(input(r, k, s.reduce((a, b) => a * b, 1), salt), s));
const arrays = (ts: Tensor[]) => ts.map((t) => Array.from(t.toFloat32Array()));

function collectives(): void {
  const w = world('cpu');
  const r = w.rank;
  const sum = make(r, 0); allReduceSum(sum);
  const mean = make(r, 100); allReduceMean(mean);
  const bc = make(r, 200); broadcast(bc, w.size - 1);
  const single = [Tensor.fromArray(input(r, 9, 5, 300), [5])]; allReduceSum(single);  // one tensor: no packing
  const nb = make(r, 400);
  const h1 = startAllReduce(nb.slice(0, 3), 'sum');
  const h2 = startAllReduce(nb.slice(3), 'mean');
  const pendingBefore = pendingCollectives();
  h2.wait(); h1.wait();  // out of start order on purpose
  barrier();
  const s = allReduceScalars(new Float64Array([r + 1, -r, 0.1 * (r + 1), 1e300]), 'sum');
  const mx = allReduceScalars(new Float64Array([r, -r]), 'max');
  const mn = allReduceScalars(new Float64Array([r, -r]), 'min');
  out({ world: w, mpiInitialized: mpiInitialized(), launched: launchedByMpi(), sum: arrays(sum), mean: arrays(mean),
    bcast: arrays(bc), single: arrays(single), nbSum: arrays(nb.slice(0, 3)), nbMean: arrays(nb.slice(3)),
    pendingBefore, pendingAfter: pendingCollectives(), scalars: { sum: Array.from(s), max: Array.from(mx), min: Array.from(mn) } });
}

// A list longer than one chunk of the shared-memory all-reduce (2^20 floats), its tensor boundaries off the chunk
// and part boundaries, averaged; each rank reports the error against the float64 mean of every rank's inputs (which
// it recomputes) and a checksum of the result, which must be the same bits on every rank.
export const LARGE = [1_048_575, 7, 1_500_001];
function large(): void {
  const w = world('cpu');
  const ts = LARGE.map((n, k) => Tensor.fromArray(input(w.rank, k, n, 800), [n]));
  allReduceMean(ts);
  let maxRel = 0;
  LARGE.forEach((n, k) => {
    const got = ts[k].toFloat32Array(), all = Array.from({ length: w.size }, (_, r) => input(r, k, n, 800));
    for (let i = 0; i < n; i++) {
      let m = 0, a = 0;
      for (const x of all) { m += x[i]; a += Math.abs(x[i]); }
      maxRel = Math.max(maxRel, Math.abs(got[i] - m / w.size) / (a / w.size));
    }
  });
  out({ world: w, maxRel, checksum: checksum(ts) });
}

// GradBuckets with several bucket sizes; 'sum' so that an element reduced twice (2·Σ) or never (own value) shows.
function buckets(sizes: number[]): void {
  const w = world('cpu');
  const res: unknown[] = [];
  for (const bytes of sizes) {
    const params = make(w.rank, 500).map((g) => ({ grad: g }));
    const b = new GradBuckets(params, { bytes, op: 'sum' });
    for (let i = params.length - 1; i >= 0; i--) b.markReady(params[i]);  // backward order
    const stats = b.finish();
    // a second step with the same object: fresh inputs, marked in a scrambled order, two never marked
    params.forEach((p, k) => p.grad.copyFrom(Tensor.fromArray(input(w.rank, k, p.grad.numel, 600), p.grad.shape)));
    for (const i of [2, 0, 5, 3]) b.markReady(params[i]);
    const stats2 = b.finish();
    res.push({ bytes, plan: b.plan, stats, stats2, grads: arrays(params.map((p) => p.grad)), pending: pendingCollectives() });
  }
  out({ rank: w.rank, size: w.size, res });
}

function params(mismatch: boolean): void {
  const w = world('cpu');
  const shapes = mismatch && w.rank === 1 ? [[4], [6]] : [[6], [4]];  // same total: the broadcast itself succeeds
  const ts = shapes.map((s, k) => Tensor.fromArray(input(w.rank, k, s[0], 700), s));
  try {
    const c = broadcastParams(ts);
    out({ rank: w.rank, checksum: c, again: checksum(ts), values: arrays(ts) });
  } catch (e) {
    out({ rank: w.rank, error: (e as Error).message });
  }
}

// A rank fails while its peer waits in a collective.
async function fail(how: string): Promise<number> {
  const w = world('cpu');
  const t = [Tensor.fromArray(new Float32Array(10).fill(1), [10])];
  if (w.rank === 1) {
    if (how === 'throw') throw new Error('worker: deliberate failure');
    if (how === 'kill') process.kill(process.pid, 'SIGKILL');
    if (how === 'stall') { const end = Date.now() + 120_000; while (Date.now() < end) { /* never joins */ } }
  }
  allReduceSum(t);
  out({ rank: w.rank, unexpected: 'collective completed' });
  return 0;
}

async function main(): Promise<number> {
  const [scenario, ...args] = process.argv.slice(2);
  switch (scenario) {
    case 'collectives': collectives(); return 0;
    case 'buckets': buckets(args.map(Number)); return 0;
    case 'params': params(args[0] === 'mismatch'); return 0;
    case 'large': large(); return 0;
    case 'plain': {
      const before = mpiInitialized();
      let cudaError: string | null = null;
      if (engineInfo().cudaDevices === 0) {
        try { world('cuda'); } catch (e) { cudaError = (e as Error).message; }
      }
      const w = world();
      const t = [Tensor.fromArray([1, 2, 3], [3])];
      allReduceMean(t); broadcast(t, 0); barrier();
      out({ world: w, before, cudaError, after: mpiInitialized(), launched: launchedByMpi(), values: arrays(t),
        scalars: Array.from(allReduceScalars(new Float64Array([2.5]), 'sum')) });
      return 0;
    }
    case 'fail': return fail(args[0]);
    default: throw new Error(`worker: unknown scenario '${scenario}'`);
  }
}

if (require.main === module) runRanked(main).then((rc) => process.exit(rc));
