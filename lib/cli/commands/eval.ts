// mrigan eval REAL FAKE: weight-free sample quality (lib/metrics/quality.ts) — SWD per Laplacian level and MS-SSIM
// diversity of both sets. Each side is a folder of PNG slices, a dataset file, or a run or checkpoint folder (images
// generated from the checkpoint lib/train/locate.ts picks).
import { parseArgs } from 'util';
import * as fs from 'fs';
import * as path from 'path';
import { Rng, Device } from '../../engine';
import { FileError, UsageError } from '../../util/errors';
import { parseDevice } from '../../util/device';
import { report } from '../errors';
import { buildModel, latentSize } from '../../models';
import { openDataset, readPngGray } from '../../data';
import { loadCheckpointInto } from '../../train/checkpoint';
import { isCheckpointPath, locateCheckpoint } from '../../train/locate';
import { generate, modelOptions } from '../../train/run';
import { STREAMS } from '../../util/streams';
import { ImageBatch } from '../../train/image';
import { evalQuality } from '../../metrics/quality';
import { HostRng } from '../../metrics/random';

export const summary = 'score generated images against real ones without network weights: SWD and MS-SSIM diversity';

const HELP = `usage: mrigan eval REAL FAKE [options]

  REAL, FAKE    each one of: a folder of PNG slices (gray or colour, converted to gray, 0..255 → [-1, 1]);
                a dataset file (mrigan prepare / mrigan sample); a run folder of mrigan train (--n images are
                generated from its latest checkpoint, BatchNorm batch statistics as mrigan sample;
                RUN/checkpoints/best or a checkpoint folder step-N picks another)
  --n N         images per set: a random subset of larger sets, the count generated from a run (default: 256)
  --pairs P     random pairs for MS-SSIM (default: 200)
  --seed S      seed of the subsets, patches, projections, pairs and generated noise (default: 0)
  --json        print one JSON object instead of the table
  --device D    for run folders: cpu, cuda or cuda:N (default: MRIGAN_DEVICE, else the first GPU, else cpu)

SWD: sliced Wasserstein distance between 7×7 patches of the Laplacian pyramids (levels from the image size down to
16×16), ×10³, per level and mean, as in Karras et al. (progressive GAN); lower is closer to the real set.
MS-SSIM: mean multi-scale SSIM of random pairs within a set; a diverse generator scores near the real set's value,
a collapsed one near 1. Both sets must have the same image size.
`;


interface Loaded { images: ImageBatch; total: number; what: string }

/** Reads one side: PNG folder, dataset file or run folder; at most n images (a seeded random subset). */
export function loadImages(p: string, n: number, seed: number, device: Device): Loaded {
  if (!fs.existsSync(p)) throw new FileError(p, 'no such file or folder');
  if (fs.statSync(p).isDirectory()) {
    if (isCheckpointPath(p)) return fromRun(p, n, seed, device);
    return fromPngs(p, n, seed);
  }
  const ds = openDataset(p);
  try {
    if (ds.count < 2) throw new FileError(p, `${ds.count} image(s); need at least 2`);
    const idx = Int32Array.from(new HostRng(seed).sample(ds.count, n)).sort();
    const [, c, h, w] = ds.shape;
    return { images: { data: ds.batch(idx), n: idx.length, c, h, w }, total: ds.count, what: `dataset file, ${ds.count} images` };
  } finally {
    ds.close();
  }
}

function fromPngs(dir: string, n: number, seed: number): Loaded {
  const files = fs.readdirSync(dir).filter((f) => /\.png$/i.test(f)).sort();
  if (files.length < 2) throw new FileError(dir, `${files.length} PNG file(s) and no checkpoints/ folder; need a folder of at least 2 PNG slices, a dataset file or a run folder`);
  const idx = Array.from(new HostRng(seed).sample(files.length, n)).sort((a, b) => a - b);
  let h = 0, w = 0, data: Float32Array | null = null;
  idx.forEach((i, k) => {
    const f = path.join(dir, files[i]), g = readPngGray(f);
    if (!data) { h = g.height; w = g.width; data = new Float32Array(idx.length * h * w); }
    if (g.height !== h || g.width !== w) throw new FileError(f, `${g.width}×${g.height}, but ${files[idx[0]]} is ${w}×${h} (all PNGs of a set must have one size)`);
    for (let j = 0; j < h * w; j++) data[k * h * w + j] = g.data[j] / 127.5 - 1;
  });
  return { images: { data: data!, n: idx.length, c: 1, h, w }, total: files.length, what: `PNG folder, ${files.length} images` };
}

function fromRun(dir: string, n: number, seed: number, device: Device): Loaded {
  const ck = locateCheckpoint(dir), cfg = ck.state.config;
  const mo = { ...modelOptions(cfg, device), init: false };
  const G = buildModel(cfg.arch, 'generator', mo);
  try {
    loadCheckpointInto(ck.dir, G, null, null, null, ck.state);
    const images = generate(G, cfg, latentSize(cfg.arch, mo), n, new Rng(seed, STREAMS.sample), device);
    return { images, total: n, what: `run${ck.how === 'latest' ? '' : ` (${ck.how})`}, epoch ${ck.state.epoch}, step ${ck.state.step}; ${n} generated` };
  } finally {
    G.dispose();
  }
}

export async function run(argv: string[]): Promise<number> {
  try {
    return await evaluate(argv);
  } catch (e) {
    return report('eval', e);  // one line: usage errors exit 2, file errors 1 (README "Errors")
  }
}

async function evaluate(argv: string[]): Promise<number> {
  const { values: v, positionals: pos } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      n: { type: 'string', default: '256' }, pairs: { type: 'string', default: '200' }, seed: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false }, device: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (pos.length !== 2) throw new UsageError(`expected two inputs, REAL and FAKE, got ${pos.length}`);
  const n = Number(v.n), pairs = Number(v.pairs), seed = Number(v.seed);
  if (!(Number.isInteger(n) && n >= 2 && n <= 100000)) throw new UsageError(`--n must be an integer in 2..100000, got '${v.n}'`, '--n');
  if (!(Number.isInteger(pairs) && pairs >= 1 && pairs <= 1e6)) throw new UsageError(`--pairs must be a positive integer, got '${v.pairs}'`, '--pairs');
  if (!(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be a non-negative integer, got '${v.seed}'`, '--seed');
  const device = parseDevice(v.device);
  const real = loadImages(pos[0], n, seed, device), fake = loadImages(pos[1], n, seed + 1, device);
  const r = real.images, f = fake.images;
  if (r.c !== f.c || r.h !== f.h || r.w !== f.w)
    throw new FileError(pos[1], `holds ${f.w}×${f.h} images (${f.c} channel(s)) but ${pos[0]} holds ${r.w}×${r.h} (${r.c}); both sets must have the same size`);
  const t0 = Date.now();
  const q = evalQuality(r, f, { maxImages: n, pairs, seed });
  const secs = (Date.now() - t0) / 1000;
  if (v.json) {
    process.stdout.write(JSON.stringify({ real: pos[0], fake: pos[1], n: q.n, swd: q.swd.mean, swd_levels: q.swd.perLevel,
      swd_res: q.swd.resolutions, msssim: q.msssim, msssim_real: q.msssimReal, pairs, seed, seconds: secs }) + '\n');
    return 0;
  }
  const col = (xs: number[]) => xs.map((x) => x.toFixed(1).padStart(7)).join('');
  process.stdout.write(
    `real  ${pos[0]} (${real.what}, ${r.w}×${r.h})\n` +
    `fake  ${pos[1]} (${fake.what})\n` +
    `SWD ×10³ on ${q.n} images per set (lower is closer to real)\n` +
    `  level  ${q.swd.resolutions.map((x) => String(x).padStart(7)).join('')}   mean\n` +
    `         ${col(q.swd.perLevel)}  ${q.swd.mean.toFixed(1)}\n` +
    `MS-SSIM of ${pairs} random pairs (lower is more diverse): generated ${q.msssim.toFixed(3)}, real ${q.msssimReal.toFixed(3)}` +
    ` (${q.msssim - q.msssimReal >= 0 ? '+' : ''}${(q.msssim - q.msssimReal).toFixed(3)})\n` +
    `(${secs.toFixed(1)} s)\n`);
  return 0;
}
