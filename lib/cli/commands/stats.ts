// mrigan stats: InceptionV3 feature statistics (mu, sigma, n) of an image set as a pytorch-fid compatible .npz.
// Also the input handling shared with `mrigan fid`: PNG folders, dataset files, .npz statistics.
import { parseArgs } from 'util';
import * as fs from 'fs';
import * as path from 'path';
import { Device, Rng } from '../../engine';
import { buildModel, latentSize } from '../../models';
import { loadCheckpointInto } from '../../train/checkpoint';
import { isCheckpointPath, locateCheckpoint } from '../../train/locate';
import { generate, modelOptions } from '../../train/run';
import { STREAMS } from '../../util/streams';
import { FileError, UsageError } from '../../util/errors';
import { parseDevice } from '../../util/device';
import { report } from '../errors';
import { openDataset, pngSources, readPngGray } from '../../data';
import {
  GaussianStats, InceptionMode, InceptionModel, StatsAccumulator, inceptionFeatures, loadInceptionV3, modeForWeights,
  FidPreprocess, readFidStatsMeta, writeFidStats,
} from '../../metrics';

export const summary = 'InceptionV3 feature statistics (mu, sigma) of PNGs or a dataset file, as a pytorch-fid .npz';

export const RUN_HELP = `
run folders (generated images):
  --n N                 images generated from a run folder's checkpoint (default: 1000)
  --seed S              noise seed (default: 0); the images equal those of mrigan sample --n N --seed S
  --bn batch|running    generator BatchNorm statistics, as mrigan sample (default: batch)
`;

const HELP = `usage: mrigan stats INPUT --weights FILE.h5 --out STATS.npz [options]

  INPUT                 a folder of PNG slices (searched recursively, read as gray, all one size), a
                        dataset file (mrigan prepare / mrigan sample) or a run folder of mrigan train (--n
                        images are generated from its latest checkpoint, as mrigan sample --n N --seed S does;
                        RUN/checkpoints/best or a checkpoint folder step-N picks another)
  --weights FILE.h5     Keras InceptionV3 notop weights (required): ImageNet
                        inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 or RadImageNet
                        RadImageNet-InceptionV3_notop.h5 (README says where to get them)
  --preprocess P        imagenet | radimagenet: the input pipeline of the weight set (default: imagenet)
  --out FILE.npz        mu, sigma (pytorch-fid / clean-fid layout) and n, written atomically (required)
  --batch N             images per forward pass (default: 16)
  --device D            cpu, cuda or cuda:N (default: MRIGAN_DEVICE, else the first GPU, else cpu)
  --div N               channel divisor of a reduced stand-in network (tests only; default: 1)
  --json                print the result as JSON (default: false)
${RUN_HELP}`;

export { parseDevice };

export interface FeatureInput {
  arg: string;
  kind: 'png' | 'dataset' | 'npz' | 'run';
  /** Images (not for npz). */
  count: number;
  /** Reads images [lo, hi) as [k, 1, h, w] with their value range. */
  read?(lo: number, hi: number): { data: Float32Array; shape: number[]; inputRange: '[-1,1]' | '[0,255]' };
  close(): void;
}

export interface RunOptions { n: number; seed: number; bn: 'batch' | 'running'; device: Device }

/** A PNG folder, a dataset file, an .npz or a run folder; `what` names the argument in errors (INPUT, REAL, FAKE). */
export function openInput(arg: string, what: string, run?: RunOptions): FeatureInput {
  let st: fs.Stats;
  try { st = fs.statSync(arg); } catch { throw new FileError(arg, `${what} does not exist`); }
  if (isCheckpointPath(arg)) {
    if (!run) throw new UsageError(`${what} is a run folder; generating images needs --n (${arg})`, '--n');
    return openRun(arg, run);
  }
  if (st.isDirectory()) {
    const files = pngSources(arg).map((s) => s.path);
    const first = readPngGray(files[0]);
    return {
      arg, kind: 'png', count: files.length, close: () => {},
      read(lo, hi) {
        const hw = first.width * first.height, data = new Float32Array((hi - lo) * hw);
        for (let i = lo; i < hi; i++) {
          const p = i === 0 ? first : readPngGray(files[i]);
          if (p.width !== first.width || p.height !== first.height) {
            throw new FileError(files[i], `${what}: ${p.width}×${p.height}, but ${files[0]} is ${first.width}×${first.height}; all images of a set must have one size`);
          }
          data.set(p.data, (i - lo) * hw);
        }
        return { data, shape: [hi - lo, 1, first.height, first.width], inputRange: '[0,255]' };
      },
    };
  }
  if (/\.npz$/i.test(arg)) return { arg, kind: 'npz', count: 0, close: () => {} };
  const ds = openDataset(arg);
  return {
    arg, kind: 'dataset', count: ds.count, close: () => ds.close(),
    read(lo, hi) {
      const idx = Array.from({ length: hi - lo }, (_, k) => lo + k);
      return { data: ds.batch(idx), shape: [hi - lo, ...ds.shape.slice(1)], inputRange: '[-1,1]' };
    },
  };
}

/** Images generated from a run's checkpoint (lib/train/locate.ts), in the chunks of up to 64 that mrigan sample uses (so the same
 *  --n and --seed give the same images); read() must be called in increasing order (featuresOf does). */
function openRun(arg: string, o: RunOptions): FeatureInput {
  const ck = locateCheckpoint(arg);
  const cfg = ck.state.config, mo = { ...modelOptions(cfg, o.device), init: false };
  const G = buildModel(cfg.arch, 'generator', mo);
  try { loadCheckpointInto(ck.dir, G, null, null, null, ck.state); } catch (e) { G.dispose(); throw e; }
  const rng = new Rng(o.seed, STREAMS.sample), latent = latentSize(cfg.arch, mo), chunks = Math.ceil(o.n / 64);
  const per = cfg.channels * cfg.size * cfg.size;
  let c = 0, bufLo = 0, buf = new Float32Array(0);
  return {
    arg, kind: 'run', count: o.n, close: () => G.dispose(),
    read(lo, hi) {
      const out = new Float32Array((hi - lo) * per);
      for (let i = lo; i < hi; i++) {
        while (i >= bufLo + buf.length / per) {
          if (i < bufLo || c >= chunks) throw new Error(`run input: image ${i} requested out of order`);
          bufLo += buf.length / per;
          const k = Math.floor((o.n * (c + 1)) / chunks) - bufLo;
          buf = generate(G, cfg, latent, k, rng, o.device, o.bn).data;
          c++;
        }
        out.set(buf.subarray((i - bufLo) * per, (i - bufLo + 1) * per), (i - lo) * per);
      }
      return { data: out, shape: [hi - lo, cfg.channels, cfg.size, cfg.size], inputRange: '[-1,1]' };
    },
  };
}

export const RUN_OPTIONS = {
  n: { type: 'string', default: '1000' }, seed: { type: 'string', default: '0' }, bn: { type: 'string', default: 'batch' },
} as const;

export function runOptions(v: { n?: string; seed?: string; bn?: string }, device: Device): RunOptions {
  const n = positiveInt(v.n!, '--n'), seed = Number(v.seed);
  if (!(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be a non-negative integer, got '${v.seed}'`, '--seed');
  if (v.bn !== 'batch' && v.bn !== 'running') throw new UsageError(`--bn must be batch or running, got '${v.bn}'`, '--bn');
  return { n, seed, bn: v.bn, device };
}

/** Features n × d of an image input, read and run in batches. */
export function featuresOf(m: InceptionModel, input: FeatureInput, mode: InceptionMode, batch: number): Float64Array {
  if (!input.read) throw new FileError(input.arg, 'holds statistics, not images');
  if (input.count < 2) throw new FileError(input.arg, `has ${input.count} image(s); statistics need at least 2`);
  const out = new Float64Array(input.count * m.features);
  const chunk = Math.max(batch, 64);
  for (let lo = 0; lo < input.count; lo += chunk) {
    const hi = Math.min(input.count, lo + chunk), b = input.read(lo, hi);
    out.set(inceptionFeatures(m, b.data, b.shape, { mode, batch, inputRange: b.inputRange }), lo * m.features);
  }
  return out;
}

export const statsOfFeatures = (f: Float64Array, d: number): GaussianStats => new StatsAccumulator(d).add(f, f.length / d).finalize();

/** Mode and a description of the preprocessing for the printed results. */
export function preprocessing(p: string | undefined): { name: PreprocessName; mode: InceptionMode; description: string } {
  const name = p ?? 'imagenet';
  if (name !== 'imagenet' && name !== 'radimagenet') throw new UsageError(`--preprocess must be imagenet or radimagenet, got '${name}'`, '--preprocess');
  const mode = modeForWeights(name);
  const description = mode === 'tf'
    ? "imagenet (Keras 'tf' mode: [0,255], bilinear to 299×299, gray→RGB, x/127.5 − 1)"
    : "radimagenet (Keras 'caffe' mode ÷255: [0,255], bilinear to 299×299, gray→RGB→BGR, minus ImageNet BGR means, ÷255)";
  return { name, mode, description };
}

export function positiveInt(v: string, opt: string): number {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`${opt} must be a positive integer, got '${v}'`, opt);
  return n;
}

export async function loadWeights(file: string | undefined, div: number, device: Device): Promise<InceptionModel> {
  if (!file) throw new UsageError('--weights FILE.h5 is required for images', '--weights');
  return loadInceptionV3(file, { div, device });
}

/** Runs body; a failure becomes the one-line report of lib/cli/errors.ts (usage errors exit 2, the rest 1), also
 *  when the command is called in-process rather than through main.ts. */
export async function guarded(cmd: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    return report(cmd, e);
  }
}

// Our .npz files also hold `preprocess` and `inception_sha256` (lib/metrics/npz.ts) so that a later `mrigan fid` or
// `mrigan train --fid-real` can print them and refuse to compare statistics made with another pipeline or network;
// pytorch-fid / clean-fid ignore the extra keys.
export type PreprocessName = FidPreprocess;

/** Writes mu, sigma, n, the preprocessing and the weights fingerprint to `file` (temp file, then rename). */
export function writeStatsFile(file: string, s: GaussianStats, pre: PreprocessName, weights?: string): void {
  const tmp = `${file}.tmp-${process.pid}.npz`;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFidStats(tmp, { mu: s.mu, sigma: s.sigma, n: s.n, preprocess: pre, ...(weights ? { weights } : {}) });
  fs.renameSync(tmp, file);
}

/** .npz statistics, their recorded preprocessing (null when the file has none) and weights fingerprint (null when
 *  none); a malformed file is a FileError. */
export function readStats(input: FeatureInput): { mu: Float64Array; sigma: Float64Array; d: number; n?: number; preprocess: PreprocessName | null; weights: string | null } {
  const st = readFidStatsMeta(input.arg);
  return { ...st, preprocess: st.preprocess ?? null, weights: st.weights ?? null };
}

export async function run(argv: string[]): Promise<number> {
  return guarded('stats', async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv, allowPositionals: true,
        options: {
          weights: { type: 'string' }, preprocess: { type: 'string' }, out: { type: 'string' }, batch: { type: 'string', default: '16' },
          device: { type: 'string' }, div: { type: 'string', default: '1' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
          ...RUN_OPTIONS,
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values: v, positionals } = parsed;
    if (v.help) { process.stdout.write(HELP); return 0; }
    if (positionals.length !== 1) throw new UsageError(`expected one INPUT, got ${positionals.length}`);
    if (!v.out) throw new UsageError('--out STATS.npz is required', '--out');
    const pre = preprocessing(v.preprocess), batch = positiveInt(v.batch!, '--batch'), div = positiveInt(v.div!, '--div');
    const device = parseDevice(v.device);
    const input = openInput(positionals[0], 'INPUT', runOptions(v, device));
    try {
      if (input.kind === 'npz') throw new FileError(input.arg, 'INPUT is already statistics; mrigan stats needs images');
      const m = await loadWeights(v.weights, div, device);
      try {
        const s = statsOfFeatures(featuresOf(m, input, pre.mode, batch), m.features);
        writeStatsFile(v.out, s, pre.name, m.fingerprint);
        const res = { input: input.arg, kind: input.kind, n: s.n, d: s.d, out: v.out, weights: v.weights, preprocess: pre.name, preprocessing: pre.description };
        if (v.json) process.stdout.write(`${JSON.stringify(res)}\n`);
        else process.stdout.write(`${s.n} images (${input.kind}) → ${v.out}: mu, sigma of ${s.d}-d InceptionV3 features\npreprocessing: ${pre.description}\n`);
        return 0;
      } finally { m.dispose(); }
    } finally { input.close(); }
  });
}
