// mrigan's exact WGAN-GP penalty gradient vs PyTorch's double backprop (bench/reference/train.py gpcheck), on both
// critics: the textbook dcgan critic and the paper's cepa2024 critic (BatchNorm in training mode + sigmoid), with
// weights perturbed away from the GAN init so every term matters. Not part of CI (needs Debian's python3-torch).
// Run: npx tsc -p . && node dist/bench/reference/gp-check.js [SIZE=64] [BATCH=4]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Tensor, Rng, axpy } from '../../lib/engine';
import { buildModel, ImageSize } from '../../lib/models';
import { saveModel, saveTensors } from '../../lib/nn';
import { gradientPenalty } from '../../lib/train/penalty';

const size = Number(process.argv[2] ?? 64) as ImageSize;
const batch = Number(process.argv[3] ?? 4);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-gpcheck-'));
const cases = [];
const rng = new Rng(42, 9);
for (const arch of ['dcgan', 'cepa2024'] as const) {
  const D = buildModel(arch, 'critic', { size, seed: 5 });
  for (const p of D.params()) { // N(0, 0.02) init → add N(0, 0.05) so that BN γ/β and biases are not at 1/0
    const z = rng.normal(p.value.shape);
    axpy(p.role === 'weight' ? 0.02 : 0.05, z, p.value);
    z.dispose();
  }
  const real = rng.normal([batch, 1, size, size]), fake = rng.normal([batch, 1, size, size]), eps = rng.uniform([batch]);
  saveModel(path.join(dir, `${arch}-D.safetensors`), D); // weights before the penalty's forward updates running stats
  saveTensors(path.join(dir, `${arch}-io.safetensors`), new Map([['real', real], ['fake', fake], ['eps', eps]]));
  D.zeroGrad();
  const t0 = Date.now();
  const r = gradientPenalty(D, real, fake, eps, 5);
  console.log(`mrigan ${arch} critic ${size}×${size} batch ${batch}: GP ${r.gp.toPrecision(6)} in ${Date.now() - t0} ms`);
  saveTensors(path.join(dir, `${arch}-grads.safetensors`), new Map(D.params().map((p) => [p.name, p.grad] as [string, Tensor])));
  cases.push({ arch, size, lambda: 5, gp: r.gp, weights: `${arch}-D.safetensors`, io: `${arch}-io.safetensors`, grads: `${arch}-grads.safetensors` });
  D.dispose();
}
fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ cases }));
const py = spawnSync('/usr/bin/python3', [path.resolve(__dirname, '../../../bench/reference/train.py'), 'gpcheck', dir], { stdio: 'inherit' });
process.exit(py.status ?? 1);
