// mrigan sample: images from a run's generator (latest checkpoint), as PNGs and one dataset file (for FID).
import { parseArgs } from 'util';
import { usageFail } from '../errors';
import * as path from 'path';
import { Rng, Device } from '../../engine';
import { parseDevice } from '../../util/device';
import { buildModel, latentSize } from '../../models';
import { DatasetWriter } from '../../data';
import { loadCheckpointInto } from '../../train/checkpoint';
import { locateCheckpoint } from '../../train/locate';
import { generate, modelOptions } from '../../train/run';
import { STREAMS } from '../../util/streams';
import { imagePng, gridPng } from '../../train/image';
import { writeFileAtomic, mkdirs, removeStaleTempsIn } from '../../util/fs';

export const summary = 'generate images from a training run\'s latest, best or chosen checkpoint (PNGs and a dataset file)';

const HELP = `usage: mrigan sample --checkpoint RUN_DIR --out DIR [options]

  --checkpoint PATH     a run folder of mrigan train (its latest checkpoint), RUN_DIR/checkpoints/best (the best
                        by FID, kept by train --fid-every) or one checkpoint folder such as
                        RUN_DIR/checkpoints/best/step-00001200 (required)
  --out DIR             output folder: sample-00000.png ..., grid.png, samples.mrigan (required)
  --n N                 number of images (default: 64)
  --seed S              noise seed; the same seed gives the same images (default: 0)
  --no-png              only the dataset file (default: PNGs too)
  --bn batch|running    BatchNorm statistics: of each chunk of up to 64 images (as the training samples and the
                        PyTorch DCGAN example) or the running ones (eval mode) (default: batch)
  --device D            cpu, cuda or cuda:N (default: MRIGAN_DEVICE, else the first GPU, else cpu)

Dropout is off. Images depend on --seed and --n only (the same seed and n give the same images). samples.mrigan is a dataset file
(docs/dataset-format.md, float32, 1 channel) that mrigan's FID tools read like a prepared dataset.
`;

export async function run(argv: string[]): Promise<number> {
  const fail = (msg: string): number => usageFail('sample', msg);
  const v = parseArgs({
      args: argv,
      options: {
        checkpoint: { type: 'string' }, out: { type: 'string' }, n: { type: 'string', default: '64' },
        seed: { type: 'string', default: '0' }, 'no-png': { type: 'boolean', default: false }, bn: { type: 'string', default: 'batch' }, device: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
  }).values;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!v.checkpoint) return fail('--checkpoint RUN_DIR (or a checkpoint folder) is required');
  if (!v.out) return fail('--out DIR is required');
  const n = Number(v.n), seed = Number(v.seed);
  if (!(Number.isInteger(n) && n >= 1 && n <= 1_000_000)) return fail(`--n must be a positive integer, got '${v.n}'`);
  if (!(Number.isInteger(seed) && seed >= 0)) return fail(`--seed must be a non-negative integer, got '${v.seed}'`);
  if (v.bn !== 'batch' && v.bn !== 'running') return fail(`--bn must be batch or running, got '${v.bn}'`);
  let device: Device;
  try { device = parseDevice(v.device); } catch (e) { return fail((e as Error).message); }
  const ck = locateCheckpoint(v.checkpoint);
  const cfg = ck.state.config;
  const mo = { ...modelOptions(cfg, device), init: false };
  const G = buildModel(cfg.arch, 'generator', mo);
  try {
    loadCheckpointInto(ck.dir, G, null, null, null, ck.state);
    mkdirs(v.out);
    removeStaleTempsIn(v.out); // PNG temps of a sample run that was killed
    const plane = cfg.size * cfg.size, per = cfg.channels * plane;
    const w = cfg.channels === 1 ? new DatasetWriter(path.join(v.out, 'samples.mrigan'), {
      shape: [n, 1, cfg.size, cfg.size], dtype: 'float32', created: new Date().toISOString(), tool: 'mrigan sample',
      recipe: { generator: ck.dir, step: ck.state.step, epoch: ck.state.epoch, seed, arch: cfg.arch, model: cfg.model, bn: v.bn },
      sources: [], slices: Array.from({ length: n }, (_, i) => ({ subject: 'generated', contrast: 'synthetic', slice: i, source: -1 })),
    }) : null;
    // chunks of up to 64 (the same partition as generate() uses in one call), streamed to disk
    const rng = new Rng(seed, STREAMS.sample), latent = latentSize(cfg.arch, mo), chunks = Math.ceil(n / 64);
    const grid = new Float32Array(Math.min(n, 64) * per);
    try {
      for (let c = 0, at = 0; c < chunks; c++) {
        const k = Math.floor((n * (c + 1)) / chunks) - at;
        const b = generate(G, cfg, latent, k, rng, device, v.bn as 'batch' | 'running');
        for (let i = 0; i < k; i++) {
          if (!v['no-png']) writeFileAtomic(path.join(v.out, `sample-${String(at + i).padStart(5, '0')}.png`), imagePng(b, i));
          if (w) w.writeSlice(at + i, b.data.subarray(i * plane, (i + 1) * plane));
          if (at + i < 64) grid.set(b.data.subarray(i * per, (i + 1) * per), (at + i) * per);
        }
        at += k;
      }
      if (!v['no-png']) writeFileAtomic(path.join(v.out, 'grid.png'), gridPng({ data: grid, n: Math.min(n, 64), c: cfg.channels, h: cfg.size, w: cfg.size }, 8, 8));
      w?.commit();
    } catch (e) {
      w?.abort();
      throw e;
    }
    process.stdout.write(`${n} images from ${path.relative(process.cwd(), ck.dir) || ck.dir} (${ck.how}; epoch ${ck.state.epoch}, step ${ck.state.step}) → ${v.out}\n`);
    return 0;
  } finally {
    G.dispose();
  }
}
