// Weights exchange with PyTorch through safetensors, both directions, for every pinned network (non-CI check:
// needs Debian's python3-torch). Run: npx tsc -p . && node dist/bench/reference/interop.js [size=64]
// 1. mrigan → PyTorch: a mrigan model (a few training steps' worth of BN statistics), saved with saveModel, loaded by
//    bench/reference/models.py with load_state_dict(strict=True); PyTorch's eval forward must match mrigan's.
// 2. PyTorch → mrigan: models.py exports a PyTorch-initialised state_dict and (x, y); loadModel + eval forward = y.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, Rng } from '../../lib/engine';
import { buildModel, inputShape, Arch, Role, ImageSize } from '../../lib/models';
import { saveModel, loadModel, saveTensors, readSafetensors, asF32 } from '../../lib/nn';

const size = Number(process.argv[2] ?? 64) as ImageSize;
const py = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const script = path.resolve(__dirname, '..', '..', '..', 'bench', 'reference', 'models.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-interop-'));
const nets: [Arch, Role][] = [['dcgan', 'generator'], ['dcgan', 'discriminator'], ['dcgan', 'critic'], ['cepa2024', 'generator'], ['cepa2024', 'discriminator']];
let failed = 0;

for (const [arch, role] of nets) {
  const w = path.join(dir, 'w.safetensors'), io = path.join(dir, 'io.safetensors');
  // 1. mrigan → PyTorch
  const m = buildModel(arch, role, { size, seed: 3 });
  const xs = inputShape(arch, role, 2, { size });
  const rng = new Rng(9, 0);
  for (let i = 0; i < 3; i++) m.forward(rng.normal(xs)); // training-mode forwards move the running statistics
  m.eval();
  const x = rng.normal(xs);
  const y = m.forward(x);
  saveModel(w, m, { arch, role, size: String(size) });
  saveTensors(io, new Map([['x', x], ['y', y]]));
  const r = spawnSync(py, [script, 'check', w, io, arch, role, String(size)], { encoding: 'utf8' });
  process.stdout.write(`mrigan → PyTorch  ${r.stdout}${r.stderr}`);
  if (r.status !== 0) failed++;
  m.dispose();
  // 2. PyTorch → mrigan
  const e = spawnSync(py, [script, 'export', arch, role, String(size), w, io], { encoding: 'utf8' });
  if (e.status !== 0) { console.log(e.stderr); failed++; continue; }
  const m2 = buildModel(arch, role, { size, init: false }).eval();
  loadModel(w, m2);
  const f = readSafetensors(io);
  const x2 = Tensor.fromArray(asF32(f.tensors.get('x')!), f.tensors.get('x')!.shape);
  const want = asF32(f.tensors.get('y')!);
  const got = m2.forward(x2).toFloat32Array();
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) { err = Math.max(err, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
  const ok = got.length === want.length && err <= 1e-4 * scale + 1e-6;
  console.log(`PyTorch → mrigan  ${arch} ${role} ${size}: mrigan eval forward on PyTorch's weights vs PyTorch's output: max |err| ${err.toPrecision(3)} (max |y| ${scale.toPrecision(3)}) ${ok ? 'OK' : 'MISMATCH'}`);
  if (!ok) failed++;
  m2.dispose();
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(failed ? `${failed} check(s) failed` : 'all interop checks passed');
process.exit(failed ? 1 : 0);
