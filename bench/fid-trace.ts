// FID trace term tr (Σ1Σ2)^½ at d = 2048: mrigan (Cholesky + symmetric eigensolver in TypeScript, lib/metrics/fid.ts,
// its heavy products on the float64 kernels of lib/metrics/blas64.ts) against scipy.linalg.sqrtm (pytorch-fid's
// route) on the same statistics, via bench/reference/fid_trace.py. One thread each (OPENBLAS_NUM_THREADS=1; our
// kernels are single-threaded).
//
//   npx tsc -p . && node dist/bench/fid-trace.js [d=2048] [--ts] [--sqrt] [--json]
//
// Rows: the kernels in use (native when the addon has them); --ts adds the pure-TypeScript kernels; --sqrt the literal
// Σ1^½ Σ2 Σ1^½ route (eigenvectors; slower). Each runs once: the host is shared, so both wall and CPU time (process
// CPU seconds, less sensitive to other load) are printed; ratios use CPU time. The split is CPU seconds per phase of
// the cholesky route: Cholesky of Σ1, W = Σ2 L, B = Lᵀ W, tridiagonalisation of B, QL + Σ√λ.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readFidStats } from '../lib/metrics/npz';
import { frechetDistance, TraceMethod, TracePhases } from '../lib/metrics/fid';
import { blas64, setBlas64 } from '../lib/metrics/blas64';

const PY = '/usr/bin/python3';
const script = path.join(__dirname, '..', '..', 'bench', 'reference', 'fid_trace.py');

function py(args: string[]): string {
  const r = spawnSync(PY, [script, ...args], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`fid_trace.py ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

function main(): void {
  const args = process.argv.slice(2);
  const d = Number(args.find((a) => /^\d+$/.test(a)) ?? 2048);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-fidbench-'));
  const a = path.join(dir, 'a.npz'), b = path.join(dir, 'b.npz');
  py(['make', a, b, String(d), '1']);
  const s1 = readFidStats(a), s2 = readFidStats(b);
  const ref = JSON.parse(py(['sqrtm', a, b]));
  const rows: { method: string; kernels: string; seconds: number; cpu: number; trace: number; fid: number; rel: number; ratio: number; phases: TracePhases }[] = [];
  const runs: [TraceMethod, 'auto' | 'ts'][] = [['cholesky', 'auto']];
  if (args.includes('--ts')) runs.push(['cholesky', 'ts']);
  if (args.includes('--sqrt')) runs.push(['sqrt', 'auto']);
  for (const [method, kernels] of runs) {
    setBlas64(kernels);
    const phases: TracePhases = {};
    const t = process.hrtime.bigint(), c0 = process.cpuUsage();
    const r = frechetDistance(s1, s2, { method, phases });
    const sec = Number(process.hrtime.bigint() - t) / 1e9, cu = process.cpuUsage(c0), cpu = (cu.user + cu.system) / 1e6;
    rows.push({ method, kernels: blas64().name, seconds: sec, cpu, trace: r.traceSqrt, fid: r.fid, rel: Math.abs(r.traceSqrt - ref.trace) / Math.abs(ref.trace), ratio: cpu / ref.cpu, phases });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  if (args.includes('--json')) { console.log(JSON.stringify({ d, scipy: ref, rows })); return; }
  console.log(`d = ${d}; scipy ${ref.scipy} / numpy ${ref.numpy}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('| route | kernels | wall s | CPU s | tr (Σ1Σ2)^½ | rel. diff to scipy | CPU time / scipy | split (CPU s): chol / Σ2L / LᵀW / tridiag / QL |');
  console.log('|---|---|---|---|---|---|---|---|');
  const f = (x?: number): string => (x === undefined ? '—' : x.toFixed(2));
  for (const r of rows) {
    const p = r.phases, split = p.cholesky === undefined ? '—' : [p.cholesky, p.sigma2L, p.ltW, p.tridiagonalize, p.ql].map(f).join(' / ');
    console.log(`| mrigan ${r.method} | ${r.kernels} | ${r.seconds.toFixed(2)} | ${r.cpu.toFixed(2)} | ${r.trace} | ${r.rel.toExponential(2)} | ${r.ratio.toFixed(2)} | ${split} |`);
  }
  console.log(`| scipy sqrtm | OpenBLAS | ${ref.seconds.toFixed(2)} | ${ref.cpu.toFixed(2)} | ${ref.trace} | — | 1 | — |`);
}

main();
