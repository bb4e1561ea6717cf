// SLURM for real: a one-node cluster (scripts/slurm/local-cluster.sh, root, munge + slurmctld + slurmd), then
// `srun --mpi=pmix -n 2` of the collectives worker and of `mrigan train`, and one `sbatch` job run to completion. Gated on MRIGAN_SLURM=1
// (.ci/run sets it after starting the cluster); stops the cluster afterwards only if this test started it.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launch, plainEnv, worker, checkCollectives, hasMpirun } from './launch';
import { DatasetWriter } from '../../lib/data';
import { randArray } from '../helpers';

const script = path.join(__dirname, '..', '..', '..', 'scripts', 'slurm', 'local-cluster.sh');
const sh = (args: string[], env: NodeJS.ProcessEnv = plainEnv()) =>
  spawnSync(args[0], args.slice(1), { encoding: 'utf8', env, timeout: 120_000 });

(process.env.MRIGAN_SLURM === '1' && hasMpirun ? describe : describe.skip)('dist: SLURM (local one-node cluster)', function () {
  this.timeout(180_000);
  let startedHere = false;

  before(() => {
    startedHere = !/slurmctld: running/.test(sh([script, 'status']).stdout);
    const r = sh([script, 'start']);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
  });
  after(() => {
    if (startedHere) sh([script, 'stop']);
  });

  it('srun --mpi=pmix -n 2: two ranks reduce and broadcast correctly', () => {
    const r = launch(['srun', '--mpi=pmix', '-n', '2'], ['collectives']);
    expect(r.status, r.output).to.equal(0);
    checkCollectives(r.results, 2);
  });

  it('under srun too, a throwing or killed rank ends both ranks within 60 s, naming the rank', () => {
    for (const [how, names] of [['throw', /mrigan: rank 1 of 2: .*deliberate failure/], ['kill', /task 1: Killed/]] as const) {
      const r = launch(['srun', '--mpi=pmix', '-n', '2'], ['fail', how]);
      expect(r.status, r.output).to.not.equal(0);
      expect(r.seconds).to.be.below(60);
      expect(r.results.filter(Boolean), `${how}: no rank finished its collective`).to.have.length(0);
      expect(r.output).to.match(names);
    }
  });

  it('srun --mpi=pmix -n 2 mrigan train: a 2-rank run of the CLI, rank 0 writes the run folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-srun-train-')), data = path.join(dir, 'set.mrigan');
    const w = new DatasetWriter(data, {
      shape: [16, 1, 64, 64], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
      slices: Array.from({ length: 16 }, (_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })),
    });
    for (let i = 0; i < 16; i++) w.writeSlice(i, randArray(64 * 64, 900 + i));
    w.commit();
    const cli = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js'), out = path.join(dir, 'run');
    const r = sh(['srun', '--mpi=pmix', '-n', '2', process.execPath, cli, 'train', '--data', data, '--model', 'dcgan',
      '--arch', 'cepa2024', '--width', '2', '--batch', '8', '--epochs', '2', '--eval-every', '0', '--progress', 'none',
      '--device', 'cpu', '--out', out], plainEnv({ MRIGAN_COLLECTIVE_TIMEOUT: '60' }));
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/\(2 ranks, mpi\)/);
    expect(r.stdout.match(/^training /gm), 'rank 0 alone prints').to.have.length(1);
    for (const f of ['samples/epoch-002.png', 'checkpoints/latest.json', 'metrics.jsonl'])
      expect(fs.existsSync(path.join(out, f)), f).to.equal(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an sbatch job (2 tasks, srun inside) runs to completion', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-sbatch-'));
    const job = path.join(dir, 'job.sbatch');
    fs.writeFileSync(job, [
      '#!/bin/bash',
      '#SBATCH --job-name=mrigan-test',
      '#SBATCH --ntasks=2',
      `#SBATCH --output=${dir}/job.out`,
      'set -e',
      `srun --mpi=pmix -n 2 ${process.execPath} ${worker} collectives`,
      '',
    ].join('\n'));
    const sub = sh(['sbatch', '--parsable', job], plainEnv({ MRIGAN_TEST_OUT: dir }));
    expect(sub.status, sub.stderr).to.equal(0);
    const id = sub.stdout.trim().split(';')[0];
    let state = '';
    const end = Date.now() + 150_000;
    while (Date.now() < end) {
      state = /JobState=(\S+)/.exec(sh(['scontrol', 'show', 'job', id, '-o']).stdout)?.[1] ?? '';
      if (/^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)$/.test(state)) break;
      spawnSync('sleep', ['0.5']);
    }
    const log = fs.existsSync(path.join(dir, 'job.out')) ? fs.readFileSync(path.join(dir, 'job.out'), 'utf8') : '';
    expect(state, `job ${id}; output:\n${log}`).to.equal('COMPLETED');
    const results = [0, 1].map((r) => JSON.parse(fs.readFileSync(path.join(dir, `rank-${r}.json`), 'utf8')));
    checkCollectives(results, 2);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
