// Mutation fuzzing of every parser that reads user files (targets.ts), each target in its own child process so a
// crash (native abort, out of memory) or a hang (per-target wall-clock limit) is a reported failure whose input is
// saved to test/fuzz/cases/ for replay. In `npm test` a short run (MRIGAN_FUZZ_N, default 300 per target); in CI
// `npm run test:fuzz` runs 10 000 inputs per target from the fixed seed plus MRIGAN_FUZZ_RANDOM_N (default 1000)
// from a random seed, printed so a failure can be replayed: node dist/test/fuzz/run.js TARGET N SEED.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { TARGETS, PENDING } from './targets';
import { saveCase } from './run';

const N = Number(process.env.MRIGAN_FUZZ_N ?? 300);
const NR = Number(process.env.MRIGAN_FUZZ_RANDOM_N ?? Math.ceil(N / 10));
const FIXED = 1;
const RANDOM = Number(process.env.MRIGAN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LIMIT_MS = Number(process.env.MRIGAN_FUZZ_LIMIT_MS ?? 5000); // per input (loaded CI machines are slow)
const runner = path.join(__dirname, 'run.js');

interface Res { target: string; seed: number; n: number; cases: number; ms: number; slowest: number; failures: { kind: string; message: string; saved: string }[]; note?: string }

/** Runs one target in a child; resolves with its result, or a synthetic failure when it dies or hangs. */
function child(target: string, n: number, seed: number, wallMs: number): Promise<Res> {
  const current = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-fuzzcur-')), 'current.bin');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [runner, target, String(n), String(seed), String(LIMIT_MS)], {
      env: { ...process.env, MRIGAN_FUZZ_CURRENT: current, MRIGAN_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), wallMs);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      let res: Res | null = null;
      try { res = JSON.parse(line); } catch { /* died before reporting */ }
      if (res && (code === 0 || code === 1)) return resolve(res);
      const saved = fs.existsSync(current) ? saveCase(target, fs.readFileSync(current)) : '(no input recorded)';
      resolve({ target, seed, n, cases: 0, ms: wallMs, slowest: -1,
        failures: [{ kind: signal === 'SIGKILL' ? 'hang' : 'crash', message: `exit ${code} signal ${signal}: ${err.slice(-1500)}`, saved }] });
    });
  });
}

/** Runs the jobs two at a time (CI has 2 cores), the costliest first (so the longest job does not start last and run
 *  alone at the end); results in the order given. */
async function pool<T>(jobs: { cost: number; run: () => Promise<T> }[], width = 2): Promise<T[]> {
  const out: T[] = [];
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].cost - jobs[a].cost);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < order.length) { const i = order[next++]; out[i] = await jobs[i].run(); }
  }));
  return out;
}

describe('fuzz: parsers of user files', function () {
  const wall = Math.max(60000, (N + NR) * 60); // generous: 60 ms per input on a loaded machine
  this.timeout(wall * TARGETS.length);

  it(`${TARGETS.length} targets × (${N} inputs from seed ${FIXED} + ${NR} from seed ${RANDOM}): known errors only, no crash or hang`, async () => {
    process.stdout.write(`    fuzz: random seed ${RANDOM} (replay: MRIGAN_FUZZ_SEED=${RANDOM}); pending targets: ${Object.keys(PENDING).join(', ') || 'none'}\n`);
    const jobs = TARGETS.flatMap((t) => [{ cost: N * (t.cost ?? 1), run: () => child(t.name, N, FIXED, wall) },
      ...(NR > 0 ? [{ cost: NR * (t.cost ?? 1), run: () => child(t.name, NR, RANDOM, wall) }] : [])]);
    const t0 = Date.now();
    const results = await pool(jobs);
    for (const r of results) process.stdout.write(`    fuzz ${r.target.padEnd(16)} seed ${String(r.seed).padEnd(11)} ${r.n} inputs + ${r.cases} saved cases in ${(r.ms / 1000).toFixed(1)} s (slowest ${r.slowest} ms)${r.note ? `; ${r.note}` : ''}${r.failures.length ? `, ${r.failures.length} FAILURES` : ''}\n`);
    process.stdout.write(`    fuzz total ${((Date.now() - t0) / 1000).toFixed(1)} s wall\n`);
    const bad = results.flatMap((r) => r.failures.map((f) => `${r.target} (seed ${r.seed}) ${f.kind}: ${f.message.split('\n')[0]} — saved ${f.saved}`));
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });
});
