// Data-parallel scaling (issue 11): DCGAN on the `dcgan` architecture, the same global batch as (a) 1 process × P
// threads and (b) mpirun P ranks × 1 thread (P = this machine's cores), next to PyTorch DDP (gloo, P × 1 thread,
// bench/reference/ddp.py); then a projection to 3, 8 and 64 GPUs from the H200 step times in bench/NOTES.md and an
// α-β model of ring all-reduce with the overlap the measured run shows.
// Run: npx tsc -p . && node dist/bench/scaling.js [SIZE=128] [GLOBAL_BATCH=8] [ITERS=4] [--rounds=R] [--no-peer]
// (ITERS includes one warm-up iteration; rounds alternate the order of the three runs, each side keeps its best.)
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { addonLine } from './addon';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const [size, batch, iters] = [Number(args[0] ?? 128), Number(args[1] ?? 8), Number(args[2] ?? 4)];
const rounds = Number((process.argv.find((a) => a.startsWith('--rounds=')) ?? '--rounds=1').slice(9));
const peer = !process.argv.includes('--no-peer');
const P = os.cpus().length;
const worker = path.join(__dirname, 'scaling_worker.js');
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

interface Mine { ranks: number; threads: number; gradBytes: number; blockingMs: number; stepMs: number[]; exposedMs: number[]; idleMs: number[];
  buckets: { G: [number, number]; D: [number, number] } | null }
interface Row { label: string; imgs: number; step: number; exposed: number; idle: number; mine?: Mine }

function spawn(cmd: string, argv: string[], env: Record<string, string>): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

function mine(ranks: number, threads: number): Row {
  const a = [worker, String(size), String(batch), String(iters)];
  const env = { MRIGAN_THREADS: String(threads), OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };
  const out = ranks === 1 ? spawn(process.execPath, a, env)
    : spawn('mpirun', ['--oversubscribe', '-np', String(ranks), '-x', 'MRIGAN_THREADS', '-x', 'MRIGAN_ADDON', process.execPath, ...a], env);
  const line = out.split('\n').find((l) => l.startsWith('SCALING '));
  if (!line) throw new Error(`scaling_worker printed no result: ${out.slice(-2000)}`);
  const m: Mine = JSON.parse(line.slice(8));
  // the iteration of median step time (the lower middle of an even count), with its own split
  const i = m.stepMs.indexOf([...m.stepMs].sort((x, y) => x - y)[(m.stepMs.length - 1) >> 1]);
  const step = m.stepMs[i];
  return { label: `mrigan ${ranks} × ${threads}`, imgs: (1e3 * batch) / step, step, exposed: ranks > 1 ? m.exposedMs[i] : 0,
    idle: ranks > 1 ? m.idleMs[i] : 0, mine: m };
}

// PyTorch in one process with P threads (train.py's bench: best of the timed iterations, not the median)
function theirsOne(): Row {
  const j = JSON.parse(spawn('/usr/bin/python3', [path.resolve(__dirname, '../../bench/reference/train.py'), 'bench', String(size), String(batch),
    String(iters - 1)], { MRIGAN_THREADS: String(P), BENCH_MODELS: 'dcgan', BENCH_ARCHS: 'dcgan' }).trim().split('\n').pop()!);
  return { label: `PyTorch 1 × ${j.threads} (best, not median)`, imgs: j.img_per_s, step: 1e3 * j.seconds, exposed: NaN, idle: NaN };
}

function theirs(ranks: number): Row {
  const j = JSON.parse(spawn('/usr/bin/python3', [path.resolve(__dirname, '../../bench/reference/ddp.py'), String(size), String(batch),
    String(iters), String(ranks)], {}).trim().split('\n').pop()!);
  return { label: `PyTorch DDP ${ranks} × 1 (gloo, torch ${j.torch})`, imgs: j.img_per_s, step: median(j.step_ms), exposed: NaN, idle: NaN };
}

const best = new Map<string, Row>();
const keep = (r: Row) => { const o = best.get(r.label.split(' (')[0]); if (!o || r.imgs > o.imgs) best.set(r.label.split(' (')[0], r); };
const t0 = Date.now(), load0 = os.loadavg();
for (let r = 0; r < rounds; r++) {
  const runs = [() => keep(mine(1, P)), () => keep(mine(P, 1)), ...(peer ? [() => keep(theirs(P)), () => keep(theirsOne())] : [])];
  (r % 2 ? runs.reverse() : runs).forEach((f) => f());
}
const one = best.get(`mrigan 1 × ${P}`)!, many = best.get(`mrigan ${P} × 1`)!, ddp = best.get(`PyTorch DDP ${P} × 1`);
const ptOne = best.get(`PyTorch 1 × ${P}`);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

console.log(addonLine());
console.log(`DCGAN, dcgan architecture, ${size}×${size}, global batch ${batch}, median of ${iters - 1} iterations after a warm-up, ` +
  `best of ${rounds} round(s); ${os.cpus()[0].model}, ${P} cores, load average ${load0[0].toFixed(1)} at the start, ` +
  `${os.loadavg()[0].toFixed(1)} at the end (1-minute) ` +
  `(${((Date.now() - t0) / 1e3).toFixed(0)} s)`);
console.log('\n| layout | img/s | step ms | compute ms | exposed comm ms | idle ms | buckets started early | efficiency |\n|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of [one, many, ...(ptOne ? [ptOne] : []), ...(ddp ? [ddp] : [])]) {
  const b = r.mine?.buckets;
  const early = b ? `G ${b.G[0]}/${b.G[1]}, D ${b.D[0]}/${b.D[1]}` : '–';
  const comp = r.mine ? r.step - r.exposed - r.idle : NaN;
  // efficiency against the same side's 1 × P
  const base = r.label.startsWith('PyTorch') ? ptOne : one;
  const eff = r === one || r === ptOne ? '(base)' : base ? `${f((100 * r.imgs) / base.imgs)} %` : '–';
  console.log(`| ${r.label} | ${f(r.imgs, 2)} | ${f(r.step, 0)} | ${f(comp, 0)} | ${f(r.exposed, 0)} | ${f(r.idle, 0)} | ${early} | ${eff} |`);
}
// overlap: the share of the reduction's blocking time (every gradient all-reduced with nothing to hide behind) that
// the bucketed run did not expose
const blocking = many.mine!.blockingMs, hidden = Math.min(1, Math.max(0, 1 - many.exposed / blocking));
const eff2 = many.imgs / one.imgs;
console.log(`\nefficiency ${P} × 1 vs 1 × ${P}: ${f(100 * eff2)} % (target ≥ 90 %: ${eff2 >= 0.9 ? 'met' : 'NOT met'})`);
if (ddp) console.log(`mrigan / PyTorch DDP, ${P} × 1: ${f(many.imgs / ddp.imgs, 2)}× (target ≥ 2×: ${many.imgs / ddp.imgs >= 2 ? 'met' : 'NOT met'})`);
console.log(`gradient bytes ${(many.mine!.gradBytes / 1e6).toFixed(1)} MB per iteration (G + D); blocking all-reduce ${f(blocking, 0)} ms; ` +
  `exposed in the bucketed run ${f(many.exposed, 0)} ms → overlap ${f(100 * hidden, 0)} % hidden behind backward`);

// ---- projection to GPUs -------------------------------------------------------------------------------------------
// H200 fp32 whole-iteration times, DCGAN dcgan 256², mrigan third run: bench/NOTES.md "cuda" section, the table after
// "Third run (08:00, same card)": b8 16.38 ms, b64 66.48 ms (lines 384 and 386 when written).
const gpuStepMs: Record<number, number> = { 8: 16.38, 64: 66.48 };
// docs/design.md §4: dcgan G 12,816,832 + D 11,194,785 parameters, float32 gradients
const bytes = 4 * (12_816_832 + 11_194_785);
// 25 MiB buckets over the 256² layers (G: 2, D: 2, both reductions once per DCGAN iteration): α is paid per bucket
const buckets256 = 4;
const presets = [
  { name: 'NVLink (one node)', busGBs: 300, alphaUs: 5 },
  { name: 'InfiniBand NDR (across nodes)', busGBs: 50, alphaUs: 10 },
];
const ringMs = (n: number, busGBs: number, alphaUs: number) =>
  (2 * (n - 1) / n) * bytes / (busGBs * 1e9) * 1e3 + buckets256 * 2 * (n - 1) * alphaUs * 1e-3;
console.log(`\nProjection (DCGAN-256 fp32 on H200): ring all-reduce T = 2(N−1)/N · ${(bytes / 1e6).toFixed(1)} MB / busBW + ` +
  `${buckets256} buckets · 2(N−1) · α; exposed = (1 − ${f(hidden, 2)}) · T (overlap as measured above); efficiency = compute / (compute + exposed)`);
for (const p of presets) console.log(`  ${p.name}: busBW ${p.busGBs} GB/s, α ${p.alphaUs} µs`);
console.log('\n| GPUs | per-GPU batch | global batch | compute ms | link | all-reduce ms | exposed ms | efficiency |\n|---:|---:|---:|---:|---|---:|---:|---:|');
for (const per of [8, 64])
  for (const n of [3, 8, 64])
    for (const p of presets) {
      if (n > 8 && p.name.startsWith('NVLink')) continue; // NVLink joins the GPUs of one node (8 at most)
      const T = ringMs(n, p.busGBs, p.alphaUs), exp = (1 - hidden) * T, c = gpuStepMs[per];
      console.log(`| ${n} | ${per} | ${n * per} | ${c} | ${p.name.split(' (')[0]} | ${f(T, 2)} | ${f(exp, 2)} | ${f((100 * c) / (c + exp))} % |`);
    }
