// The training run (docs/design.md §4–§5): epochs over a dataset, checkpoints, samples, metrics and progress, around the
// steps of step.ts. Everything random comes from Philox streams (lib/util/streams.ts) whose offsets are
// checkpointed, and the data order of epoch e is a permutation seeded by (seed, e), so a run is deterministic on CPU
// and an interrupted run resumed from its checkpoint reproduces the uninterrupted one bit for bit — its records too.
//
// One iteration = one batch of real images: DCGAN does one D step and one G step (reusing the D step's fakes, as the
// PyTorch DCGAN example does); WGAN-GP does nCritic critic steps on that batch (fresh noise and ε each), then one G step.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, Device, Rng, defaultDevice } from '../engine';
import { ShardedRng } from './shard';
import { ImageBatch } from './image';
import { evalQuality, qualityRecord, realSubset, writeQualityCurve } from '../metrics/quality';
import { Sequential, Adam } from '../nn';
import { STREAMS } from '../util/streams';
import { buildModel, latentSize, ModelOptions } from '../models';
import { permutation } from '../data';
import { TrainConfig, checkDataset, ConfigError, syncBnOn } from './config';
import { StepModels, StepRngs, GradSync, dcganIteration, wganIteration, dcganDStep, criticStep, readScalars, disposeScalars, withFakes } from './step';
import { saveCheckpoint, findCheckpoint, loadCheckpointInto, TrainState, CHECKPOINT_VERSION } from './checkpoint';
import { JsonLines, readJsonLines, writeFileAtomic } from './fsutil';
import { writeImagePng, writeGridPng } from './image';
import { writeLossCurve } from './plot';
import { generate } from './generate';
import { FidEvaluator, FidTracker } from './fid';
import { EpochProgress } from './progress';

/** What the trainer reads: lib/data's Dataset satisfies it; tests pass tensors in memory. */
export interface ImageSource {
  readonly count: number;
  /** [count, C, H, W] */
  readonly shape: readonly [number, number, number, number];
  /** Images idx as one [idx.length, C, H, W] float32 batch in [-1, 1]. */
  batch(idx: ArrayLike<number>): Float32Array;
}

/** An in-memory source (tests, the demo without a dataset file). */
export function memorySource(data: Float32Array, shape: [number, number, number, number]): ImageSource {
  const per = shape[1] * shape[2] * shape[3];
  if (data.length !== shape[0] * per) throw new Error(`memorySource: ${data.length} values for shape [${shape}]`);
  return {
    count: shape[0], shape,
    batch(idx) {
      const out = new Float32Array(idx.length * per);
      for (let k = 0; k < idx.length; k++) out.set(data.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
      return out;
    },
  };
}

export { NonFiniteError } from './step';
import { NonFiniteError } from './step';
import { firstNonFiniteHost, publishedCheckpoint } from './errors';

export interface StepMetrics {
  epoch: number;
  iter: number;
  step: number;
  d_loss: number;
  g_loss: number;
  d_real: number;
  d_fake: number;
  gp?: number;
  grad_norm?: number;
  img_per_s: number;
}

export interface TrainerOptions {
  data: ImageSource;
  /** Dataset name for messages (file path). */
  dataName?: string;
  /** Run folder; null writes nothing (tests). */
  out: string | null;
  device?: Device;
  /** Progress display: 'auto' (bar on a TTY, lines otherwise), 'lines', or 'none'. */
  progress?: 'auto' | 'lines' | 'none';
  log?: (s: string) => void;
  /** Stop (return) after this many iterations of this call, as if killed — tests of resume. */
  stopAfter?: number;
  /** Called with each iteration's metrics. */
  onStep?: (m: StepMetrics) => void;
  /** Checked before each iteration: true stops after a checkpoint (SIGINT). */
  shouldStop?: () => boolean;
  /** Seconds: do not start an epoch that would end after this much time in this call (walltime limits, the demo). */
  timeLimit?: number;
  /** Data-parallel training: this process's rank among `size` (the CLI wires lib/dist in). */
  parallel?: Parallel;
  /** FID during training (rank 0; lib/train/fid.ts): its settings become cfg.fid. The caller disposes it. */
  fid?: FidEvaluator;
}

/**
 * One rank of a synchronous data-parallel run. cfg.batch is the global batch; this rank trains on its slice of each
 * global batch, with randomness keyed by global sample index (shard.ts), so the run computes what one process with
 * the same global batch computes. Only rank 0 writes (checkpoints, samples, records, progress); every rank reads the
 * run folder to resume.
 */
export interface Parallel {
  rank: number;
  size: number;
  /** The gradient reduction at the update seam (step.ts). */
  sync: GradSync;
  /** Element-wise sum over ranks of a small float64 array, in place (SyncBatchNorm, records, stop decisions). */
  sumScalars(v: Float64Array): void;
}

export class Trainer {
  readonly cfg: TrainConfig;
  readonly G: Sequential;
  readonly D: Sequential;
  readonly optG: Adam;
  readonly optD: Adam;
  readonly device: Device;
  readonly latent: number;
  readonly rng: StepRngs;
  /** This rank's samples of each global batch ([0, batch) in one process). */
  readonly shard: { start: number; count: number; global: number };
  /** Rank 0 (or the only process): the one that writes. */
  readonly writer: boolean;
  epoch = 0;
  iter = 0;
  step = 0;
  /** Set by requestStop() (SIGINT): the run checkpoints and returns before the next iteration. */
  stopRequested = false;
  private metrics: JsonLines | null = null;
  private history: { d: number[]; g: number[] } = { d: [], g: [] };
  /** The run's quality evaluations (metrics.jsonl 'eval' records), its fixed real subset and that subset's MS-SSIM. */
  private evals: Record<string, unknown>[] = [];
  private evalReal: { images: ImageBatch; msssim?: number } | null = null;
  /** FID records, curve and best checkpoints (rank 0 of a run with a folder and cfg.fid). */
  private fid: FidTracker | null = null;
  /** Step records of the current epoch before a mid-epoch resume: its epoch record covers the whole epoch. */
  private resumed = { d: 0, g: 0, n: 0, seconds: 0 };

  private constructor(cfg: TrainConfig, readonly o: TrainerOptions, init: boolean) {
    this.cfg = cfg = o.fid ? { ...cfg, fid: o.fid.settings } : cfg;
    this.device = o.device ?? defaultDevice();
    const [, c, h] = o.data.shape;
    checkDataset(cfg, { count: o.data.count, size: h, channels: c }, o.dataName ?? 'dataset');
    const par = o.parallel, size = par?.size ?? 1, rank = par?.rank ?? 0;
    if (cfg.batch % size !== 0)
      throw new ConfigError(`--batch ${cfg.batch} is the global batch and must be divisible by the ${size} ranks (e.g. --batch ${Math.max(size, Math.round(cfg.batch / size) * size)})`);
    const local = cfg.batch / size;
    this.shard = { start: rank * local, count: local, global: cfg.batch };
    this.writer = rank === 0;
    if (this.writer && o.out && cfg.fid && !o.fid) throw new ConfigError('the run evaluates FID (config fid) but no FidEvaluator was given (TrainerOptions.fid)');
    const seed = cfg.seed, sharded = (stream: number): ShardedRng => {
      const r = new ShardedRng(seed, stream);
      r.shard = this.shard;
      return r;
    };
    this.rng = {
      noise: sharded(STREAMS.noise), labels: sharded(STREAMS.labels), gp: sharded(STREAMS.gp),
      dropG: sharded(STREAMS.generatorDropout), dropD: sharded(STREAMS.discriminatorDropout),
    };
    const mo = modelOptions(cfg, this.device);
    if (par && size > 1 && syncBnOn(cfg)) mo.syncBn = (v) => par.sumScalars(v);
    this.G = buildModel(cfg.arch, 'generator', { ...mo, dropoutRng: this.rng.dropG, init });
    this.D = buildModel(cfg.arch, cfg.model === 'wgan-gp' ? 'critic' : 'discriminator', { ...mo, dropoutRng: this.rng.dropD, init });
    this.latent = latentSize(cfg.arch, mo);
    this.optG = new Adam(this.G.params(), { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2 });
    this.optD = new Adam(this.D.params(), { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2 });
  }

  /** A fresh run. */
  static create(cfg: TrainConfig, o: TrainerOptions): Trainer {
    const t = new Trainer(cfg, o, true);
    if (o.out && t.writer) {
      fs.mkdirSync(path.join(o.out, 'samples'), { recursive: true });
      if (fs.existsSync(path.join(o.out, 'checkpoints', 'latest.json')))
        throw new ConfigError(`${o.out} already holds a run; pass --resume to continue it, or choose another --out`);
      writeFileAtomic(path.join(o.out, 'config.json'), JSON.stringify(t.cfg, null, 1) + '\n');
      t.metrics = new JsonLines(path.join(o.out, 'metrics.jsonl'), false);
      if (o.fid) t.fid = new FidTracker(o.fid, o.out);
    }
    return t;
  }

  /** Continues the run in o.out from its latest checkpoint; `epochs` may extend it. */
  static resume(o: TrainerOptions, epochs?: number): Trainer {
    if (!o.out) throw new Error('resume needs a run folder');
    const { dir, state } = findCheckpoint(o.out);
    const cfg = { ...state.config, ...(epochs ? { epochs } : {}) };
    const t = new Trainer(cfg, o, false);
    loadCheckpointInto(dir, t.G, t.D, t.optG, t.optD, state);
    t.epoch = state.epoch;
    t.iter = state.iter;
    t.step = state.step;
    for (const [k, v] of Object.entries(state.rng)) t.rng[k as keyof StepRngs].offset = v;
    // metrics after the checkpoint belong to the lost part of the run
    if (!t.writer) return t;
    if (o.fid) t.fid = new FidTracker(o.fid, o.out, state.step); // refuses a best list of other settings before any write
    const file = path.join(o.out, 'metrics.jsonl');
    const kept = readJsonLines(file).filter((r) => (r.step as number) <= state.step);
    writeFileAtomic(file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    for (const r of kept) {
      if (r.type === 'eval') t.evals.push(r);
      if (r.type !== 'step') continue;
      t.history.d.push(r.d_loss as number);
      t.history.g.push(r.g_loss as number);
      if (r.epoch === state.epoch) {
        t.resumed.d += r.d_loss as number;
        t.resumed.g += r.g_loss as number;
        t.resumed.n++;
        t.resumed.seconds += t.cfg.batch / (r.img_per_s as number);
      }
    }
    t.metrics = new JsonLines(file, true);
    t.fid?.restore(kept, state.step, dir);
    return t;
  }

  requestStop(): void { this.stopRequested = true; }

  get itersPerEpoch(): number { return Math.floor(this.o.data.count / this.cfg.batch); }

  state(): TrainState {
    const rng: Record<string, number> = {};
    for (const [k, r] of Object.entries(this.rng)) rng[k] = r.offset;
    return { version: CHECKPOINT_VERSION, epoch: this.epoch, iter: this.iter, step: this.step, optG: this.optG.steps,
      optD: this.optD.steps, rng, config: this.cfg, time: new Date().toISOString() };
  }

  checkpoint(): string | null {
    if (!this.o.out || !this.writer) return null;
    return saveCheckpoint(this.o.out, { G: this.G, D: this.D, optG: this.optG, optD: this.optD, state: this.state() });
  }

  /** Trains until cfg.epochs are done (or stopAfter / shouldStop). Returns the iterations run by this call. */
  async run(): Promise<number> {
    const out = this.o.log ?? ((s: string) => process.stdout.write(s + '\n'));
    const log = (s: string): void => { if (this.writer) out(s); };
    const nIt = this.itersPerEpoch;
    const start = Date.now();
    let done = 0, lastEpoch = 0;
    while (this.epoch < this.cfg.epochs) {
      if (this.o.timeLimit !== undefined && this.iter === 0 && this.agree((Date.now() - start) / 1000 + lastEpoch > this.o.timeLimit)) {
        log(`time limit of ${this.o.timeLimit} s reached after epoch ${this.epoch}; continue with --resume`);
        return done;
      }
      const order = permutation(this.o.data.count, epochSeed(this.cfg.seed, this.epoch));
      const mode = this.o.progress ?? 'auto';
      const bar = new EpochProgress(this.epoch + 1, this.cfg.epochs, nIt, { quiet: mode === 'none' || !this.writer, tty: mode === 'lines' ? false : undefined });
      const t0 = Date.now(), sums = { ...this.resumed };
      this.resumed = { d: 0, g: 0, n: 0, seconds: 0 };
      try {
        while (this.iter < nIt) {
          if (this.o.stopAfter !== undefined && done >= this.o.stopAfter) return done; // as if killed: no checkpoint
          if (this.agree(this.stopRequested || !!this.o.shouldStop?.())) {
            if (done > 0) this.checkpoint();
            return done;
          }
          const t1 = Date.now();
          const at = this.iter * this.cfg.batch + this.shard.start;
          const idx = order.subarray(at, at + this.shard.count); // this rank's slice of the global batch
          const host = this.o.data.batch(idx);
          const real = Tensor.fromArray(host, [idx.length, ...this.o.data.shape.slice(1)], this.device);
          let m: Omit<StepMetrics, 'epoch' | 'iter' | 'step' | 'img_per_s'>;
          try {
            const it = this.cfg.model === 'dcgan' ? dcganIteration : wganIteration;
            const sc = it(this.models, real, this.step + 1);
            try { m = this.meanOverRanks(readScalars(sc)) as typeof m; } finally { disposeScalars(sc); } // the iteration's one read
          } catch (e) {
            if (!(e instanceof NonFiniteError)) throw e;
            // say whether the data itself was bad, and whether a checkpoint exists to resume from
            const bad = firstNonFiniteHost(host), per = host.length / idx.length;
            throw new NonFiniteError(e.step, e.what, {
              badData: bad >= 0 ? `${this.o.dataName ?? 'dataset'} image ${idx[Math.floor(bad / per)]}` : null,
              checkpoint: publishedCheckpoint(this.o.out ?? undefined),
            });
          } finally {
            real.dispose();
          }
          this.iter++;
          this.step++;
          done++;
          const ips = this.cfg.batch / Math.max(1e-3, (Date.now() - t1) / 1000);
          const rec: StepMetrics = { epoch: this.epoch, iter: this.iter, step: this.step, ...m, img_per_s: ips };
          this.metrics?.write({ type: 'step', ...rec, time: Date.now() / 1000 });
          this.history.d.push(m.d_loss);
          this.history.g.push(m.g_loss);
          sums.d += m.d_loss; sums.g += m.g_loss; sums.n++;
          this.o.onStep?.(rec);
          bar.update(this.iter, { d: m.d_loss, g: m.g_loss, imgPerSec: ips });
          if (this.cfg.checkpointEvery > 0 && this.step % this.cfg.checkpointEvery === 0 && this.iter < nIt) this.checkpoint();
          await new Promise((r) => setImmediate(r)); // let the bar draw, signals arrive and finalizers run
        }
      } finally {
        bar.stop();
      }
      this.epoch++;
      this.iter = 0;
      const secs = sums.seconds + (Date.now() - t0) / 1000;
      lastEpoch = secs;
      this.metrics?.write({ type: 'epoch', epoch: this.epoch, step: this.step, d_loss: sums.d / Math.max(1, sums.n),
        g_loss: sums.g / Math.max(1, sums.n), seconds: secs, img_per_s: (sums.n * this.cfg.batch) / Math.max(1e-3, secs), time: Date.now() / 1000 });
      this.writeSamples();
      this.evaluate(secs, log);
      let fid = this.fid?.evaluate(this.G, this.cfg, this.latent, this.device, this.epoch, this.step, (r) => this.metrics?.write(r)) ?? '';
      const ck = this.checkpoint();
      fid += this.fid?.afterCheckpoint(ck) ?? '';
      if (this.o.out) log(`epoch ${this.epoch}/${this.cfg.epochs} done in ${secs.toFixed(1)} s: D ${(sums.d / Math.max(1, sums.n)).toFixed(4)}, G ${(sums.g / Math.max(1, sums.n)).toFixed(4)}${fid}; checkpoint ${ck ? path.relative(this.o.out, ck) : '-'}`);
    }
    return done;
  }

  /** A decision every rank takes together: true if any rank says so (one process: b itself). */
  private agree(b: boolean): boolean {
    const p = this.o.parallel;
    if (!p || p.size === 1) return b;
    const v = Float64Array.of(b ? 1 : 0);
    p.sumScalars(v);
    return v[0] > 0;
  }

  /** The iteration's scalars averaged over ranks (each is a mean over an equal local batch: the global mean). */
  private meanOverRanks(r: Record<string, number>): Record<string, number> {
    const p = this.o.parallel;
    if (!p || p.size === 1) return r;
    const keys = Object.keys(r).sort(), v = Float64Array.from(keys.map((k) => r[k]));
    p.sumScalars(v);
    return Object.fromEntries(keys.map((k, i) => [k, v[i] / p.size]));
  }

  /** The models, optimizers and streams as step.ts takes them. */
  get models(): StepModels {
    return { cfg: this.cfg, G: this.G, D: this.D, optG: this.optG, optD: this.optD, device: this.device, latent: this.latent,
      rng: this.rng, sync: this.o.parallel?.sync };
  }

  /** One discriminator/critic update only (G frozen), for tests and diagnostics; returns its loss. */
  discriminatorStep(real: Tensor): number {
    const m = this.models, step = this.step + 1;
    const sc = this.cfg.model === 'wgan-gp' ? criticStep(m, real, step)
      : withFakes(m, real.shape[0], (fake) => dcganDStep(m, real, fake, step));
    try { return readScalars(sc).d_loss; } finally { disposeScalars(sc); }
  }

  /**
   * Weight-free quality after epoch 1, every cfg.evalEvery epochs and at the end (rank 0): SWD and MS-SSIM diversity
   * of 256 images from G (their own noise stream) against a fixed seeded subset of the data, recorded in
   * metrics.jsonl ('eval') and drawn in quality.png. No state changes: the run is the same with or without it.
   */
  private evaluate(seconds: number, log: (s: string) => void): void {
    const every = this.cfg.evalEvery ?? 0;
    if (!this.o.out || !this.writer || every <= 0) return;
    if (!(this.epoch === 1 || this.epoch % every === 0 || this.epoch === this.cfg.epochs)) return;
    const t0 = Date.now();
    this.evalReal ??= { images: realSubset(this.o.data, 256, this.cfg.seed) };
    const fake = generate(this.G, this.cfg, this.latent, this.evalReal.images.n, new Rng(this.cfg.seed, STREAMS.evalNoise), this.device);
    const q = evalQuality(this.evalReal.images, fake, { maxImages: 256, pairs: 200, seed: this.cfg.seed, msssimReal: this.evalReal.msssim });
    this.evalReal.msssim = q.msssimReal;
    const rec = qualityRecord(q, this.epoch, this.step, seconds);
    this.metrics?.write(rec);
    this.evals.push(rec);
    writeQualityCurve(path.join(this.o.out, 'quality.png'), this.evals as unknown as Parameters<typeof writeQualityCurve>[1]);
    log(`epoch ${this.epoch}: SWD×10³ ${q.swd.mean.toFixed(1)} [${q.swd.perLevel.map((v) => v.toFixed(1)).join(' ')}], ` +
      `MS-SSIM generated ${q.msssim.toFixed(3)} / real ${q.msssimReal.toFixed(3)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  /** Fixed-noise samples (BN batch statistics, no dropout, no state changes): image, 8×8 grid, loss curve. */
  writeSamples(): void {
    if (!this.o.out || !this.writer) return;
    const dir = path.join(this.o.out, 'samples'), tag = String(this.epoch).padStart(3, '0');
    const b = generate(this.G, this.cfg, this.latent, 64, new Rng(this.cfg.seed, STREAMS.fixedNoise), this.device);
    writeImagePng(path.join(dir, `epoch-${tag}.png`), b, 0);
    writeGridPng(path.join(dir, `grid-${tag}.png`), b, 8, 8);
    const series = [{ name: 'D', values: this.history.d, color: [200, 30, 30] as [number, number, number] },
      { name: 'G', values: this.history.g, color: [30, 60, 200] as [number, number, number] }];
    writeLossCurve(path.join(dir, `loss-${tag}.png`), series);
    writeLossCurve(path.join(this.o.out, 'loss.png'), series);
  }

  close(): void {
    this.metrics?.close();
    this.metrics = null;
  }

  dispose(): void {
    this.close();
    this.optG.dispose();
    this.optD.dispose();
    this.G.dispose();
    this.D.dispose();
  }
}

export { generate } from './generate';

export const epochSeed = (seed: number, epoch: number): number => (Math.imul(seed + 1, 0x9e3779b1) + epoch) >>> 0;

export function modelOptions(cfg: TrainConfig, device: Device): ModelOptions {
  return {
    size: cfg.size, channels: cfg.channels, dropout: cfg.dropout, device, seed: cfg.seed,
    ...(cfg.latent !== null ? { latent: cfg.latent } : {}), ...(cfg.width !== null ? { width: cfg.width } : {}),
  };
}
