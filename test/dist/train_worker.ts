// One rank of a data-parallel training run for test/dist/train.test.ts: `mpirun -np N node train_worker.js MODEL
// ARCH STEPS` (or plain node for the 1-rank reference). Every rank holds the same in-memory dataset; the run is the
// CLI's wiring (parallelOptions, broadcastTrainer). Writes the final weights and BN buffers as rank-R.json.
import * as fs from 'fs';
import * as path from 'path';
import { Trainer, memorySource } from '../../lib/train/run';
import { resolveConfig, GanModel } from '../../lib/train/config';
import { Arch } from '../../lib/models';
import { Device, Tensor } from '../../lib/engine';
import { Param } from '../../lib/nn';
import { world, runRanked, parallelOptions, broadcastTrainer } from '../../lib/dist';
import { randArray } from '../helpers';

async function main(): Promise<void> {
  // RUN_DIR: write a run there (checkpoint every step); 'resume': continue the run in RUN_DIR instead
  const [model, arch, steps, runDir, mode] = process.argv.slice(2);
  const gradStep = Number(process.env.MRIGAN_TEST_GRAD_STEP ?? 0);
  // MRIGAN_TEST_DEVICE=cuda (test/dist/nccl.test.ts): train on the GPU; with MRIGAN_NCCL_SELF=1 a 1-rank NCCL world
  const dev = (process.env.MRIGAN_TEST_DEVICE ?? 'cpu') as 'cpu' | 'cuda';
  const w = world(dev);
  const cfg = resolveConfig({ model: model as GanModel, arch: arch as Arch, size: 64, width: 2, batch: 8, epochs: 2, seed: 11,
    nCritic: 2, lr: 1e-3, dropout: Number(process.env.MRIGAN_TEST_DROPOUT ?? (arch === 'cepa2024' ? 0.2 : 0)), syncBn: true,
    labelNoise: Number(process.env.MRIGAN_TEST_LABEL_NOISE ?? 0.05), checkpointEvery: 1 });
  const data = memorySource(randArray(16 * 64 * 64, 5), [16, 1, 64, 64]);
  let t: Trainer | null = null;
  // the first update's gradients of G and D (of step MRIGAN_TEST_GRAD_STEP if set), after the reduction: what the
  // optimizer steps on
  const firstGrads: Record<string, number[]> = {};
  const base = parallelOptions(w, () => t!) ?? { rank: 0, size: 1, sync: { finish() {} }, sumScalars() {} };
  const parallel = {
    ...base,
    sync: {
      ready: base.sync.ready?.bind(base.sync),
      finish(which: 'G' | 'D', ps: Param[], loss: Tensor) {
        base.sync.finish(which, ps, loss);
        if (!gradStep || t!.step + 1 === gradStep) firstGrads[which] ??= ps.flatMap((p) => Array.from(p.grad.toFloat32Array()));
      },
    },
  };
  const records: unknown[] = [];
  let step1: number[] = [];
  const opts = { data, out: runDir ?? null, progress: 'none' as const, device: (dev === 'cuda' ? 'cuda:0' : 'cpu') as Device, stopAfter: Number(steps), parallel, log: () => {},
    onStep: (m: { step: number }) => {
      records.push(m);
      if (m.step === 1) step1 = [...t!.G.params(), ...t!.D.params()].flatMap((p) => Array.from(p.value.toFloat32Array()));
    } };
  t = mode === 'resume' ? Trainer.resume(opts) : Trainer.create(cfg, opts);
  const sums = w.size > 1 || w.transport === 'nccl' ? broadcastTrainer(t) : null;
  await t.run();
  const arr = (x: { value: { toFloat32Array(): Float32Array } }) => Array.from(x.value.toFloat32Array());
  const o = { rank: w.rank, size: w.size, transport: w.transport, sums, records, firstGrads, step1, G: t.G.params().map(arr), D: t.D.params().map(arr),
    buffers: [...t.G.buffers(), ...t.D.buffers()].map(arr), syncBn: [...t.G.layers, ...t.D.layers].some((l) => l.kind.startsWith('SyncBatchNorm')) };
  const f = path.join(process.env.MRIGAN_TEST_OUT!, `rank-${w.rank}.json`);
  fs.writeFileSync(f + '.tmp', JSON.stringify(o));
  fs.renameSync(f + '.tmp', f);
  t.dispose();
}

if (require.main === module) void runRanked(main);
