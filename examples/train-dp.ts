// Data-parallel GAN training from TypeScript, without the CLI. Runs as one process or under a launcher:
//   node dist/examples/train-dp.js OUT_DIR
//   mpirun -np 2 node dist/examples/train-dp.js OUT_DIR          (srun --mpi=pmix -n 2 … under SLURM)
// Every rank builds the same small dataset (64×64 slices of procedural phantom brains), trains its share of each
// global batch, and the ranks average gradients at every update; rank 0 writes OUT_DIR (samples, metrics, checkpoints).
import { Trainer, memorySource, resolveConfig, phantomSubject } from '../lib';
import { world, runRanked, parallelOptions, broadcastTrainer } from '../lib/dist';

/** n = subjects × slices images of 64×64 in [-1, 1]: FLAIR of small phantom volumes, axial slices 10..21. */
function phantomSlices(subjects: number): { data: Float32Array; count: number } {
  const S = 64, Z = 32, slices = 12, data = new Float32Array(subjects * slices * S * S);
  for (let s = 0; s < subjects; s++) {
    const v = phantomSubject(s, 1, [S, S, Z]).contrast('flair');
    let max = 1;
    for (const x of v) max = Math.max(max, x);
    for (let k = 0; k < slices; k++)
      for (let i = 0; i < S * S; i++) data[((s * slices + k) * S * S) + i] = (2 * v[(10 + k) * S * S + i]) / max - 1;
  }
  return { data, count: subjects * slices };
}

async function main(): Promise<void> {
  const out = process.argv[2] ?? 'dp-out';
  const w = world('cpu');                          // rank and size from the launcher (a plain process: 1 of 1)
  const { data, count } = phantomSlices(4);
  const cfg = resolveConfig({ model: 'dcgan', arch: 'dcgan', size: 64, width: 8, batch: 8, epochs: 2, seed: 1, syncBn: true });
  let t: Trainer | null = null;
  const parallel = parallelOptions(w, () => t!);  // undefined in a world of 1
  t = Trainer.create(cfg, { data: memorySource(data, [count, 1, 64, 64]), out: w.rank === 0 ? out : null, device: 'cpu',
    progress: 'none', parallel, log: (s) => console.log(s) });
  if (parallel) broadcastTrainer(t);             // rank 0's initial weights everywhere, checksummed
  await t.run();
  if (w.rank === 0) console.log(`trained on ${w.size} rank(s): samples in ${out}/samples`);
  t.dispose();
}

void runRanked(main);
