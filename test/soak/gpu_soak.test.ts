// GPU soak (issue 14): the same 1000-step DCGAN run as soak.test.ts on cuda:0. After the warm-up the CUDA caching
// allocator must be flat: the same bytes in use at the same point of a step, no more reserved from the driver, and
// no cudaMalloc after warm-up beyond a small bound (a leak of one small tensor per step would take 1000 of them).
// Runs with MRIGAN_SOAK=1 where a GPU is present (scripts/device-check.sh runs it); skipped otherwise, saying why.
import { expect } from 'chai';
import { Trainer, memorySource, resolveConfig } from '../../lib/train';
import { memStats, CudaMemStats } from '../../lib/engine/cuda';
import { cudaSkipReason } from '../engine/devices';

const STEPS = Number(process.env.MRIGAN_SOAK_STEPS ?? 1000);
const WARMUP = Math.min(200, Math.floor(STEPS / 5));
export const GPU_MALLOCS_BOUND = 4;

describe('soak: 1000 training steps on the GPU keep GPU memory flat', function () {
  const why = !process.env.MRIGAN_SOAK ? 'set MRIGAN_SOAK=1' : cudaSkipReason;
  if (why) {
    it.skip(`skipped: ${why}`);
    return;
  }
  this.timeout(1800000);
  it(`${STEPS} DCGAN steps on cuda:0: bytes in use equal after warm-up, reserved flat, ≤ ${GPU_MALLOCS_BOUND} cudaMalloc after warm-up`, async () => {
    const n = 64, size = 64;
    const data = memorySource(Float32Array.from({ length: n * size * size }, (_, i) => Math.sin(i * 0.37) * 0.9), [n, 1, size, size]);
    const cfg = resolveConfig({ model: 'dcgan', size, width: 2, batch: 4, epochs: Math.ceil(STEPS / (n / 4)), seed: 11, dropout: 0.1 });
    const samples: (CudaMemStats & { step: number })[] = [];
    const t = Trainer.create(cfg, { data, out: null, device: 'cuda:0', progress: 'none', stopAfter: STEPS,
      onStep: (m) => { if (m.step % 50 === 0) samples.push({ step: m.step, ...memStats('cuda:0') }); } });
    const t0 = Date.now();
    await t.run();
    const secs = (Date.now() - t0) / 1000;
    t.dispose();
    expect(t.step).to.equal(STEPS);
    const warm = samples.find((s) => s.step >= WARMUP)!, end = samples[samples.length - 1];
    const after = samples.filter((s) => s.step >= WARMUP);
    const mib = (b: number) => (b / 2 ** 20).toFixed(2);
    process.stdout.write(`    gpu soak: ${STEPS} steps in ${secs.toFixed(1)} s; in use ${mib(warm.inUse)} → ${mib(end.inUse)} MiB, ` +
      `reserved ${mib(warm.reserved)} → ${mib(end.reserved)} MiB (max ${mib(Math.max(...after.map((s) => s.reserved)))}), cudaMalloc ${warm.mallocs} → ${end.mallocs}\n`);
    expect(end.inUse, 'GPU bytes in use at the same point of a step').to.equal(warm.inUse);
    expect(Math.max(...after.map((s) => s.reserved)), 'GPU bytes reserved after warm-up').to.be.at.most(warm.reserved + 4 * 2 ** 20);
    expect(end.mallocs - warm.mallocs, 'cudaMalloc calls after warm-up').to.be.at.most(GPU_MALLOCS_BOUND);
  });
});
