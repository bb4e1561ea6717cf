// Launching worker ranks (mpirun, srun, or plain) and checking their results against closed forms; shared by
// dist.test.ts and slurm.test.ts.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { engineInfo } from '../../lib/engine';
import { expectClose } from '../helpers';
import { SHAPES, input } from './worker';

export const worker = path.join(__dirname, 'worker.js');
/** mpirun exists and the addon was built with MPI (the node-gyp build has none): else the launched tests skip. */
export const hasMpirun = spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).status === 0 && engineInfo().mpi;

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

export const mpirun = (np: number) => ['mpirun', '--oversubscribe', '-np', String(np)];
export const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Σ over ranks of input(r, k, n, salt), in float64. */
export function sumOver(size: number, k: number, n: number, salt: number): number[] {
  const s = new Array<number>(n).fill(0);
  for (let r = 0; r < size; r++) input(r, k, n, salt).forEach((v, i) => { s[i] += v; });
  return s;
}

// float32 sum of `size` values in [-1, 1]: one rounding per addition
export const RTOL = 1e-6, ATOL = 1e-6;

/** Checks the 'collectives' scenario's results of every rank against closed forms. */
export function checkCollectives(results: any[], size: number): void {
  expect(results.map((o) => o.world.rank)).to.deep.equal([...Array(size).keys()]);
  for (const [rank, o] of results.entries()) {
    expect(o.world).to.include({ rank, size, localRank: rank, localSize: size, transport: 'mpi', mpi: true, device: 'cpu' });
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
}

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

