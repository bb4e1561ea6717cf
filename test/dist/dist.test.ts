// Distributed tests with real ranks: mpirun starts `node dist/test/dist/worker.js SCENARIO`, each rank writes its
// results, and the checks here compare them with closed forms recomputed in float64 from the same seeded inputs.
// Skipped when mpirun is missing or the addon has no MPI (the node-gyp build). OMPI_ALLOW_RUN_AS_ROOT* and --oversubscribe: CI runs as root on 2 cores.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { input } from './worker';
import { Run, launch, plainEnv, hasMpirun, mpirun, checkCollectives, checkBuckets } from './launch';

describe('dist: a plain process', () => {
  it('is a world of 1 with transport none and never calls MPI_Init', () => {
    const r = launch([], ['plain']);
    expect(r.status, r.output).to.equal(0);
    const o = r.results[0];
    expect(o.world).to.include({ rank: 0, size: 1, localRank: 0, localSize: 1, transport: 'none', mpi: false });
    expect(o.before).to.equal(false);
    expect(o.after).to.equal(false);
    expect(o.launched).to.equal(false);
    expect(o.values).to.deep.equal([[1, 2, 3]]);  // collectives of a world of 1 leave the values
    expect(o.scalars).to.deep.equal([2.5]);
    if (o.cudaError !== null) expect(o.cudaError).to.match(/device cuda requested but /);  // machines without a GPU
  });
});

(hasMpirun ? describe : describe.skip)('dist: 2 ranks under mpirun', function () {
  this.timeout(120_000);

  it('reports ranks, sizes and local ranks, and reduces, broadcasts and waits correctly', () => {
    const r = launch(mpirun(2), ['collectives']);
    expect(r.status, r.output).to.equal(0);
    checkCollectives(r.results, 2);
  });

  it('broadcastParams: every rank ends with rank 0\'s values and the same checksum', () => {
    const r = launch(mpirun(2), ['params']);
    expect(r.status, r.output).to.equal(0);
    const [a, b] = r.results;
    expect(a.values).to.deep.equal([Array.from(input(0, 0, 6, 700)), Array.from(input(0, 1, 4, 700))]);
    expect(b.values).to.deep.equal(a.values);
    expect(a.checksum).to.equal(b.checksum).and.to.equal(a.again);
  });

  // The node's shared-memory all-reduce (native/nccl/shm.cc) and plain MPI_Allreduce (MRIGAN_SHM_ALLREDUCE=0), 3 ranks
  // (so a part boundary falls inside a tensor) over 2.5 M floats (3 chunks): the mean within float32 rounding of the
  // float64 mean (a sum of 3 terms then a division: ≤ 3 roundings of the magnitude), the same bits on every rank.
  for (const shm of ['1', '0']) {
    it(`a list longer than one shared-memory chunk, 3 ranks, MRIGAN_SHM_ALLREDUCE=${shm}`, () => {
      const r = launch([...mpirun(3), '-x', 'MRIGAN_SHM_ALLREDUCE'], ['large'], { MRIGAN_SHM_ALLREDUCE: shm });
      expect(r.status, r.output).to.equal(0);
      expect(r.results.map((o) => o.world.shm)).to.deep.equal([shm === '1', shm === '1', shm === '1']);
      for (const o of r.results) {
        expect(o.maxRel).to.be.below(3 * 2 ** -24);
        expect(o.checksum, 'every rank holds the same bits').to.equal(r.results[0].checksum);
      }
    });
  }

  it('broadcastParams: a rank whose tensors differ in layout is named on every rank', () => {
    const r = launch(mpirun(2), ['params', 'mismatch']);
    expect(r.status, r.output).to.equal(0);
    for (const o of r.results) expect(o.error).to.match(/checksum of rank\(s\) 1 .*differs from rank 0/);
  });
});

// 16 B: smaller than most tensors (one bucket each); 4100 B: mixed; 1e9 B: one bucket for all; 25 MiB: the default.
const BUCKET_SIZES = ['16', '4100', '1000000000', String(25 * 1024 * 1024)];

describe('dist: gradient buckets', function () {
  this.timeout(120_000);
  it('1 rank: each parameter in one bucket, reverse order, closed at the target', () => {
    const r = launch([], ['buckets', ...BUCKET_SIZES]);
    expect(r.status, r.output).to.equal(0);
    checkBuckets(r.results[0], 1);
    expect(r.results[0].res.map((x: any) => x.plan.length)).to.deep.equal([5, 2, 1, 1])  // bytes reversed: 4, 80, 200000, 28, 4000, 12;
  });
  (hasMpirun ? it : it.skip)('2 ranks: every gradient element is summed over ranks exactly once', () => {
    const r = launch(mpirun(2), ['buckets', ...BUCKET_SIZES]);
    expect(r.status, r.output).to.equal(0);
    for (const o of r.results) checkBuckets(o, 2);
  });
});

(hasMpirun ? describe : describe.skip)('dist: a failing rank ends every rank', function () {
  this.timeout(120_000);
  const ends = (r: Run) => {
    expect(r.status, r.output).to.not.equal(0);
    expect(r.seconds, 'all ranks ended within 60 s').to.be.below(60);
    expect(r.results.filter(Boolean), 'no rank finished its collective').to.have.length(0);
  };
  it('an exception on rank 1 while rank 0 waits in an all-reduce', () => {
    const r = launch(mpirun(2), ['fail', 'throw']);
    ends(r);
    expect(r.output).to.match(/mrigan: rank 1 of 2: .*deliberate failure/);
  });
  it('rank 1 killed (SIGKILL) while rank 0 waits in an all-reduce', () => {
    const r = launch(mpirun(2), ['fail', 'kill']);
    ends(r);
    expect(r.output).to.match(/rank 1 .*(signal 9|Killed)/s);
  });
  it('rank 1 never joins: the watchdog (MRIGAN_COLLECTIVE_TIMEOUT=3) aborts, naming the waiting rank', () => {
    const r = launch(mpirun(2), ['fail', 'stall'], { MRIGAN_COLLECTIVE_TIMEOUT: '3' });
    ends(r);
    expect(r.output).to.match(/mrigan: rank 0 of 2: collective all-reduce .*not completed after 3 s/);
  });
});

describe('dist: mrigan info shows the world', function () {
  this.timeout(120_000);
  const cli = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
  const env = plainEnv({ OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' });
  const unset = { ...env };  // without plainEnv's MRIGAN_THREADS=1, for the default thread count
  delete unset.MRIGAN_THREADS;
  it('a plain process: rank 0 of 1, transport none', () => {
    const r = spawnSync(process.execPath, [cli, 'info', '--json'], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ rank: 0, size: 1, localRank: 0, transport: 'none' });
  });
  (hasMpirun ? it : it.skip)('2 ranks under mpirun: ranks 0 and 1 of 2, transport mpi', () => {
    const r = spawnSync('mpirun', [...mpirun(2).slice(1), process.execPath, cli, 'info', '--json'], { env, encoding: 'utf8', timeout: 90_000 });
    expect(r.status, r.stderr).to.equal(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.rank - b.rank);
    expect(rows.map((o) => [o.rank, o.size, o.localRank, o.localSize, o.transport])).to.deep.equal([[0, 2, 0, 2, 'mpi'], [1, 2, 1, 2, 'mpi']]);
  });
  // Default threads: a rank takes its CPUs divided among the node's ranks bound to overlapping CPUs (mpirun binds
  // each of 2 ranks to its own core: 1 each; unbound: cores / 2), so the ranks' pools never outnumber the cores (each
  // took all of them before); MRIGAN_THREADS (or --threads) still decides when given.
  (hasMpirun ? it : it.skip)('2 ranks under mpirun share the cores unless MRIGAN_THREADS says otherwise', () => {
    const cores = os.availableParallelism();
    const info = (extra: Record<string, string>, pass: string[]): { rank: number; threads: number }[] => {
      const r = spawnSync('mpirun', [...mpirun(2).slice(1), ...pass.flatMap((k) => ['-x', k]), process.execPath, cli, 'info', '--json'],
        { env: { ...unset, ...extra }, encoding: 'utf8', timeout: 90_000 });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    };
    const shared = info({}, []);
    for (const o of shared) expect(o.threads, `rank ${o.rank}`).to.be.within(1, Math.max(1, Math.floor(cores / 2)));
    if (cores >= 2) expect(shared[0].threads + shared[1].threads, 'threads of both ranks').to.be.at.most(cores);
    for (const o of info({ MRIGAN_THREADS: '3' }, ['MRIGAN_THREADS'])) expect(o.threads, `rank ${o.rank}, MRIGAN_THREADS=3`).to.equal(3);
  });
  it('a plain process takes the cores it may run on (taskset -c 0: one thread)', function () {
    if (spawnSync('taskset', ['--version']).status !== 0) this.skip();
    const all = spawnSync(process.execPath, [cli, 'info', '--json'], { env: unset, encoding: 'utf8' });
    expect(JSON.parse(all.stdout).threads).to.equal(os.availableParallelism());
    const one = spawnSync('taskset', ['-c', '0', process.execPath, cli, 'info', '--json'], { env: unset, encoding: 'utf8' });
    expect(one.status, one.stderr).to.equal(0);
    expect(JSON.parse(one.stdout).threads).to.equal(1);
  });
});
