// FID trace term tr (Σ1Σ2)^½ at d = 2048: mrigan's float64 TypeScript (pivoted Cholesky + symmetric eigensolver,
// lib/metrics/fid.ts) against scipy.linalg.sqrtm (pytorch-fid's route) on the same statistics, via
// bench/reference/fid_trace.py. One thread each (OPENBLAS_NUM_THREADS=1; our code is single-threaded).
//
//   npx tsc -p . && node dist/bench/fid-trace.js [d=2048] [--sqrt] [--json]
//
// --sqrt also times the literal Σ1^½ Σ2 Σ1^½ route (eigenvectors; slower). Each side runs once: the host is shared,
// so both wall and CPU time (process CPU seconds, less sensitive to other load) are printed; ratios use CPU time.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readFidStats } from '../lib/metrics/npz';
import { frechetDistance, TraceMethod } from '../lib/metrics/fid';

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
  const rows: { method: string; seconds: number; cpu: number; trace: number; fid: number; rel: number; ratio: number }[] = [];
  const methods: TraceMethod[] = args.includes('--sqrt') ? ['cholesky', 'sqrt'] : ['cholesky'];
  for (const method of methods) {
    const t = process.hrtime.bigint(), c0 = process.cpuUsage();
    const r = frechetDistance(s1, s2, { method });
    const sec = Number(process.hrtime.bigint() - t) / 1e9, cu = process.cpuUsage(c0), cpu = (cu.user + cu.system) / 1e6;
    rows.push({ method, seconds: sec, cpu, trace: r.traceSqrt, fid: r.fid, rel: Math.abs(r.traceSqrt - ref.trace) / Math.abs(ref.trace), ratio: cpu / ref.cpu });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  if (args.includes('--json')) { console.log(JSON.stringify({ d, scipy: ref, rows })); return; }
  console.log(`d = ${d}; scipy ${ref.scipy} / numpy ${ref.numpy}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('| route | wall s | CPU s | tr (Σ1Σ2)^½ | rel. diff to scipy | CPU time / scipy |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| mrigan ${r.method} | ${r.seconds.toFixed(2)} | ${r.cpu.toFixed(2)} | ${r.trace} | ${r.rel.toExponential(2)} | ${r.ratio.toFixed(2)} |`);
  console.log(`| scipy sqrtm | ${ref.seconds.toFixed(2)} | ${ref.cpu.toFixed(2)} | ${ref.trace} | — | 1 |`);
}

main();
