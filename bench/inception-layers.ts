// Per-layer profile of InceptionV3's forward (lib/metrics/inception.ts) against PyTorch's F.conv2d + bias + ReLU on
// the same shapes (bench/reference/inception_layers.py), grouped by conv shape class (1x1, 3x3 s1, 3x3 s2 valid,
// 5x5, 1x7, 7x1, 1x3, 3x1, the 3-channel stem conv). Each unit runs `reps` extra times where the forward reaches it
// and keeps its least CPU time (process.cpuUsage: the host is shared); the peer does the same per shape. "rest" is
// the whole forward's CPU time less the units' (pools, concats, the global average).
//
//   npx tsc -p . && MRIGAN_THREADS=1 node dist/bench/inception-layers.js [batch=16] [reps=3] [--no-torch]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, engineInfo, tidy } from '../lib/engine';
import { InceptionConv, convUnit, inceptionForward, loadInceptionV3 } from '../lib/metrics/inception';
import { preprocessForInception } from '../lib/metrics/preprocess';
import { writeRandomInception } from '../test/metrics/inception_file';
import { randArray } from '../test/helpers';

interface Layer { cls: string; c: number; h: number; w: number; k: number; kh: number; kw: number; stride: number; padding: string; cpu: number }

const cpuNow = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

function shapeClass(c: InceptionConv, cin: number): string {
  if (cin === 3) return 'stem 3x3 s2 (c=3)';
  return `${c.kh}x${c.kw}${c.stride === 2 ? ' s2' : ''}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const noTorch = args.includes('--no-torch');
  const [batch = 16, reps = 3] = args.filter((a) => !a.startsWith('--')).map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-inclayers-'));
  try {
    const h5 = path.join(dir, 'inc.h5');
    await writeRandomInception(h5, 1, 7);
    const m = await loadInceptionV3(h5);
    const pre = preprocessForInception(randArray(batch * 256 * 256, 5, -1, 1), [batch, 1, 256, 256], { mode: 'tf' });
    const x = Tensor.fromArray(pre.data, pre.shape);
    tidy(() => inceptionForward(m, x).dispose());  // warm-up (scratch buffers, pages)
    const layers: Layer[] = [];
    const timed = (c: InceptionConv, t: Tensor, act: 'relu' | 'none' = 'relu'): Tensor => {
      let best = Infinity;
      for (let r = 0; r < reps; r++) {
        const c0 = cpuNow();
        convUnit(c, t, act).dispose();
        best = Math.min(best, cpuNow() - c0);
      }
      const [, cin, h, w] = t.shape;
      layers.push({ cls: shapeClass(c, cin), c: cin, h, w, k: c.w.shape[0], kh: c.kh, kw: c.kw, stride: c.stride, padding: c.padding, cpu: best });
      return convUnit(c, t, act);
    };
    tidy(() => inceptionForward(m, x, timed).dispose());
    let whole = Infinity;
    for (let r = 0; r < reps; r++) {
      const c0 = cpuNow();
      tidy(() => inceptionForward(m, x).dispose());
      whole = Math.min(whole, cpuNow() - c0);
    }
    let torch: number[] | null = null, torchWhole = 0;
    if (!noTorch) {
      const spec = path.join(dir, 'layers.json');
      fs.writeFileSync(spec, JSON.stringify({ batch, reps, layers }));
      const py = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'bench', 'reference', 'inception_layers.py'), spec],
        { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(engineInfo().threads) }, maxBuffer: 1 << 24 });
      if (py.status !== 0) throw new Error(`inception_layers.py failed: ${py.stderr}`);
      torch = JSON.parse(py.stdout).cpu;
      torchWhole = torch!.reduce((a, b) => a + b, 0);
    }
    const classes = new Map<string, { n: number; ours: number; theirs: number; macs: number }>();
    layers.forEach((l, i) => {
      const e = classes.get(l.cls) ?? { n: 0, ours: 0, theirs: 0, macs: 0 };
      const p = l.padding === 'same' ? Math.ceil(l.h / l.stride) : Math.floor((l.h - l.kh) / l.stride) + 1;
      const q = l.padding === 'same' ? Math.ceil(l.w / l.stride) : Math.floor((l.w - l.kw) / l.stride) + 1;
      e.n++; e.ours += l.cpu; e.theirs += torch ? torch[i] : 0; e.macs += batch * l.k * l.c * l.kh * l.kw * p * q;
      classes.set(l.cls, e);
    });
    const convs = layers.reduce((a, l) => a + l.cpu, 0);
    console.log(`threads ${engineInfo().threads}, batch ${batch}, CPU seconds (least of ${reps})`);
    console.log('class               units  mrigan s  GFLOP/s   torch s  GFLOP/s  mrigan/torch');
    for (const [cls, e] of [...classes].sort((a, b) => b[1].ours - a[1].ours)) {
      const g = (s: number): string => (2 * e.macs / s / 1e9).toFixed(1).padStart(8);
      console.log(`${cls.padEnd(20)}${String(e.n).padStart(5)}${e.ours.toFixed(3).padStart(10)}${g(e.ours)}` +
        (torch ? `${e.theirs.toFixed(3).padStart(10)}${g(e.theirs)}${(e.ours / e.theirs).toFixed(2).padStart(14)}` : ''));
    }
    console.log(`convs ${convs.toFixed(3)} s, whole forward ${whole.toFixed(3)} s, rest ${(whole - convs).toFixed(3)} s` +
      (torch ? `; torch convs ${torchWhole.toFixed(3)} s` : ''));
    if (args.includes('--json')) console.log(JSON.stringify({ layers, torch }));
    m.dispose();
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

main().catch((e) => { console.error(e); process.exit(1); });
