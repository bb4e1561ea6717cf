// InceptionV3 feature extraction speed and agreement: mrigan (lib/metrics/inception.ts, CPU, MRIGAN_THREADS) vs
// PyTorch on the same Keras weights (bench/reference/inception_ref.py: torchvision's inception_v3 with the Keras
// weights loaded and TF-style average pools, as pytorch-fid builds it; `plain` = the same graph in F.conv2d), one
// random-weight full-size InceptionV3 .h5, the same preprocessed batch at 299×299, the same thread count.
//
//   npx tsc -p . && MRIGAN_THREADS=1 node dist/bench/fid-inception.js [batch=16] [reps=2] [rounds=2] [torchvision|plain]
//
// Per round: one warm-up forward, then `reps` timed forwards of the batch on each side (the sides alternate who goes
// first); wall and CPU time, each side's best round kept (the host is shared: CPU time is the steadier measure).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, engineInfo, tidy } from '../lib/engine';
import { inceptionForward, loadInceptionV3 } from '../lib/metrics/inception';
import { preprocessForInception } from '../lib/metrics/preprocess';
import { writeRandomInception } from '../test/metrics/inception_file';
import { randArray } from '../test/helpers';

interface Timing { seconds: number; cpu: number }

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const graph = args.find((a) => a === 'plain' || a === 'torchvision') ?? 'torchvision';
  const [batch = 16, reps = 2, rounds = 2] = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const threads = engineInfo().threads;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-incbench-'));
  try {
    const h5 = path.join(dir, 'inc.h5'), inp = path.join(dir, 'x.f32'), feats = path.join(dir, 'f.f32');
    await writeRandomInception(h5, 1, 7);
    const m = await loadInceptionV3(h5);
    const pre = preprocessForInception(randArray(batch * 256 * 256, 5, -1, 1), [batch, 1, 256, 256], { mode: 'tf' });
    fs.writeFileSync(inp, Buffer.from(pre.data.buffer, pre.data.byteOffset, pre.data.byteLength));
    const x = Tensor.fromArray(pre.data, pre.shape);
    let ours: Float32Array = new Float32Array(0), peerGraph = '';
    const mine = (): Timing => {
      let t0 = 0n, c0 = process.cpuUsage();
      for (let r = 0; r <= reps; r++) {
        if (r === 1) { t0 = process.hrtime.bigint(); c0 = process.cpuUsage(); }
        ours = tidy(() => inceptionForward(m, x).toFloat32Array());
      }
      const cu = process.cpuUsage(c0);
      return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (cu.user + cu.system) / 1e6 };
    };
    const theirs = (): Timing => {
      const py = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'bench', 'reference', 'inception_torch.py'), h5, inp, String(batch), feats, String(reps), graph],
        { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
      if (py.status !== 0) throw new Error(`inception_torch.py failed: ${py.stderr}`);
      const r = JSON.parse(py.stdout);
      peerGraph = r.graph;
      return { seconds: r.seconds, cpu: r.cpu };
    };
    const best = (a: Timing | null, b: Timing): Timing => (!a || b.cpu < a.cpu ? b : a);
    let us: Timing | null = null, them: Timing | null = null;
    const log: string[] = [];
    for (let k = 0; k < rounds; k++) {
      const order = k % 2 === 0 ? [mine, theirs] : [theirs, mine];
      for (const f of order) {
        const t = f();
        if (f === mine) us = best(us, t); else them = best(them, t);
        log.push(`${f === mine ? 'mrigan' : 'torch'} ${t.seconds.toFixed(2)} s wall ${t.cpu.toFixed(2)} s CPU`);
      }
    }
    const tf = new Float32Array(fs.readFileSync(feats).buffer.slice(0));
    let scale = 0, err = 0;
    for (let i = 0; i < ours.length; i++) { scale = Math.max(scale, Math.abs(tf[i])); err = Math.max(err, Math.abs(ours[i] - tf[i])); }
    const row = (side: string, t: Timing): object => ({ side, seconds: t.seconds, cpu: t.cpu, imgsPerS: batch * reps / t.seconds, imgsPerCpuS: batch * reps / t.cpu });
    console.log(JSON.stringify({
      batch, reps, rounds, threads, features: m.features, maxAbsDiff: err, maxAbsFeature: scale,
      rows: [row(`mrigan (threads ${threads})`, us!), row(`torch ${peerGraph} (threads ${threads})`, them!)],
      ratioPerCpuS: them!.cpu / us!.cpu, ratioPerWallS: them!.seconds / us!.seconds, rounds_log: log,
    }, null, 1));
    m.dispose();
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

main().catch((e) => { console.error(e); process.exit(1); });
