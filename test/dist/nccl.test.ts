// The NCCL path on one GPU (issue 11): MRIGAN_NCCL_SELF=1 makes a plain process a 1-rank NCCL world, so the GPU
// machine (one GPU, no MPI) runs ncclBroadcast of the initial state, the bucketed ncclAllReduce(avg) on the side
// stream with its events, and the loss reduction. Over one rank every collective is the identity, so the training
// run must equal the run without NCCL. Skips (saying why) without a GPU or without libnccl.so.2 (MRIGAN_NCCL_LIB).
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { launch, plainEnv } from './launch';
import { cudaSkipReason } from '../engine/devices';

const script = path.join(__dirname, 'train_worker.js');

/** '' when a 1-rank NCCL world can be made here, else why not. */
function ncclSkipReason(): string {
  if (cudaSkipReason) return cudaSkipReason;
  const probe = "const d=require(process.argv[1]); const w=d.world('cuda'); console.log('TRANSPORT '+w.transport+' '+w.ncclVersion)";
  const r = spawnSync(process.execPath, ['-e', probe, path.join(__dirname, '../../lib/dist')],
    { env: plainEnv({ MRIGAN_NCCL_SELF: '1' }), encoding: 'utf8', timeout: 60_000 });
  const m = /TRANSPORT (\S+) (\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) return `no NCCL: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return m[1] === 'nccl' ? '' : `transport is ${m[1]}`;
}

const flat = (r: any): number[] => [...r.G.flat(), ...r.D.flat(), ...r.buffers.flat()];
const maxDiff = (a: number[], b: number[]): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('dist: the NCCL path on one GPU (MRIGAN_NCCL_SELF=1)', function () {
  this.timeout(300_000);
  let why = '';
  before(function () {
    why = ncclSkipReason();
    if (why) { console.log(`      skipped: ${why}`); this.skip(); }
  });

  it('the 1-rank NCCL world is valid: transport nccl, size 1, the GPU', () => {
    const probe = "const d=require(process.argv[1]); console.log(JSON.stringify(d.world('cuda')))";
    const r = spawnSync(process.execPath, ['-e', probe, path.join(__dirname, '../../lib/dist')],
      { env: plainEnv({ MRIGAN_NCCL_SELF: '1' }), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    const w = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect([w.transport, w.size, w.rank, w.mpi]).to.deep.equal(['nccl', 1, 0, false]);
    expect(w.ncclVersion).to.be.at.least(21000);
  });

  // dcgan WGAN-GP (SyncBN in G: its statistics go through allReduceScalars) and cepa2024 DCGAN, 3 steps on the GPU.
  // The baseline runs twice: if the GPU kernels are not bitwise reproducible run to run, the NCCL run may differ
  // from the baseline by no more than the baseline differs from itself.
  for (const [model, arch] of [['wgan-gp', 'dcgan'], ['dcgan', 'cepa2024']] as const) {
    it(`${model} on ${arch}: 3 GPU steps through NCCL = 3 GPU steps without it`, () => {
      const env = { MRIGAN_TEST_DEVICE: 'cuda' };
      const a1 = launch([], [model, arch, '3'], env, 240_000, script);
      expect(a1.status, a1.output).to.equal(0);
      const a2 = launch([], [model, arch, '3'], env, 240_000, script);
      expect(a2.status, a2.output).to.equal(0);
      const b = launch([], [model, arch, '3'], { ...env, MRIGAN_NCCL_SELF: '1' }, 240_000, script);
      expect(b.status, b.output).to.equal(0);
      const [r1, r2, rb] = [a1.results[0], a2.results[0], b.results[0]];
      expect(r1.transport).to.equal('none');
      expect(rb.transport, 'the run went through NCCL').to.equal('nccl');
      expect(rb.sums, 'broadcast checksums were computed').to.not.equal(null);
      const spread = maxDiff(flat(r2), flat(r1));
      expect(maxDiff(flat(rb), flat(r1)), `weights after 3 steps (baseline spread ${spread})`).to.be.at.most(spread);
      for (const k of ['D', 'G']) expect(maxDiff(rb.firstGrads[k], r1.firstGrads[k]), `first ${k} gradient`)
        .to.be.at.most(maxDiff(r2.firstGrads[k], r1.firstGrads[k]));
      for (const [i, rec] of r1.records.entries())
        for (const k of ['d_loss', 'g_loss']) expect(rb.records[i][k], `step ${i + 1} ${k}`).to.be.closeTo(rec[k], Math.abs(r2.records[i][k] - rec[k]));
    });
  }
});

describe('dist: MRIGAN_NCCL_SELF on a process without a GPU', () => {
  it('is a clear error naming the variable, not a silent CPU world', function () {
    if (!cudaSkipReason) this.skip(); // a GPU is present: the suite above covers it
    const probe = "const d=require(process.argv[1]); try { d.world('auto'); console.log('NO ERROR') } catch (e) { console.log('ERR ' + e.message) }";
    const r = spawnSync(process.execPath, ['-e', probe, path.join(__dirname, '../../lib/dist')],
      { env: plainEnv({ MRIGAN_NCCL_SELF: '1' }), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ERR .*MRIGAN_NCCL_SELF: NCCL needs a GPU/m);
  });
});
