// Conv / conv-transpose / dense benchmark: forward, backward-data and backward-weight of every conv layer of the
// pinned `dcgan` 256x256 architecture (DESIGN §4) and of cepa2024's two dense layers, mrigan CPU against PyTorch CPU
// (bench/reference/ops.py, same shapes, same thread count), printed side by side with the ratio
// mrigan ms / PyTorch ms (< 1: mrigan is faster).
//
//   npm run bench:ops -- [--threads N] [--batch 8] [--only G3,D2] [--no-torch] [--gemm builtin|openblas] [--json]
//
// Timing: 2 warm-up calls, then repeats until ~0.3 s have passed (at least 3, at most 25); the best (minimum) time is
// reported, the same rule as the Python side: on a machine shared with other jobs the minimum is the least disturbed. GFLOP/s counts 2·n·k·c·r·s·p·q for the equivalent conv (all three passes).
// PYTHON selects the interpreter (default /usr/bin/python3, which has Debian's torch).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  Tensor, engineInfo, setThreads, tidy,
  conv2dForward, conv2dBackwardData, conv2dBackwardWeight,
  convTranspose2dForward, convTranspose2dBackwardData, convTranspose2dBackwardWeight,
  denseForward, denseBackwardData, denseBackwardWeight,
} from '../lib/engine';
import { native } from '../lib/engine/native';

type Kind = 'conv' | 'convT' | 'dense';
// name, kind, in channels, out channels, input size, kernel, stride, padding — same list as bench/reference/ops.py.
const LAYERS: [string, Kind, number, number, number, number, number, number][] = [
  ['G1', 'convT', 100, 1024, 1, 4, 1, 0],
  ['G2', 'convT', 1024, 512, 4, 4, 2, 1],
  ['G3', 'convT', 512, 256, 8, 4, 2, 1],
  ['G4', 'convT', 256, 128, 16, 4, 2, 1],
  ['G5', 'convT', 128, 64, 32, 4, 2, 1],
  ['G6', 'convT', 64, 32, 64, 4, 2, 1],
  ['G7', 'convT', 32, 1, 128, 4, 2, 1],
  ['D1', 'conv', 1, 32, 256, 4, 2, 1],
  ['D2', 'conv', 32, 64, 128, 4, 2, 1],
  ['D3', 'conv', 64, 128, 64, 4, 2, 1],
  ['D4', 'conv', 128, 256, 32, 4, 2, 1],
  ['D5', 'conv', 256, 512, 16, 4, 2, 1],
  ['D6', 'conv', 512, 1024, 8, 4, 2, 1],
  ['D7', 'conv', 1024, 1, 4, 4, 1, 0],
  // cepa2024's dense layers (DESIGN §4): generator z(128) → 4·4·1024, critic head 16384 → 1
  ['L1', 'dense', 128, 16384, 1, 1, 1, 0],
  ['L2', 'dense', 16384, 1, 1, 1, 1, 0],
];

interface Row { name: string; kind: Kind; pass: string; shape: string; ms: number; reps: number; gflops: number }

function timeMs(fn: () => void, budget = 0.3, lo = 3, hi = 25): [number, number] {
  fn();
  fn();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - start) / 1e9;
  while (times.length < hi && (times.length < lo || elapsed() < budget)) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return [Math.min(...times), times.length];
}

// Deterministic fill (values only need to be finite and varied).
function filled(shape: number[], scale: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; a[i] = ((s >>> 8) / 16777216 - 0.5) * 2 * scale; }
  return Tensor.fromArray(a, shape);
}

function benchDense(name: string, cin: number, cout: number, batch: number): Row[] {
  return tidy(() => {
    const x = filled([batch, cin], 1), w = filled([cout, cin], 0.02), dy = filled([batch, cout], 1), dw = Tensor.zeros([cout, cin]);
    const flops = 2 * batch * cin * cout;
    const passes: [string, () => void][] = [
      ['fwd', () => denseForward(x, w, null).dispose()],
      ['bwd-data', () => denseBackwardData(dy, w).dispose()],
      ['bwd-weight', () => denseBackwardWeight(dy, x, dw)],
    ];
    return passes.map(([pass, fn]) => {
      const [ms, reps] = timeMs(fn);
      return { name, kind: 'dense' as Kind, pass, shape: `${batch}x${cin}->${batch}x${cout}`, ms, reps, gflops: flops / ms / 1e6 };
    });
  });
}

function benchLayer(name: string, kind: Kind, cin: number, cout: number, size: number, k: number, s: number, p: number, batch: number): Row[] {
  if (kind === 'dense') return benchDense(name, cin, cout, batch);
  return tidy(() => {
    const o = { stride: s, padding: p };
    const out = kind === 'conv' ? Math.floor((size + 2 * p - k) / s) + 1 : (size - 1) * s - 2 * p + k;
    const x = filled([batch, cin, size, size], 1);
    const w = filled(kind === 'conv' ? [cout, cin, k, k] : [cin, cout, k, k], 0.02);
    const dy = filled([batch, cout, out, out], 1);
    const dw = Tensor.zeros(w.shape);
    const [convIn, convOut] = kind === 'conv' ? [cin, cout] : [cout, cin];
    const flops = 2 * batch * convIn * convOut * k * k * (kind === 'conv' ? out * out : size * size);
    const passes: [string, () => void][] = kind === 'conv'
      ? [['fwd', () => conv2dForward(x, w, null, o).dispose()],
        ['bwd-data', () => conv2dBackwardData(dy, w, x.shape, o).dispose()],
        ['bwd-weight', () => conv2dBackwardWeight(dy, x, dw, o)]]
      : [['fwd', () => convTranspose2dForward(x, w, null, o).dispose()],
        ['bwd-data', () => convTranspose2dBackwardData(dy, w, o).dispose()],
        ['bwd-weight', () => convTranspose2dBackwardWeight(dy, x, dw, o)]];
    return passes.map(([pass, fn]) => {
      const [ms, reps] = timeMs(fn);
      return { name, kind, pass, shape: `${batch}x${cin}x${size}x${size}->${batch}x${cout}x${out}x${out} k${k} s${s} p${p}`, ms, reps, gflops: flops / ms / 1e6 };
    });
  });
}

function runTorch(threads: number, batch: number, only: string): { info: Record<string, unknown>; rows: Row[] } | string {
  const py = process.env.PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const script = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'ops.py');
  const r = spawnSync(py, [script, '--json', '--threads', String(threads), '--batch', String(batch), ...(only ? ['--only', only] : [])],
    { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return `PyTorch reference failed (${py} ${script}): ${r.error ?? r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout);
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const threads = Number(opt('--threads') ?? engineInfo().threads);
  const batch = Number(opt('--batch') ?? 8);
  const only = opt('--only') ?? '';
  const wanted = new Set(only.split(',').filter(Boolean));
  setThreads(threads);
  if (opt('--gemm')) native().gemmBackend(opt('--gemm'));
  const info = engineInfo();
  const rows: Row[] = [];
  for (const l of LAYERS) if (!wanted.size || wanted.has(l[0])) rows.push(...benchLayer(...l, batch));
  const torch = args.includes('--no-torch') ? 'skipped (--no-torch)' : runTorch(threads, batch, only);
  const peer = new Map<string, Row>();
  if (typeof torch !== 'string') {
    for (const r of torch.rows) peer.set(`${r.name} ${r.pass}`, r);
    for (const r of rows) {
      const t = peer.get(`${r.name} ${r.pass}`);
      if (t && t.shape !== r.shape) throw new Error(`bench/reference/ops.py disagrees on ${r.name}: ${t.shape} vs ${r.shape}`);
    }
  }
  const gemm = native().gemmBackend();
  if (args.includes('--json')) {
    console.log(JSON.stringify({ mrigan: { threads, gemm, blas: info.blas }, torch: typeof torch === 'string' ? torch : torch.info, rows: rows.map((r) => ({ ...r, torchMs: peer.get(`${r.name} ${r.pass}`)?.ms })) }));
    return;
  }
  console.log(`mrigan CPU: ${threads} threads, GEMM ${gemm}; PyTorch: ${typeof torch === 'string' ? torch : `${torch.info.torch}, ${torch.info.threads} threads`}`);
  console.log('| layer | shape (batch x C x H x W) | pass | mrigan ms | GFLOP/s | PyTorch ms | GFLOP/s | ratio |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|');
  let sumM = 0, sumT = 0;
  for (const r of rows) {
    const t = peer.get(`${r.name} ${r.pass}`);
    sumM += r.ms;
    if (t) sumT += t.ms;
    console.log(`| ${r.name} ${r.kind} | ${r.shape} | ${r.pass} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(1)} | ${t ? t.ms.toFixed(2) : '-'} | ${t ? t.gflops.toFixed(1) : '-'} | ${t ? (r.ms / t.ms).toFixed(2) : '-'} |`);
  }
  console.log(`| total | | | ${sumM.toFixed(1)} | | ${sumT ? sumT.toFixed(1) : '-'} | | ${sumT ? (sumM / sumT).toFixed(2) : '-'} |`);
}

main();
