// InceptionV3 feature extraction on the GPU: mrigan (lib/metrics/inception.ts on cuda:0, fp32) vs PyTorch + cuDNN on
// the same card (bench/reference/inception_torch.py: torchvision's inception_v3 with the same weights, fp32, TF32 off,
// cudnn.benchmark on), the same preprocessed batch at 299×299. Run by scripts/device-check.sh on the lent GPU machine.
// That machine has no h5wasm, so the random weights (He-uniform, as test/metrics/inception_file.ts) are made in memory
// and handed to the peer as raw float32 + a JSON manifest instead of a Keras .h5.
//
//   npx tsc -p . && node dist/bench/fid-inception-gpu.js [--batch 64] [--reps 20] [--out DIR] [--device cuda:0]
// (--device cpu runs the same flow on the CPU, small batch, to check the plumbing on a machine without a GPU)
//
// Each side: 3 warm-up forwards, then `reps` timed forwards, each ending with the features on the host (mrigan:
// toFloat32Array; torch: .cpu()), so both include the same synchronisation. Without a CUDA device it says so and exits 0.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Device, Tensor, engineInfo, tidy } from '../lib/engine';
import { buildInceptionV3, inceptionForward } from '../lib/metrics/inception';
import { InceptionWeights } from '../lib/metrics/keras_h5';
import { inceptionV3Units } from '../lib/metrics/inception_spec';
import { randArray, rng } from '../test/helpers';

function randomWeights(seed: number): InceptionWeights {
  const r = rng(seed);
  const uni = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  const units = inceptionV3Units(1).map((u, i) => {
    const fan = u.kh * u.kw * u.cin, a = Math.sqrt(6 / fan);
    return { ...u, index: i, convLayer: `conv2d_${i + 1}`, bnLayer: `batch_normalization_${i + 1}`, kernel: uni(fan * u.cout, -a, a),
      beta: uni(u.cout, -0.1, 0.1), movingMean: uni(u.cout, -0.1, 0.1), movingVariance: uni(u.cout, 0.5, 1.5) };
  });
  return { file: '(in memory)', format: 'keras2' as InceptionWeights['format'], units, convNames: { first: 'conv2d_1', last: 'conv2d_94' },
    bnNames: { first: 'batch_normalization_1', last: 'batch_normalization_94' }, poolingLayer: null, div: 1 };
}

// The units as one float32 file (per unit: kernel HWIO, beta, mean, variance) and a manifest of shapes.
function writeRaw(w: InceptionWeights, base: string): string {
  const parts: Float32Array[] = [];
  const units = w.units.map((u) => { parts.push(u.kernel, u.beta, u.movingMean, u.movingVariance); return [u.kh, u.kw, u.cin, u.cout]; });
  const total = parts.reduce((s, p) => s + p.length, 0), all = new Float32Array(total);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  fs.writeFileSync(`${base}.f32`, Buffer.from(all.buffer));
  fs.writeFileSync(`${base}.json`, JSON.stringify({ data: path.basename(`${base}.f32`), units }));
  return `${base}.json`;
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
  const batch = Number(opt('--batch', '64')), reps = Number(opt('--reps', '20')), out = opt('--out', '');
  const dev = opt('--device', 'cuda:0') as Device, torchDev = dev === 'cpu' ? 'cpu' : `cuda:${dev.split(':')[1] ?? 0}`;
  if (dev !== 'cpu' && engineInfo().cudaDevices === 0) { console.log('fid-inception-gpu: skipped (no CUDA device)'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-incgpu-'));
  try {
    const weights = randomWeights(7), manifest = writeRaw(weights, path.join(dir, 'units'));
    const inp = path.join(dir, 'x.f32'), feats = path.join(dir, 'f.f32');
    const xs = randArray(batch * 3 * 299 * 299, 5, -1, 1);
    fs.writeFileSync(inp, Buffer.from(xs.buffer));
    const m = buildInceptionV3(weights, dev);
    const x = Tensor.fromArray(xs, [batch, 3, 299, 299], dev);
    let ours: Float32Array = new Float32Array(0), t0 = 0n;
    for (let r = 0; r < reps + 3; r++) {
      if (r === 3) t0 = process.hrtime.bigint();
      ours = tidy(() => inceptionForward(m, x).toFloat32Array());
    }
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const py = spawnSync(process.env.PYTHON ?? 'python3', [path.join(__dirname, '..', '..', 'bench', 'reference', 'inception_torch.py'),
      manifest, inp, String(batch), feats, String(reps), 'torchvision', torchDev], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`inception_torch.py failed: ${py.stderr.slice(-3000)}`);
    const ref = JSON.parse(py.stdout.trim().split('\n').pop()!), theirs = new Float32Array(fs.readFileSync(feats).buffer.slice(0));
    let scale = 0, err = 0;
    for (let i = 0; i < ours.length; i++) { scale = Math.max(scale, Math.abs(theirs[i])); err = Math.max(err, Math.abs(ours[i] - theirs[i])); }
    const mine = batch * reps / sec;
    const table = [
      `InceptionV3 features, ${batch} × 299², fp32, ${reps} forwards after 3 warm-up (features copied to the host each time)`,
      '| side | img/s | ratio mrigan / torch |', '|---|---|---|',
      `| mrigan ${dev} | ${mine.toFixed(1)} | ${(mine / ref.imgs_per_s).toFixed(2)} |`,
      `| torch ${ref.torch} ${ref.graph} cuDNN ${ref.cudnn} | ${ref.imgs_per_s.toFixed(1)} | 1 |`,
      `max |Δ feature| ${err.toExponential(2)} of max |feature| ${scale.toFixed(3)}`,
    ].join('\n');
    console.log(table);
    if (out) fs.writeFileSync(path.join(out, 'inception-gpu.md'), `${table}\n`);
    m.dispose();
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

main();
