// Conv / conv-transpose / dense benchmark: forward, backward-data and backward-weight of every conv layer of the
// pinned `dcgan` 256x256 architecture (docs/design.md §4) and of cepa2024's two dense layers, mrigan CPU against PyTorch CPU
// (bench/reference/ops.py, same shapes, same thread count), printed side by side with the ratio
// mrigan ms / PyTorch ms (< 1: mrigan is faster).
//
//   npm run bench:ops -- [--threads N] [--batch 8] [--only G3,D2] [--rounds 2] [--no-torch] [--gemm builtin|openblas] [--kernel auto|gemm|direct|wino] [--wino-tile 3|4] [--json]
//
// Timing: 2 warm-up calls, then repeats until ~0.3 s have passed (at least 3, at most 25), keeping the best (minimum)
// time, the same rule as the Python side. The PyTorch peer runs as a server answering one layer at a time, and the
// two sides alternate layer by layer, each round swapping who goes first; each row reports each side's best over
// the rounds. On a machine shared with other jobs (or whose cores the hypervisor moves around) this keeps both
// sides under the same conditions. GFLOP/s counts 2·n·k·c·r·s·p·q for the equivalent conv (all three passes).
// PYTHON selects the interpreter (default /usr/bin/python3, which has Debian's torch).
import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import {
  Tensor, engineInfo, setThreads, tidy,
  conv2dForward, conv2dBackwardData, conv2dBackwardWeight,
  convTranspose2dForward, convTranspose2dBackwardData, convTranspose2dBackwardWeight,
  denseForward, denseBackwardData, denseBackwardWeight,
} from '../lib/engine';
import { native } from '../lib/engine/native';
import { sampleMs } from './timing';
import { addonLine } from './addon';

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
  // cepa2024's dense layers (docs/design.md §4): generator z(128) → 4·4·1024, critic head 16384 → 1
  // cepa2024's extra critic convs (k3 s1 p1 after D4, D5, D6) and its generator's last conv-transpose
  ['E1', 'conv', 256, 256, 16, 3, 1, 1],
  ['E2', 'conv', 512, 512, 8, 3, 1, 1],
  ['E3', 'conv', 1024, 1024, 4, 3, 1, 1],
  ['G8', 'convT', 1, 1, 256, 3, 1, 1],
  ['L1', 'dense', 128, 16384, 1, 1, 1, 0],
  ['L2', 'dense', 16384, 1, 1, 1, 1, 0],
];

interface Row { name: string; kind: Kind; pass: string; shape: string; ms: number; reps: number; gflops: number }

function timeMs(fn: () => void): [number, number] {
  const times = sampleMs(fn);
  return [times[0], times.length];
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

// The PyTorch peer as a server: one layer per request, so its rows and ours alternate in time.
class TorchPeer {
  private proc: ChildProcessWithoutNullStreams;
  private lines: AsyncIterableIterator<string>;
  info: Record<string, unknown> = {};
  constructor(threads: number, batch: number) {
    const py = process.env.PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
    const script = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'ops.py');
    this.proc = spawn(py, [script, '--serve', '--threads', String(threads), '--batch', String(batch)]);
    this.proc.stderr.on('data', (d) => process.stderr.write(d));
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  private async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('PyTorch reference (bench/reference/ops.py --serve) exited; is torch installed for PYTHON?');
    return JSON.parse(r.value);
  }
  async start(): Promise<void> { this.info = (await this.next()).info as Record<string, unknown>; }
  async layer(name: string): Promise<Row[]> {
    this.proc.stdin.write(`${name}\n`);
    return (await this.next()).rows as Row[];
  }
  close(): void { this.proc.stdin.end(); }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const threads = Number(opt('--threads') ?? engineInfo().threads);
  const batch = Number(opt('--batch') ?? 8);
  const rounds = Number(opt('--rounds') ?? 2);
  const wanted = new Set((opt('--only') ?? '').split(',').filter(Boolean));
  setThreads(threads);
  if (opt('--gemm')) native().gemmBackend(opt('--gemm'));
  if (opt('--kernel')) native().convTuning({ kernel: opt('--kernel') });
  if (opt('--wino-tile')) native().convTuning({ winoTile: Number(opt('--wino-tile')) });
  const info = engineInfo();
  const torch = args.includes('--no-torch') ? null : new TorchPeer(threads, batch);
  if (torch) await torch.start();
  // Rounds alternate which side goes first; each side keeps its best time per row.
  const best = new Map<string, { m?: Row; t?: Row }>();
  const keep = (rows: Row[], side: 'm' | 't'): void => {
    for (const r of rows) {
      const key = `${r.name} ${r.pass}`;
      const e = best.get(key) ?? {};
      if (!e[side] || r.ms < e[side]!.ms) e[side] = r;
      best.set(key, e);
    }
  };
  for (let round = 0; round < rounds; round++)
    for (const l of LAYERS) {
      if (wanted.size && !wanted.has(l[0])) continue;
      const ours = (): void => keep(benchLayer(...l, batch), 'm');
      const peer = async (): Promise<void> => { if (torch) keep(await torch.layer(l[0]), 't'); };
      if (round % 2 === 0) { ours(); await peer(); } else { await peer(); ours(); }
    }
  torch?.close();
  for (const [key, e] of best)
    if (e.m && e.t && e.m.shape !== e.t.shape) throw new Error(`bench/reference/ops.py disagrees on ${key}: ${e.t.shape} vs ${e.m.shape}`);
  const gemm = native().gemmBackend();
  const rows = [...best.values()].map((e) => ({ ...e.m!, torchMs: e.t?.ms, torchGflops: e.t?.gflops }));
  if (args.includes('--json')) {
    console.log(JSON.stringify({ mrigan: { threads, gemm, blas: info.blas }, torch: torch ? torch.info : null, rounds, rows }));
    return;
  }
  console.log(addonLine());
  const tune = native().convTuning();
  console.log(`mrigan CPU: ${threads} threads, GEMM ${gemm}, conv kernel ${tune.kernel}${tune.winoTile ? ` (Winograd tile ${tune.winoTile})` : ''}; PyTorch: ${torch ? `${torch.info.torch}, ${torch.info.threads} threads` : 'skipped'}; best of ${rounds} alternating rounds`);
  console.log('| layer | shape (batch x C x H x W) | pass | mrigan ms | GFLOP/s | PyTorch ms | GFLOP/s | ratio |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|');
  let sumM = 0, sumT = 0;
  for (const r of rows) {
    sumM += r.ms;
    if (r.torchMs !== undefined) sumT += r.torchMs;
    const t = r.torchMs !== undefined;
    console.log(`| ${r.name} ${r.kind} | ${r.shape} | ${r.pass} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(1)} | ${t ? r.torchMs!.toFixed(2) : '-'} | ${t ? r.torchGflops!.toFixed(1) : '-'} | ${t ? (r.ms / r.torchMs!).toFixed(2) : '-'} |`);
  }
  console.log(`| total | | | ${sumM.toFixed(1)} | | ${sumT ? sumT.toFixed(1) : '-'} | | ${sumT ? (sumM / sumT).toFixed(2) : '-'} |`);
}

main().catch((e) => { console.error(e); process.exit(1); });
