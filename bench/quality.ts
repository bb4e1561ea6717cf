// Sample quality at equal wall time (issue 13, item 4): mrigan's trainer and the PyTorch peer
// (bench/reference/quality_peer.py: the same `dcgan` networks, init, losses, label noise and Adam) train on the same
// dataset file with the same configuration for the same wall-clock budget, one after the other on the same machine
// and thread count; both sides' generated images are scored by the same weight-free metrics (lib/metrics/quality.ts)
// against the real set, and grids are written for the eye.
// Run: npx tsc -p . && MRIGAN_THREADS=2 node dist/bench/quality.js DATA OUT_DIR [SECONDS=300] ['{"width":8,...}'] [--no-peer]
// OUT_DIR/{mrigan,peer}-grid.png, OUT_DIR/quality.json; a markdown table on stdout (for bench/NOTES.md).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Rng, engineInfo, setThreads } from '../lib/engine';
import { openDataset } from '../lib/data';
import { Trainer, generate } from '../lib/train/run';
import { STREAMS } from '../lib/util/streams';
import { resolveConfig, TrainConfig } from '../lib/train/config';
import { writeGridPng, ImageBatch } from '../lib/train/image';
import { evalQuality, QualityResult } from '../lib/metrics/quality';
import { HostRng } from '../lib/metrics/random';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (args.length < 2) {
  process.stderr.write('usage: node dist/bench/quality.js DATA OUT_DIR [SECONDS=300] [CONFIG_JSON] [--no-peer]\n');
  process.exit(2);
}
const [data, out] = args;
const seconds = Number(args[2] ?? 300);
const over = JSON.parse(args[3] ?? '{}') as Partial<TrainConfig>;
const peer = !process.argv.includes('--no-peer');
if (process.env.MRIGAN_THREADS) setThreads(Number(process.env.MRIGAN_THREADS));
const N = 256;

interface Side { name: string; steps: number; epochs: number; seconds: number; q: QualityResult }

function realSet(): ImageBatch {
  const ds = openDataset(data);
  try {
    const idx = Int32Array.from(new HostRng(5).sample(ds.count, 1024)).sort();
    return { data: ds.batch(idx), n: idx.length, c: 1, h: ds.shape[2], w: ds.shape[3] };
  } finally {
    ds.close();
  }
}

async function mine(cfg: TrainConfig, real: ImageBatch, msssimReal: number | undefined): Promise<Side> {
  const ds = openDataset(data), dir = path.join(out, 'mrigan');
  fs.rmSync(dir, { recursive: true, force: true });
  const t0 = Date.now();
  const t = Trainer.create({ ...cfg, epochs: 1_000_000 }, { data: ds, dataName: data, out: dir, progress: 'none', log: () => {},
    shouldStop: () => (Date.now() - t0) / 1000 >= seconds });
  try {
    await t.run();
    const secs = (Date.now() - t0) / 1000;
    const fake = generate(t.G, t.cfg, t.latent, N, new Rng(cfg.seed, STREAMS.sample), 'cpu');
    writeGridPng(path.join(out, 'mrigan-grid.png'), fake, 8, 8);
    return { name: 'mrigan', steps: t.step, epochs: t.epoch + t.iter / t.itersPerEpoch, seconds: secs, q: evalQuality(real, fake, { msssimReal }) };
  } finally {
    t.dispose();
    ds.close();
  }
}

function theirs(cfg: TrainConfig, real: ImageBatch, msssimReal: number): Side {
  const dir = path.join(out, 'peer');
  const pcfg = { seconds, width: cfg.width ?? 32, batch: cfg.batch, lr: cfg.lr, labelNoise: cfg.labelNoise, dropout: cfg.dropout,
    latent: cfg.latent ?? 100, seed: cfg.seed, n: N };
  const r = spawnSync('/usr/bin/python3', [path.resolve(__dirname, '../../bench/reference/quality_peer.py'), data, dir, JSON.stringify(pcfg)],
    { encoding: 'utf8', env: process.env, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`quality_peer.py failed (${r.status}): ${r.stderr}`);
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf8'));
  const buf = fs.readFileSync(path.join(dir, 'samples.f32'));
  const fake: ImageBatch = { data: new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4).slice(), n: N, c: 1, h: real.h, w: real.w };
  writeGridPng(path.join(out, 'peer-grid.png'), fake, 8, 8);
  return { name: `PyTorch ${info.torch}`, steps: info.steps, epochs: info.epochs, seconds: info.seconds, q: evalQuality(real, fake, { msssimReal }) };
}

(async () => {
  fs.mkdirSync(out, { recursive: true });
  const cfg = resolveConfig({ model: 'dcgan', arch: 'dcgan', width: 8, batch: 32, lr: 2e-4, seed: 1, ...over, size: undefined });
  const real = realSet();
  (cfg as { size: number }).size = real.h;
  const rows: Side[] = [];
  const m = await mine(cfg, real, undefined);
  rows.push(m);
  if (peer) rows.push(theirs(cfg, real, m.q.msssimReal));
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const res = { data, seconds, config: cfg, threads: engineInfo().threads, loadavg: load, rows };
  fs.writeFileSync(path.join(out, 'quality.json'), JSON.stringify(res, null, 1) + '\n');
  const lv = m.q.swd.resolutions.join('/');
  process.stdout.write(`| side | steps | epochs | wall s | SWD ×10³ (${lv}) | SWD mean | MS-SSIM gen | MS-SSIM real |\n|---|---|---|---|---|---|---|---|\n`);
  for (const r of rows)
    process.stdout.write(`| ${r.name} | ${r.steps} | ${r.epochs.toFixed(1)} | ${r.seconds.toFixed(0)} | ${r.q.swd.perLevel.map((v) => v.toFixed(1)).join(' / ')} | ` +
      `${r.q.swd.mean.toFixed(1)} | ${r.q.msssim.toFixed(3)} | ${r.q.msssimReal.toFixed(3)} |\n`);
  process.stdout.write(`threads ${engineInfo().threads}, load average at the end ${load}; grids: ${out}/mrigan-grid.png, ${out}/peer-grid.png\n`);
})().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
