// Non-conv op benchmark: elementwise, activations, dropout, RNG, BatchNorm, BCE, Adam and gradient-penalty norms,
// mrigan CPU against PyTorch CPU (bench/reference/misc_ops.py, same shapes, same thread count), side by side with
// the ratio mrigan ms / PyTorch ms (< 1: mrigan is faster). Shapes: the 4M-element activation of the `dcgan`
// generator's 128×128 layer at batch 8 for elementwise ops, three BatchNorm layers of the models, the `dcgan`
// generator's parameter list for Adam, a 256×256 batch for the penalty norms.
//
//   npx tsc -p . && node dist/bench/misc-ops.js [--threads N] [--batch 8] [--no-torch] [--json]
//
// Timing as bench/ops.ts: 2 warm-up calls, then repeats until ~0.3 s have passed (at least 3, at most 50); median.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  Tensor, engineInfo, setThreads, add, axpy, sum, biasAdd, biasGrad, leakyRelu, leakyReluBackward, tanh, tanhBackward,
  sigmoid, sigmoidBackward, dropout, randUniform, randNormal, batchNormTrain, batchNormBackward, batchNormEval,
  bceWithLogits, adamStep, gpNormV,
} from '../lib/engine';
import { sampleMs } from './timing';

interface Row { name: string; shape: string; ms: number; reps: number }

const G_PARAMS = [[100, 1024, 4, 4], [1024], [1024], [1024, 512, 4, 4], [512], [512], [512, 256, 4, 4], [256], [256],
  [256, 128, 4, 4], [128], [128], [128, 64, 4, 4], [64], [64], [64, 32, 4, 4], [32], [32], [32, 1, 4, 4]];

function timeMs(fn: () => void): [number, number] {
  const times = sampleMs(fn, 0.3, 3, 50), m = times.length >> 1;
  return [times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2, times.length];
}

let seed = 1;
function filled(shape: number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1), a = new Float32Array(n);
  let s = seed++ * 2654435761;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; a[i] = lo + (hi - lo) * ((s >>> 8) / 16777216); }
  return Tensor.fromArray(a, shape);
}

function rows(batch: number): Row[] {
  const out: Row[] = [];
  const bench = (name: string, shape: number[], fn: () => void): void => {
    const [ms, reps] = timeMs(fn);
    out.push({ name, shape: shape.join('x'), ms, reps });
  };
  const big = [batch, 32, 128, 128];
  const x = filled(big), y = filled(big), dy = filled(big), b = filled([32]), db = Tensor.zeros([32]);
  const yt = tanh(x), ys = sigmoid(x);
  const rng = { seed: 1, stream: 0, offset: 0 };
  bench('add', big, () => add(x, y).dispose());
  bench('axpy', big, () => axpy(1e-3, x, y));
  bench('sum', big, () => sum(x));
  bench('biasAdd', big, () => biasAdd(y, b));
  bench('biasGrad', big, () => biasGrad(dy, db));
  bench('lrelu fwd', big, () => leakyRelu(x, 0.2).dispose());
  bench('lrelu bwd', big, () => leakyReluBackward(dy, x, 0.2).dispose());
  bench('tanh fwd', big, () => tanh(x).dispose());
  bench('tanh bwd', big, () => tanhBackward(dy, yt).dispose());
  bench('sigmoid fwd', big, () => sigmoid(x).dispose());
  bench('sigmoid bwd', big, () => sigmoidBackward(dy, ys).dispose());
  bench('dropout fwd', big, () => { const r = dropout(x, 0.5, rng); r.y.dispose(); r.mask.dispose(); });
  bench('rand uniform', big, () => randUniform(big, rng).dispose());
  bench('rand normal', big, () => randNormal(big, rng).dispose());
  for (const shape of [[batch, 64, 64, 64], [batch, 512, 8, 8], [batch, 16384]]) {
    const c = shape[1];
    const xb = filled(shape), dyb = filled(shape), w = filled([c]), bb = filled([c]), rm = Tensor.zeros([c]), rv = Tensor.full([c], 1);
    const dg = Tensor.zeros([c]), dbb = Tensor.zeros([c]);
    bench('bn train fwd', shape, () => { const r = batchNormTrain(xb, w, bb, rm, rv, 0.1, 1e-5); r.y.dispose(); r.mean.dispose(); r.invstd.dispose(); });
    const f = batchNormTrain(xb, w, bb, rm, rv, 0.1, 1e-5);
    bench('bn bwd', shape, () => batchNormBackward(dyb, xb, w, f.mean, f.invstd, dg, dbb).dispose());
    bench('bn eval', shape, () => batchNormEval(xb, w, bb, rm, rv, 1e-5).dispose());
  }
  const n = 1 << 20, logits = filled([n], -4, 4), targets = filled([n], 0, 1);
  bench('bce+grad', [n], () => bceWithLogits(logits, targets).grad.dispose());
  const P = G_PARAMS.map((s) => filled(s, -0.02, 0.02)), G = G_PARAMS.map((s) => filled(s));
  const M = G_PARAMS.map((s) => Tensor.zeros(s)), V = G_PARAMS.map((s) => Tensor.zeros(s));
  let step = 0;
  bench('adam dcgan-G', [P.reduce((a, t) => a + t.numel, 0)], () =>
    adamStep(P, G, M, V, { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: ++step }));
  const gs = [batch, 1, 256, 256], g = filled(gs);
  bench('gp norms+v', gs, () => { const r = gpNormV(g, 5); r.v.dispose(); r.norms.dispose(); });
  return out;
}

function runTorch(threads: number, batch: number): { info: Record<string, unknown>; rows: Row[] } | string {
  const py = process.env.PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const script = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'misc_ops.py');
  const r = spawnSync(py, [script, '--json', '--threads', String(threads), '--batch', String(batch)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return `PyTorch reference failed (${py} ${script}): ${r.error ?? r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout);
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const threads = Number(opt('--threads') ?? engineInfo().threads);
  const batch = Number(opt('--batch') ?? 8);
  setThreads(threads);
  const mine = rows(batch);
  const torch = args.includes('--no-torch') ? 'skipped (--no-torch)' : runTorch(threads, batch);
  const peer = new Map<string, Row>();
  if (typeof torch !== 'string') {
    for (const r of torch.rows) peer.set(`${r.name} ${r.shape}`, r);
    for (const r of mine) if (!peer.has(`${r.name} ${r.shape}`)) throw new Error(`bench/reference/misc_ops.py has no row '${r.name} ${r.shape}'`);
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify({ threads, torch: typeof torch === 'string' ? torch : torch.info, rows: mine.map((r) => ({ ...r, torchMs: peer.get(`${r.name} ${r.shape}`)?.ms })) }));
    return;
  }
  console.log(`mrigan CPU: ${threads} threads; PyTorch: ${typeof torch === 'string' ? torch : `${torch.info.torch}, ${torch.info.threads} threads`}`);
  console.log('| op | shape | mrigan ms | PyTorch ms | ratio |');
  console.log('|---|---|---:|---:|---:|');
  for (const r of mine) {
    const t = peer.get(`${r.name} ${r.shape}`);
    console.log(`| ${r.name} | ${r.shape} | ${r.ms.toFixed(3)} | ${t ? t.ms.toFixed(3) : '-'} | ${t ? (r.ms / t.ms).toFixed(2) : '-'} |`);
  }
}

main();
