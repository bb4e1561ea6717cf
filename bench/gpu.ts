// GPU timings of mrigan next to PyTorch + cuDNN on the same card (bench/reference/gpu_ops.py, run first by
// scripts/device-check.sh): every conv / conv-transpose layer of the `dcgan` architecture at 256×256 (G1–G7, D1–D7)
// in forward, backward-data and backward-weight, and whole DCGAN / WGAN-GP training iterations (lib/train/trainer.ts,
// the same iteration as the PyTorch peer), at batches 8 and 64, in fp32 and TF32. Prints one table last:
//   mode | op | shape | mrigan ms | PyTorch ms | speed = PyTorch ms / mrigan ms (targets: ≥ 0.8 per conv, ≥ 1.0 per
//   iteration) | achieved TFLOP/s of mrigan (2·MACs of the conv; iterations: none); iteration rows also give the
//   peak GPU memory of mrigan's caching allocator / PyTorch's (max_memory_allocated) after the warm-up iteration.
// Timing: warm-up calls (the first call of a shape runs mrigan's kernel autotune), then the mean over a loop of calls
// long enough for ≥ 20 ms between two synchronisations, best of 3 loops (the peer does the same with CUDA events);
// iterations: best of REPS after one warm-up iteration.
//
// Run: npx tsc -p . && node dist/bench/gpu.js [--torch torch.json] [--out DIR] [--batches 8,64] [--modes fp32,tf32]
//        [--layers G1,D2,...] [--reps 3] [--no-iter] [--budget SECONDS] [--smoke]
// --budget: stop timing new rows after this many seconds and print the table of what was done.
// --smoke: one call per path, batch 1, layers G1 and D7, a 64×64 iteration (checks the script, e.g. on the emulator).
// Without a GPU it prints why, and the PyTorch rows if a --torch file has any.
import * as fs from 'fs';
import * as path from 'path';
import * as E from '../lib/engine';
import { Device, Tensor } from '../lib/engine';
import * as C from '../lib/engine/cuda';

interface LayerSpec { name: string; transposed: boolean; cin: number; cout: number; h: number; w: number; k: number; stride: number; pad: number; outpad: number; bias: boolean; oh: number; ow: number }
interface Row { kind: 'op' | 'iter'; mode: string; batch: number; layer?: string; pass?: string; model?: string; ms: number | null; flops?: number; peak_bytes?: number; size?: number }

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const flag = (name: string): boolean => argv.includes(`--${name}`);
const smoke = flag('smoke');
const GPU: Device = 'cuda:0';

/** docs/design.md §4 `dcgan` at 256: channels w·128/r at resolution r (w = 32), z = 100, k4 convs. */
function dcganLayers(): LayerSpec[] {
  const ch = (r: number): number => (32 * 128) / r;
  const L: LayerSpec[] = [];
  const T = (name: string, cin: number, cout: number, h: number, stride: number, pad: number): void => {
    const oh = (h - 1) * stride - 2 * pad + 4;
    L.push({ name, transposed: true, cin, cout, h, w: h, k: 4, stride, pad, outpad: 0, bias: false, oh, ow: oh });
  };
  T('G1', 100, ch(4), 1, 1, 0);
  for (let i = 2, r = 4; i <= 6; i++, r *= 2) T(`G${i}`, ch(r), ch(2 * r), r, 2, 1);
  T('G7', ch(128), 1, 128, 2, 1);
  const D = (name: string, cin: number, cout: number, h: number, stride: number, pad: number, bias: boolean): void => {
    const oh = Math.floor((h + 2 * pad - 4) / stride) + 1;
    L.push({ name, transposed: false, cin, cout, h, w: h, k: 4, stride, pad, outpad: 0, bias, oh, ow: oh });
  };
  D('D1', 1, ch(128), 256, 2, 1, true);
  for (let i = 2, r = 128; i <= 6; i++, r /= 2) D(`D${i}`, ch(r), ch(r / 2), r, 2, 1, false);
  D('D7', ch(4), 1, 4, 1, 0, true);
  return L;
}

const flopsOf = (s: LayerSpec, batch: number): number =>
  2 * batch * s.cin * s.cout * s.k * s.k * (s.transposed ? s.h * s.w : s.oh * s.ow);

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function timeOp(fn: () => void): number {
  if (smoke) { fn(); C.synchronize(GPU); return NaN; }
  for (let i = 0; i < 3; i++) fn();
  C.synchronize(GPU);
  let t = now();
  fn();
  C.synchronize(GPU);
  const est = Math.max(now() - t, 1e-3), reps = Math.min(500, Math.max(3, Math.ceil(20 / est)));
  let best = Infinity;
  for (let trial = 0; trial < 3; trial++) {
    t = now();
    for (let r = 0; r < reps; r++) fn();
    C.synchronize(GPU);
    best = Math.min(best, (now() - t) / reps);
  }
  return best;
}

function timeLayer(s: LayerSpec, batch: number): Record<string, number> {
  return E.tidy(() => {
    let seed = 1;
    const rnd = (shape: number[], scale = 1): Tensor => {
      const t = E.randUniform(shape, { seed: 7, stream: 900, offset: seed++ * 1e7 }, GPU);
      if (scale !== 1) { const u = E.scale(t, scale); t.dispose(); return u; }
      return t;
    };
    const x = rnd([batch, s.cin, s.h, s.w]);
    const w = rnd(s.transposed ? [s.cin, s.cout, s.k, s.k] : [s.cout, s.cin, s.k, s.k], 0.02);
    const b = s.bias ? rnd([s.cout]) : null;
    const dy = rnd([batch, s.cout, s.oh, s.ow]);
    const dw = Tensor.zeros(w.shape, GPU);
    const o = { stride: s.stride, padding: s.pad, outputPadding: s.outpad };
    if (s.transposed) {
      return {
        fwd: timeOp(() => E.convTranspose2dForward(x, w, b, o).dispose()),
        'bwd-data': timeOp(() => E.convTranspose2dBackwardData(dy, w, o).dispose()),
        'bwd-weight': timeOp(() => E.convTranspose2dBackwardWeight(dy, x, dw, o)),
      };
    }
    return {
      fwd: timeOp(() => E.conv2dForward(x, w, b, o).dispose()),
      'bwd-data': timeOp(() => E.conv2dBackwardData(dy, w, x.shape, o).dispose()),
      'bwd-weight': timeOp(() => E.conv2dBackwardWeight(dy, x, dw, o)),
    };
  });
}

async function timeIteration(model: 'dcgan' | 'wgan-gp', batch: number, reps: number): Promise<{ ms: number; peak: number; mallocsSteady: boolean }> {
  const { Trainer, memorySource } = await import('../lib/train/run');
  const { resolveConfig } = await import('../lib/train/config');
  const size = smoke ? 64 : 256;
  const n = batch * (reps + 1), per = size * size;
  const data = new Float32Array(n * per);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.9;
  const cfg = resolveConfig({ model, arch: 'dcgan', size, batch, epochs: 1, lr: 2e-4, seed: 1, ...(smoke ? { width: 2 } : {}) });
  const times: number[] = [], mallocs: number[] = [];
  let last = now();
  const t = Trainer.create(cfg, {
    data: memorySource(data, [n, 1, size, size]), out: null, progress: 'none', device: GPU,
    onStep: () => {
      C.synchronize(GPU);
      const tt = now();
      times.push(tt - last);
      mallocs.push(C.memStats(GPU).mallocs);
      if (times.length === 1) C.resetPeak(GPU);  // after the warm-up iteration
      last = now();
    },
  });
  await t.run();
  const peak = C.memStats(GPU).peak;
  t.dispose();
  const timed = times.slice(1);
  return { ms: timed.length ? Math.min(...timed) : times[0], peak, mallocsSteady: mallocs.length < 2 || mallocs[mallocs.length - 1] === mallocs[1] };
}

function fmt(v: number | null | undefined, d = 3): string { return v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d); }

async function main(): Promise<void> {
  const info = E.engineInfo();
  const torchFile = opt('torch', '');
  const torch = torchFile && fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, 'utf8')) : null;
  const outDir = opt('out', '');
  const batches = smoke ? [1] : opt('batches', '8,64').split(',').map(Number);
  const modes = opt('modes', smoke ? 'fp32' : 'fp32,tf32').split(',');
  const reps = Number(opt('reps', smoke ? '1' : '3'));
  let layers = dcganLayers();
  if (torch?.layers?.length) {
    const mine = JSON.stringify(layers), theirs = JSON.stringify(torch.layers.map((l: LayerSpec) => ({ ...l })));
    if (mine !== theirs) throw new Error(`layer specs differ from the PyTorch peer's:\n mrigan ${mine}\n torch  ${theirs}`);
  }
  const pick = opt('layers', smoke ? 'G1,D7' : '');
  if (pick) layers = layers.filter((l) => pick.split(',').includes(l.name));

  const rows: Row[] = [];
  const gpu = info.cudaDevices > 0;
  const t0 = now(), budget = Number(opt('budget', '1e9')) * 1e3;
  let truncated = false;
  const over = (): boolean => (truncated ||= now() - t0 > budget);
  if (!gpu) console.log(`bench/gpu: no GPU (${info.cudaStatus}): mrigan GPU timings skipped`);
  else {
    console.log(`bench/gpu: ${info.cudaStatus}`);
    for (const mode of modes) {
      C.setTf32(mode === 'tf32');
      for (const batch of batches) {
        for (const s of layers) {
          if (over()) break;
          const t = timeLayer(s, batch);
          for (const [pass, ms] of Object.entries(t)) rows.push({ kind: 'op', mode, batch, layer: s.name, pass, ms, flops: flopsOf(s, batch) });
          console.log(`  mrigan ${mode} b${batch} ${s.name}: ${Object.entries(t).map(([p, v]) => `${p} ${fmt(v)} ms`).join(', ')}`);
        }
        if (!flag('no-iter')) {
          for (const model of ['dcgan', 'wgan-gp'] as const) {
            if (over()) break;
            const it = await timeIteration(model, smoke ? 2 : batch, reps);
            rows.push({ kind: 'iter', mode, batch: smoke ? 2 : batch, model, ms: it.ms, peak_bytes: it.peak, size: smoke ? 64 : 256 });
            console.log(`  mrigan ${mode} b${smoke ? 2 : batch} ${model} iteration: ${fmt(it.ms, 2)} ms, peak ${(it.peak / 2 ** 20).toFixed(0)} MiB, ` +
              `cudaMalloc ${it.mallocsSteady ? 'constant after the first iteration' : 'STILL CALLED in steady state'}`);
          }
        }
        C.emptyCache(GPU);
      }
    }
    C.setTf32(false);
  }

  // ---- the table: mrigan rows joined with the peer's (or the peer's alone)
  const key = (r: Row): string => r.kind === 'op' ? `${r.mode}|${r.batch}|${r.layer}|${r.pass}` : `${r.mode}|${r.batch}|${r.model}`;
  const peer = new Map<string, Row>();
  for (const r of (torch?.rows ?? []) as Row[]) peer.set(key(r), r);
  const mineKeys = new Set(rows.map(key));
  const base = [...rows, ...[...peer.values()].filter((r) => !mineKeys.has(key(r))).map((r) => ({ ...r, ms: null, peak_bytes: undefined }))];
  const spec = new Map(dcganLayers().map((l) => [l.name, l]));
  const shapeOf = (r: Row): string => {
    if (r.kind === 'iter') return `${r.model} ${r.size ?? 256}², b${r.batch}`;
    const s = spec.get(r.layer!)!;
    return `${r.layer} b${r.batch} ${s.cin}×${s.h}² → ${s.cout}×${s.oh}² k${s.k}s${s.stride}`;
  };
  const lines: string[] = [];
  lines.push('| mode | op | shape | mrigan ms | PyTorch ms | speed (PyTorch/mrigan) | mrigan TFLOP/s |');
  lines.push('|---|---|---|---:|---:|---:|---:|');
  const ratios: Record<string, number[]> = {};
  for (const r of base) {
    const p = peer.get(key(r));
    const op = r.kind === 'iter' ? 'train iteration' : `${spec.get(r.layer!)!.transposed ? 'convT' : 'conv'} ${r.pass}`;
    const speed = r.ms && p?.ms ? p.ms / r.ms : null;
    if (speed) (ratios[`${r.mode} ${r.kind}`] ??= []).push(speed);
    const tf = r.kind === 'op' && r.ms && r.flops ? r.flops / (r.ms * 1e9) : null;
    const mib = (b?: number): string => (b ? `${(b / 2 ** 20).toFixed(0)}` : '—');
    const shape = r.kind === 'iter' ? `${shapeOf(r)}, peak MiB ${mib(r.peak_bytes)} / ${mib(p?.peak_bytes)}` : shapeOf(r);
    lines.push(`| ${r.mode} | ${op} | ${shape} | ${fmt(r.ms)} | ${fmt(p?.ms ?? null)} | ${fmt(speed, 2)} | ${fmt(tf, 1)} |`);
  }
  const geo = (a: number[]): number => Math.exp(a.reduce((s, v) => s + Math.log(v), 0) / a.length);
  const summary = Object.entries(ratios).map(([k, a]) => {
    const target = k.endsWith('iter') ? 1.0 : 0.8;
    return `${k}: geometric-mean speed ${geo(a).toFixed(2)}, ${a.filter((v) => v >= target).length}/${a.length} rows ≥ ${target}`;
  });
  if (truncated) summary.push(`time budget of ${budget / 1e3} s reached: later rows were not timed`);
  const header = `GPU: ${torch?.device ?? (gpu ? info.cudaStatus : 'none')}; PyTorch ${torch?.torch ?? '—'} cuDNN ${torch?.cudnn ?? '—'}; ${new Date().toISOString().slice(0, 10)}`;
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'gpu-bench.json'), JSON.stringify({ header, info, rows, peer: torch }, null, 1) + '\n');
    fs.writeFileSync(path.join(outDir, 'gpu-table.md'), [header, '', ...summary.map((s) => `- ${s}`), '', ...lines].join('\n') + '\n');
  }
  console.log('');
  console.log(header);
  for (const s of summary) console.log(s);
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
