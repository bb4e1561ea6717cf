// Distributed tests with real ranks: mpirun starts `node dist/test/dist/worker.js SCENARIO`, each rank writes its
// results, and the checks here compare them with closed forms recomputed in float64 from the same seeded inputs.
// Skipped when mpirun is missing. OMPI_ALLOW_RUN_AS_ROOT* and --oversubscribe: CI runs as root on 2 cores.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectClose } from '../helpers';
import { SHAPES, input } from './worker';

const worker = path.join(__dirname, 'worker.js');
const hasMpirun = spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).status === 0;

/** The environment of a process started without a launcher: no OMPI_/PMI_/PMIX_/SLURM_ variables. */
export function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OMPI_|PMI_|PMIX_|SLURM_|PRTE_)/.test(k)) env[k] = v;
  return { ...env, MRIGAN_THREADS: '1', ...extra };
}

export interface Run { status: number | null; output: string; seconds: number; results: any[] }

/** Runs `launcher... node worker.js args` with a fresh result folder; results[r] is rank r's JSON (or undefined). */
export function launch(launcher: string[], args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 90_000): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-dist-'));
  const t0 = Date.now();
  const [cmd, ...pre] = launcher.length ? launcher : [process.execPath];
  const argv = launcher.length ? [...pre, process.execPath, worker, ...args] : [worker, ...args];
  const r = spawnSync(cmd, argv, {
    env: plainEnv({ OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', MRIGAN_TEST_OUT: dir, ...extraEnv }),
    encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL',
  });
  const results: any[] = [];
  for (const f of fs.readdirSync(dir)) {
    const m = /^rank-(\d+)\.json$/.exec(f);
    if (m) results[Number(m[1])] = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, seconds: (Date.now() - t0) / 1000, results };
}

const mpirun = (np: number) => ['mpirun', '--oversubscribe', '-np', String(np)];
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Σ over ranks of input(r, k, n, salt), in float64. */
export function sumOver(size: number, k: number, n: number, salt: number): number[] {
  const s = new Array<number>(n).fill(0);
  for (let r = 0; r < size; r++) input(r, k, n, salt).forEach((v, i) => { s[i] += v; });
  return s;
}

// float32 sum of `size` values in [-1, 1]: one rounding per addition
const RTOL = 1e-6, ATOL = 1e-6;

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
  });
});

(hasMpirun ? describe : describe.skip)('dist: 2 ranks under mpirun', function () {
  this.timeout(120_000);

  it('reports ranks, sizes and local ranks, and reduces, broadcasts and waits correctly', () => {
    const r = launch(mpirun(2), ['collectives']);
    expect(r.status, r.output).to.equal(0);
    const size = 2;
    expect(r.results.map((o) => o.world.rank)).to.deep.equal([0, 1]);
    for (const [rank, o] of r.results.entries()) {
      expect(o.world).to.include({ rank, size, localRank: rank, localSize: 2, transport: 'mpi', mpi: true, device: 'cpu' });
      expect(o.mpiInitialized).to.equal(true);
      expect(o.launched).to.equal(true);
      SHAPES.forEach((s, k) => {
        const n = numel(s);
        expectClose(o.sum[k], sumOver(size, k, n, 0), RTOL, ATOL, `rank ${rank} sum ${k}`);
        expectClose(o.mean[k], sumOver(size, k, n, 100).map((v) => v / size), RTOL, ATOL, `rank ${rank} mean ${k}`);
        expect(o.bcast[k], `rank ${rank} broadcast ${k}`).to.deep.equal(Array.from(input(size - 1, k, n, 200)));
      });
      expectClose(o.single[0], sumOver(size, 9, 5, 300), RTOL, ATOL, 'single tensor');
      [0, 1, 2].forEach((k) => expectClose(o.nbSum[k], sumOver(size, k, numel(SHAPES[k]), 400), RTOL, ATOL, `start/wait sum ${k}`));
      [3, 4, 5].forEach((k) => expectClose(o.nbMean[k - 3], sumOver(size, k, numel(SHAPES[k]), 400).map((v) => v / size),
        RTOL, ATOL, `start/wait mean ${k}`));
      expect(o.pendingBefore).to.equal(2);
      expect(o.pendingAfter).to.equal(0);
      expectClose(o.scalars.sum, [3, -1, 0.1 + 0.2, 2e300], 1e-15, 0, 'scalar sum');
      expect(o.scalars.max).to.deep.equal([1, 0]);
      expect(o.scalars.min).to.deep.equal([0, -1]);
    }
  });

  it('broadcastParams: every rank ends with rank 0\'s values and the same checksum', () => {
    const r = launch(mpirun(2), ['params']);
    expect(r.status, r.output).to.equal(0);
    const [a, b] = r.results;
    expect(a.values).to.deep.equal([Array.from(input(0, 0, 6, 700)), Array.from(input(0, 1, 4, 700))]);
    expect(b.values).to.deep.equal(a.values);
    expect(a.checksum).to.equal(b.checksum).and.to.equal(a.again);
  });

  it('broadcastParams: a rank whose tensors differ in layout is named on every rank', () => {
    const r = launch(mpirun(2), ['params', 'mismatch']);
    expect(r.status, r.output).to.equal(0);
    for (const o of r.results) expect(o.error).to.match(/checksum of rank\(s\) 1 .*differs from rank 0/);
  });
});

/** Checks a bucket run: every element reduced exactly once (sum over ranks), the plan's invariants and the stats. */
export function checkBuckets(o: any, size: number): void {
  const n = SHAPES.length;
  for (const x of o.res) {
    const flat = (x.plan as number[][]).flat();
    expect(flat, `bytes ${x.bytes}: plan covers each parameter once, in reverse order`).to.deep.equal([...Array(n).keys()].reverse());
    x.plan.forEach((b: number[], j: number) => {
      const bytes = b.map((i) => numel(SHAPES[i]) * 4);
      const total = bytes.reduce((p, q) => p + q, 0);
      if (j < x.plan.length - 1) expect(total, `bucket ${j} reaches the target`).to.be.at.least(x.bytes);
      expect(total - bytes[bytes.length - 1], `bucket ${j} closes at the first parameter reaching the target`).to.be.below(x.bytes);
    });
    expect(x.stats).to.deep.equal({ buckets: x.plan.length, startedEarly: x.plan.length });
    const marked = new Set([2, 0, 5, 3]);
    let early = 0;
    while (early < x.plan.length && x.plan[early].every((i: number) => marked.has(i))) early++;
    expect(x.stats2).to.deep.equal({ buckets: x.plan.length, startedEarly: early });
    SHAPES.forEach((s, k) => expectClose(x.grads[k], sumOver(size, k, numel(s), 600), RTOL, ATOL, `bytes ${x.bytes} grad ${k}`));
    expect(x.pending).to.equal(0);
  }
}

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
});
