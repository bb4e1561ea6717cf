// InceptionV3 feature extraction speed and agreement: mrigan (lib/metrics/inception.ts, CPU, MRIGAN_THREADS) vs the
// same Keras graph written in plain PyTorch (bench/reference/inception_torch.py; torchvision is not installed here,
// and its InceptionV3 is another graph anyway), on one random-weight full-size InceptionV3 .h5, batch 16 at 299×299.
//
//   npx tsc -p . && MRIGAN_THREADS=1 node dist/bench/fid-inception.js [batch=16] [reps=2]
//
// One warm-up forward, then `reps` timed forwards of the same preprocessed batch on each side; wall and CPU time.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, engineInfo, tidy } from '../lib/engine';
import { inceptionForward, loadInceptionV3 } from '../lib/metrics/inception';
import { preprocessForInception } from '../lib/metrics/preprocess';
import { writeRandomInception } from '../test/metrics/inception_file';
import { randArray } from '../test/helpers';

async function main(): Promise<void> {
  const [batch = 16, reps = 2] = process.argv.slice(2).map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-incbench-'));
  try {
    const h5 = path.join(dir, 'inc.h5'), inp = path.join(dir, 'x.f32'), feats = path.join(dir, 'f.f32');
    await writeRandomInception(h5, 1, 7);
    const m = await loadInceptionV3(h5);
    const pre = preprocessForInception(randArray(batch * 256 * 256, 5, -1, 1), [batch, 1, 256, 256], { mode: 'tf' });
    fs.writeFileSync(inp, Buffer.from(pre.data.buffer, pre.data.byteOffset, pre.data.byteLength));
    const x = Tensor.fromArray(pre.data, pre.shape);
    let ours: Float32Array = new Float32Array(0), t0 = 0n, c0 = process.cpuUsage();
    for (let r = 0; r <= reps; r++) {
      if (r === 1) { t0 = process.hrtime.bigint(); c0 = process.cpuUsage(); }
      ours = tidy(() => inceptionForward(m, x).toFloat32Array());
    }
    const sec = Number(process.hrtime.bigint() - t0) / 1e9, cu = process.cpuUsage(c0), cpu = (cu.user + cu.system) / 1e6;
    const py = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'bench', 'reference', 'inception_torch.py'), h5, inp, String(batch), feats, String(reps)],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (py.status !== 0) throw new Error(`inception_torch.py failed: ${py.stderr}`);
    const ref = JSON.parse(py.stdout), theirs = new Float32Array(fs.readFileSync(feats).buffer.slice(0));
    let scale = 0, err = 0;
    for (let i = 0; i < ours.length; i++) { scale = Math.max(scale, Math.abs(theirs[i])); err = Math.max(err, Math.abs(ours[i] - theirs[i])); }
    const rows = [
      { side: `mrigan (threads ${engineInfo().threads}, ${engineInfo().blas})`, seconds: sec, cpu, imgsPerS: batch * reps / sec, imgsPerCpuS: batch * reps / cpu },
      { side: 'torch (threads 1)', seconds: ref.seconds, cpu: ref.cpu, imgsPerS: ref.imgs_per_s, imgsPerCpuS: ref.imgs_per_cpu_s },
    ];
    console.log(JSON.stringify({ batch, reps, features: m.features, maxAbsDiff: err, maxAbsFeature: scale, rows }, null, 1));
    m.dispose();
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

main().catch((e) => { console.error(e); process.exit(1); });
