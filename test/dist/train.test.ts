// Data-parallel training for real: 2 mpirun ranks against 1 process with the same global batch. Both ranks must
// hold bitwise-equal weights (one all-reduce, one guard decision, one optimizer step on identical values), and the
// 2-rank run must equal the 1-rank run up to float32 summation order: the same global permutation, randomness keyed
// by global sample index (noise, label noise, ε, dropout masks), SyncBatchNorm's global statistics.
import { expect } from 'chai';
import * as path from 'path';
import * as fs from 'fs';
import * as os from 'os';
import { spawnSync } from 'child_process';
import { launch, mpirun, hasMpirun, plainEnv } from './launch';

const script = path.join(__dirname, 'train_worker.js');
const flat = (o: any): number[] => [...o.G, ...o.D].flat();

/** Relative L2 distance of two weight vectors, and the largest element difference. */
function distance(a: number[], b: number[]): { rel: number; max: number } {
  let d = 0, n = 0, max = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; n += b[i] ** 2; max = Math.max(max, Math.abs(a[i] - b[i])); }
  return { rel: Math.sqrt(d / n), max };
}

describe('dist: data-parallel training, 2 ranks = 1 process with the same global batch', function () {
  this.timeout(300_000);
  before(function () { if (!hasMpirun) this.skip(); });

  // dcgan WGAN-GP (textbook critic, no BN: the exact penalty per rank, one reduction of its three passes; SyncBN in G)
  // and cepa2024 DCGAN (SyncBN in G and D, dropout 0.2): 2 steps of global batch 8.
  for (const [model, arch] of [['wgan-gp', 'dcgan'], ['dcgan', 'cepa2024']] as const) {
    it(`${model} on ${arch}`, () => {
      const two = launch(mpirun(2), [model, arch, '2'], {}, 240_000, script);
      expect(two.status, two.output).to.equal(0);
      const one = launch([], [model, arch, '2'], {}, 240_000, script);
      expect(one.status, one.output).to.equal(0);
      const [r0, r1] = two.results, ref = one.results[0];
      expect(r0.size).to.equal(2);
      expect(r0.syncBn).to.equal(true);
      expect(r0.sums).to.deep.equal(r1.sums);
      expect(flat(r1), 'rank 1 holds rank 0 weights bit for bit').to.deep.equal(flat(r0));
      expect(r1.buffers).to.deep.equal(r0.buffers);
      // The gradients the first updates step on (after the reduction) agree to float32 summation order …
      for (const k of ['D', 'G']) {
        const g = distance(r0.firstGrads[k], ref.firstGrads[k]);
        expect(g.rel, `first ${k} update's gradient, 2 ranks vs 1 process (relative L2)`).to.be.below(1e-4);
      }
      // … and so do the losses of every step. The weights after several steps do not: Adam's first steps move every
      // element by ≈ ±lr whatever its gradient's size, so elements whose gradient is at rounding level flip, and GAN
      // training amplifies that (measured here: 0.1 % of weights differ by > lr/10 after step 1, 6 % after step 2,
      // 30 % after step 3; a CPU conv summation-order change alone does the same). The weights are therefore checked
      // after the first step only, where a wrong shard or random stream would move most of them.
      for (const [i, rec] of ref.records.entries())
        for (const k of ['d_loss', 'g_loss']) expect(r0.records[i][k], `step ${i + 1} ${k}`).to.be.closeTo(rec[k], 2e-3 * (1 + Math.abs(rec[k])));
      const lr = 1e-3, moved = r0.step1.filter((v: number, i: number) => Math.abs(v - ref.step1[i]) > lr / 10).length;
      expect(moved / r0.step1.length, 'weights after step 1: fraction that differ by > lr/10').to.be.below(0.01);
    });
  }

  it('--resume with another rank count: 1 process for step 1, then 2 ranks for step 2 = 1 process for both', () => {
    const run = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-dpr-')), 'run');
    const env = { MRIGAN_TEST_GRAD_STEP: '2' };
    const a = launch([], ['dcgan', 'cepa2024', '1', run], env, 240_000, script);
    expect(a.status, a.output).to.equal(0);
    const b = launch(mpirun(2), ['dcgan', 'cepa2024', '1', run, 'resume'], env, 240_000, script);
    expect(b.status, b.output).to.equal(0);
    const ref = launch([], ['dcgan', 'cepa2024', '2'], env, 240_000, script).results[0];
    const r0 = b.results[0];
    expect(r0.records.map((r: any) => r.step)).to.deep.equal([2]);
    for (const k of ['D', 'G']) {
      const g = distance(r0.firstGrads[k], ref.firstGrads[k]);
      expect(g.rel, `step 2's first ${k} gradient, resumed on 2 ranks vs 1 process (relative L2)`).to.be.below(1e-3);
    }
    for (const k of ['d_loss', 'g_loss']) expect(r0.records[0][k], k).to.be.closeTo(ref.records[1][k], 2e-3 * (1 + Math.abs(ref.records[1][k])));
  });

  it('examples/train-dp.ts under mpirun: rank 0 writes the run (samples through SyncBatchNorm without the other rank)', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-dp-')), 'run');
    const r = spawnSync('mpirun', [...mpirun(2).slice(1), process.execPath, path.join(__dirname, '../../examples/train-dp.js'), out], {
      env: plainEnv({ OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', MRIGAN_COLLECTIVE_TIMEOUT: '60' }),
      encoding: 'utf8', timeout: 180_000, killSignal: 'SIGKILL',
    });
    expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/trained on 2 rank\(s\)/);
    for (const f of ['samples/epoch-002.png', 'samples/grid-002.png', 'metrics.jsonl', 'checkpoints/latest.json'])
      expect(fs.existsSync(path.join(out, f)), f).to.equal(true);
  });
});
