// One process of bench/scaling.ts: `[mpirun -np N] node dist/bench/scaling_worker.js SIZE GLOBAL_BATCH ITERS`.
// Trains DCGAN (`dcgan` architecture) for ITERS iterations (the first is the warm-up) on synthetic data with the
// CLI's wiring (parallelOptions, broadcastTrainer), records every BucketSync.finish() and prints one JSON line from
// rank 0: per timed iteration the step time and its split, averaged over ranks.
//
// The split of one iteration (ms): exposed = time inside finish() (the gradient reduction backward did not hide) less
// idle; idle = waiting in finish() for the slower rank, per finish: the slowest rank's compute segment before it
// minus this rank's (segments = time since the previous finish, so no clocks are compared across processes), capped
// by the time this rank spent in finish(); compute = step − exposed − idle.
import { engineInfo, setThreads, Tensor } from '../lib/engine';
import { Trainer, memorySource } from '../lib/train/run';
import { resolveConfig } from '../lib/train/config';
import { ImageSize } from '../lib/models';
import { world, runRanked, parallelOptions, broadcastTrainer, allReduceMean, allReduceScalars, barrier } from '../lib/dist';
import { recordSyncTimings } from '../lib/dist/train';

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function main(): Promise<void> {
  const [size, batch, iters] = process.argv.slice(2).map(Number);
  if (process.env.MRIGAN_THREADS) setThreads(Number(process.env.MRIGAN_THREADS));
  const w = world('cpu');
  const n = batch * iters, per = size * size, data = new Float32Array(n * per);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.9;
  const cfg = resolveConfig({ model: 'dcgan', arch: 'dcgan', size: size as ImageSize, batch, epochs: 1, lr: 2e-4, seed: 1 });
  let t: Trainer | null = null;
  const parallel = parallelOptions(w, () => t!);
  const stamps: number[] = [];
  t = Trainer.create(cfg, { data: memorySource(data, [n, 1, size, size]), out: null, progress: 'none', device: 'cpu', parallel,
    stopAfter: iters, onStep: () => { stamps.push(now()); } });
  if (parallel) broadcastTrainer(t);
  const log = recordSyncTimings();
  if (w.size > 1) barrier();
  stamps.push(now());
  await t.run();
  stamps.unshift(stamps.pop()!); // the start first: stamps[i] .. stamps[i + 1] is iteration i

  // compute segments before each finish, and the slowest rank's
  const seg = log.map((e, k) => e.enterMs - (k ? log[k - 1].exitMs : stamps[0]));
  const slowest = allReduceScalars(Float64Array.from(seg), 'max');
  const rows: number[][] = [];
  for (let i = 1; i < iters; i++) { // iteration 0 warms up
    const a = stamps[i], b = stamps[i + 1];
    let exposed = 0, idle = 0;
    log.forEach((e, k) => {
      if (e.enterMs < a || e.enterMs > b) return;
      const inFinish = e.exitMs - e.enterMs, wait = Math.min(inFinish, Math.max(0, slowest[k] - seg[k]));
      idle += wait;
      exposed += inFinish - wait;
    });
    rows.push([b - a, exposed, idle]);
  }
  const flat = Float64Array.from(rows.flat());
  allReduceScalars(flat, 'sum');
  const avg = (j: number) => rows.map((_, i) => flat[i * 3 + j] / w.size);

  // the same reduction with nothing to hide behind: every gradient of G and D all-reduced after a barrier
  let blockingMs = 0, gradBytes = 0;
  if (w.size > 1) {
    const grads = (m: Trainer['G']): Tensor[] => m.params().map((p) => p.grad);
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      barrier();
      const s = now();
      allReduceMean(grads(t.G));
      allReduceMean(grads(t.D));
      times.push(now() - s);
    }
    blockingMs = Math.min(...times);
  }
  for (const m of [t.G, t.D]) for (const p of m.params()) gradBytes += 4 * p.grad.numel;
  const buckets = log.length ? { G: log.find((e) => e.which === 'G')!, D: log.find((e) => e.which === 'D')! } : null;
  if (w.rank === 0)
    console.log('SCALING ' + JSON.stringify({
      ranks: w.size, threads: engineInfo().threads, size, batch, iters, gradBytes, blockingMs,
      stepMs: avg(0), exposedMs: avg(1), idleMs: avg(2),
      buckets: buckets && { G: [buckets.G.startedEarly, buckets.G.buckets], D: [buckets.D.startedEarly, buckets.D.buckets] },
    }));
  t.dispose();
}

void runRanked(main);
