// FID end to end on N + N synthetic 256×256 grayscale PNGs: mrigan's whole route (`mrigan fid A B --weights W.h5`:
// read PNGs, resize to 299, InceptionV3 features, statistics, trace) against pytorch-fid's route rebuilt from
// Debian's PyTorch, torchvision and SciPy (bench/reference/fid_e2e.py: PIL read, F.interpolate bilinear as
// pytorch-fid's InceptionV3 does, torchvision inception_v3 with the same Keras weights, numpy mean / cov,
// scipy.linalg.sqrtm), on the same machine with the same thread count. The weights are a full-size random-weight
// Keras .h5 (test/metrics/inception_file.ts), the images deterministic (set B: other blob sizes and more noise), so
// the two FIDs must agree to float32 feature precision (~1e-4 relative; printed).
//
//   npx tsc -p . && node dist/bench/fid-e2e.js [N=10000] [--threads 2] [--batch 16] [--dir D (keep / reuse images)]
//
// Each side is one child process timed by /usr/bin/time (wall, user + system CPU). The images are written once
// (not timed); with --dir an existing set of the right size is reused. mrigan's side loads the addon that
// MRIGAN_ADDON / MRIGAN_BUILD_DIR name (default build/): the table's first line prints which, and its build time.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { writeRandomInception } from '../test/metrics/inception_file';
import { addonLine } from './addon';

const ROOT = path.join(__dirname, '..', '..');

// One deterministic image: a gradient, 3–6 Gaussian blobs and uniform noise, from a per-image LCG.
function image(set: number, i: number): Buffer {
  let s = (set * 1_000_003 + i * 7919 + 1) >>> 0;
  const rnd = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  const W = 256, v = new Float64Array(W * W);
  const gx = rnd() - 0.5, gy = rnd() - 0.5;
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) v[y * W + x] = 60 + 40 * (gx * x + gy * y) / W;
  const blobs = 3 + Math.floor(rnd() * 4);
  for (let k = 0; k < blobs; k++) {
    const cx = rnd() * W, cy = rnd() * W, r = (set === 0 ? 12 : 20) + rnd() * 30, a = 60 + rnd() * 100, r2 = 2 * r * r;
    for (let y = Math.max(0, Math.floor(cy - 3 * r)); y < Math.min(W, cy + 3 * r); y++)
      for (let x = Math.max(0, Math.floor(cx - 3 * r)); x < Math.min(W, cx + 3 * r); x++) v[y * W + x] += a * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / r2);
  }
  const png = new PNG({ width: W, height: W, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const noise = set === 0 ? 8 : 20;
  for (let p = 0; p < W * W; p++) png.data[p] = Math.max(0, Math.min(255, Math.round(v[p] + noise * (rnd() - 0.5))));
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

function writeSet(dir: string, set: number, n: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const have = fs.readdirSync(dir).filter((f) => f.endsWith('.png')).length;
  if (have === n) return;
  for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `img${String(i).padStart(6, '0')}.png`), image(set, i));
}

interface Side { wall: number; cpu: number; fid: number; out: string }
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Side {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const json = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), fid: json.fid, out: r.stdout.trim() };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
  const n = Number(args.find((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 10000);
  const threads = opt('--threads', '2'), batch = opt('--batch', '16'), keep = opt('--dir', '');
  const dir = keep || fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-fide2e-'));
  fs.mkdirSync(dir, { recursive: true });
  try {
    const h5 = path.join(dir, 'inc.h5'), a = path.join(dir, `A${n}`), b = path.join(dir, `B${n}`);
    if (!fs.existsSync(h5)) await writeRandomInception(h5, 1, 7);
    let t = Date.now();
    writeSet(a, 0, n); writeSet(b, 1, n);
    console.error(`images ready (${((Date.now() - t) / 1000).toFixed(0)} s): ${a}, ${b}`);
    const load0 = os.loadavg();
    const ours = timed(process.execPath, [path.join(ROOT, 'dist', 'lib', 'cli', 'main.js'), 'fid', a, b, '--weights', h5, '--batch', batch, '--device', 'cpu', '--json'],
      { MRIGAN_THREADS: threads });
    console.error(`mrigan: ${ours.wall} s wall, ${ours.cpu.toFixed(1)} s CPU, FID ${ours.fid}`);
    const theirs = timed('/usr/bin/python3', [path.join(ROOT, 'bench', 'reference', 'fid_e2e.py'), a, b, h5, '--batch', batch],
      { OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads });
    const load1 = os.loadavg();
    const peer = JSON.parse(theirs.out.split('\n').pop()!);
    const rel = Math.abs(ours.fid - theirs.fid) / Math.abs(theirs.fid);
    console.log(addonLine());
    console.log(`N = ${n} + ${n} PNGs 256×256, threads ${threads}, batch ${batch}; load average before ${load0.map((x) => x.toFixed(1)).join(' ')}, after ${load1.map((x) => x.toFixed(1)).join(' ')}`);
    console.log('| side | wall s | CPU s | img/s (wall) | img/CPU-s | FID |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, s] of [['mrigan fid (CLI)', ours], [`pytorch-fid route (${peer.graph})`, theirs]] as [string, Side][])
      console.log(`| ${name} | ${s.wall.toFixed(1)} | ${s.cpu.toFixed(1)} | ${(2 * n / s.wall).toFixed(2)} | ${(2 * n / s.cpu).toFixed(2)} | ${s.fid.toPrecision(8)} |`);
    console.log(`peer stages (CPU s): ${Object.entries(peer.stages_cpu).map(([k, v]) => `${k} ${(v as number).toFixed(1)}`).join(', ')}`);
    console.log(`FID relative difference ${rel.toExponential(2)}; CPU-time ratio peer/mrigan ${(theirs.cpu / ours.cpu).toFixed(2)}, wall ${(theirs.wall / ours.wall).toFixed(2)}`);
  } finally { if (!keep) fs.rmSync(dir, { recursive: true, force: true }); }
}

main().catch((e) => { console.error(e); process.exit(1); });
