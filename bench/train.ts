// img/s of whole training iterations (lib/train/trainer.ts) next to the PyTorch peer (bench/reference/train.py, the
// same networks, losses and Adam; the same thread count), as a ratio. One iteration = one batch of real images:
// DCGAN = D step + G step; WGAN-GP = 3 critic steps with the exact gradient penalty + G step.
// Run: npx tsc -p . && MRIGAN_THREADS=2 node dist/bench/train.js [SIZE=256] [BATCHES=8,64] [REPS=2] [--no-peer] [--rounds=R]
//      [--kernel=auto|gemm|direct|wino] (the CPU conv kernel choice, as bench/ops --kernel)
// BENCH_MODELS=dcgan,wgan-gp and BENCH_ARCHS=dcgan,cepa2024 pick rows (both sides).
import { spawnSync } from 'child_process';
import * as path from 'path';
import { engineInfo, setThreads } from '../lib/engine';
import { native } from '../lib/engine/native';
import { Trainer, memorySource } from '../lib/train/run';
import { resolveConfig, GanModel } from '../lib/train/config';
import { Arch, ImageSize } from '../lib/models';
import { addonLine } from './addon';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const size = Number(args[0] ?? 256) as ImageSize;
const batches = (args[1] ?? '8,64').split(',').map(Number);
const reps = Number(args[2] ?? 2);
const peer = !process.argv.includes('--no-peer');
const rounds = Number((process.argv.find((a) => a.startsWith('--rounds=')) ?? '--rounds=1').slice(9));
const models = (process.env.BENCH_MODELS ?? 'dcgan,wgan-gp').split(',') as GanModel[];
const archs = (process.env.BENCH_ARCHS ?? 'dcgan,cepa2024').split(',') as Arch[];
if (process.env.MRIGAN_THREADS) setThreads(Number(process.env.MRIGAN_THREADS));
const kernelArg = process.argv.find((a) => a.startsWith('--kernel='));
if (kernelArg) native().convTuning({ kernel: kernelArg.slice(9) as 'auto' });
const threads = engineInfo().threads;

async function mine(model: GanModel, arch: Arch, batch: number): Promise<number> {
  const n = batch * (reps + 1);
  const data = new Float32Array(n * size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.9;
  const cfg = resolveConfig({ model, arch, size, batch, epochs: 1, lr: 2e-4, dropout: arch === 'cepa2024' ? 0.2 : 0, seed: 1 });
  const times: number[] = [];
  let last = process.hrtime.bigint();
  const t = Trainer.create(cfg, { data: memorySource(data, [n, 1, size, size]), out: null, progress: 'none', device: 'cpu',
    onStep: () => { const now = process.hrtime.bigint(); times.push(Number(now - last) / 1e9); last = now; } });
  await t.run();
  t.dispose();
  return batch / Math.min(...times.slice(1)); // the first iteration warms up
}

function theirs(batch: number): Map<string, number> {
  const r = spawnSync('/usr/bin/python3', [path.resolve(__dirname, '../../bench/reference/train.py'), 'bench', String(size), String(batch), String(reps)],
    { encoding: 'utf8', env: { ...process.env, MRIGAN_THREADS: String(threads), BENCH_MODELS: models.join(','), BENCH_ARCHS: archs.join(',') } });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr}`);
  const m = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n')) {
    const j = JSON.parse(line);
    m.set(`${j.model} ${j.arch}`, j.img_per_s);
  }
  return m;
}

(async () => {
  // The GEMM and conv kernels in use (engineInfo().blas is only the BLAS linked at build time).
  const kernels = `GEMM ${native().gemmBackend()}, conv kernel ${native().convTuning().kernel}`;
  console.log(addonLine());
  console.log(`training iterations at ${size}×${size}, ${threads} threads (${kernels}); best of ${reps} after a warm-up, ${rounds} alternating round(s)`);
  console.log('| model | arch | batch | mrigan img/s | PyTorch img/s | mrigan / PyTorch |\n|---|---|---|---|---|---|');
  // Rounds alternate the two sides (round r runs the peer first when r is even, mrigan first when odd) and each side
  // keeps its best, so a slow spell of the shared machine hits both rather than one.
  for (const batch of batches) {
    const best = new Map<string, { a: number; b: number }>();
    const keepBest = (k: string, a: number, b: number): void => {
      const o = best.get(k) ?? { a: 0, b: 0 };
      best.set(k, { a: Math.max(o.a, a), b: Math.max(o.b, b) });
    };
    for (let r = 0; r < rounds; r++) {
      const p = peer && r % 2 === 0 ? theirs(batch) : new Map<string, number>();
      for (const model of models)
        for (const arch of archs) keepBest(`${model} ${arch}`, await mine(model, arch, batch), 0);
      if (peer && r % 2 === 1) for (const [k, v] of theirs(batch)) keepBest(k, 0, v);
      else for (const [k, v] of p) keepBest(k, 0, v);
    }
    for (const model of models)
      for (const arch of archs) {
        const { a, b } = best.get(`${model} ${arch}`)!;
        console.log(`| ${model} | ${arch} | ${batch} | ${a.toFixed(2)} | ${b ? b.toFixed(2) : '-'} | ${b ? (a / b).toFixed(2) : '-'} |`);
      }
  }
})();
