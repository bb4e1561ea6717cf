// Seconds per training-mode forward + backward of each pinned network (min over reps after a warm-up), the peer of
// `python3 bench/reference/models.py bench SIZE BATCH`. Run: npx tsc -p . && node dist/bench/reference/models-bench.js 256 2
import { Tensor, Rng, engineInfo } from '../../lib/engine';
import { buildModel, inputShape, Arch, Role, ImageSize } from '../../lib/models';

const size = Number(process.argv[2] ?? 256) as ImageSize;
const batch = Number(process.argv[3] ?? 2);
const reps = Number(process.argv[4] ?? 3);
const nets: [Arch, Role][] = [['dcgan', 'generator'], ['dcgan', 'discriminator'], ['dcgan', 'critic'], ['cepa2024', 'generator'], ['cepa2024', 'discriminator']];
for (const [arch, role] of nets) {
  const m = buildModel(arch, role, { size, seed: 1 });
  const xs = inputShape(arch, role, batch, { size });
  const x = new Rng(2, 0).normal(xs);
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t = process.hrtime.bigint();
    const y = m.forward(x);
    const dy = Tensor.full(y.shape, 1);
    m.backward(dy).dispose();
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
    dy.dispose();
    y.dispose();
  }
  console.log(`${arch} ${role} ${size} batch ${batch}: ${Math.min(...times.slice(1)).toFixed(3)} s forward+backward (mrigan, ${engineInfo().threads} threads, ${engineInfo().blas})`);
  m.dispose();
}
